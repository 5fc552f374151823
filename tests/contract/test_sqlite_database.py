"""What the SQLite database promises beyond the ports: WAL, locks, migrations."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from nerava.adapters.migrations import Migration, load_migrations
from nerava.adapters.sqlite import SqliteDatabase
from nerava.adapters.sqlite.connection import unavailable_as_dependency
from nerava.adapters.sqlite.migrate import MIGRATIONS_PACKAGE, apply_migrations
from nerava.adapters.sqlite.writer import CHECKPOINT_EVERY
from nerava.domain.errors import DependencyUnavailable
from tests.contract.examples import a_session, stopped


@pytest.fixture
async def sqlite_db(sqlite_path: str) -> AsyncIterator[SqliteDatabase]:
    """An open SQLite database that gives up on a lock after 100 ms."""
    db = SqliteDatabase(sqlite_path, busy_timeout_ms=100)
    await db.open()
    yield db
    await db.close()


def _tables(path: str) -> set[str]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")
        return {row[0] for row in rows}


def _applied(path: str) -> list[str]:
    with sqlite3.connect(path) as db:
        return [r[0] for r in db.execute("SELECT name FROM schema_migrations")]


async def test_migrate_applies_each_migration_once(tmp_path: Path) -> None:
    db = SqliteDatabase(str(tmp_path / "new.db"))

    first = await db.migrate()
    second = await db.migrate()

    assert first == [m.name for m in load_migrations(MIGRATIONS_PACKAGE)]
    assert first[0] == "0001_initial"
    assert second == []


async def test_concurrent_migrators_apply_each_migration_once(tmp_path: Path) -> None:
    path = str(tmp_path / "new.db")

    results = await asyncio.gather(*(SqliteDatabase(path).migrate() for _ in range(4)))

    assert sorted(name for applied in results for name in applied) == [
        m.name for m in load_migrations(MIGRATIONS_PACKAGE)
    ]


async def test_a_failing_migration_leaves_the_database_as_it_was(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "new.db")
    broken = Migration(
        "0002_broken",
        "CREATE TABLE half_done (id INTEGER);\nINSERT INTO nowhere VALUES (1);\n",
    )

    with pytest.raises(sqlite3.OperationalError, match="nowhere"):
        apply_migrations(path, [*load_migrations(MIGRATIONS_PACKAGE), broken])

    assert "half_done" not in _tables(path)
    assert _applied(path) == ["0001_initial"]


async def test_a_deleted_default_window_never_comes_back(sqlite_path: str) -> None:
    db = SqliteDatabase(sqlite_path)
    await db.open()
    async with db.unit_of_work() as uow:
        await uow.windows.delete("solar_surplus")
        await uow.commit()
    await db.close()

    await db.migrate()
    await db.open()
    async with db.unit_of_work(readonly=True) as uow:
        windows = await uow.windows.list()
    await db.close()

    assert [w.id for w in windows] == ["green_hour"]


async def test_opening_an_unmigrated_file_is_refused(tmp_path: Path) -> None:
    db = SqliteDatabase(str(tmp_path / "empty.db"))

    with pytest.raises(DependencyUnavailable, match="nerava migrate"):
        await db.open()


async def test_the_file_runs_in_wal_mode_with_the_chosen_synchronous(
    sqlite_path: str,
) -> None:
    db = SqliteDatabase(sqlite_path, synchronous="full")
    await db.open()

    async with db.unit_of_work() as uow:
        mode = await uow.read(lambda c: c.execute("PRAGMA journal_mode").fetchone())
        sync = await uow.read(lambda c: c.execute("PRAGMA synchronous").fetchone())
        keys = await uow.read(lambda c: c.execute("PRAGMA foreign_keys").fetchone())
    await db.close()

    assert (mode[0], sync[0], keys[0]) == ("wal", 2, 1)


def test_an_unknown_synchronous_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="synchronous"):
        SqliteDatabase("x.db", synchronous="SOMETIMES")


async def test_a_locked_out_write_is_unavailable_while_the_loop_runs_on(
    sqlite_db: SqliteDatabase,
) -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    other = sqlite3.connect(sqlite_db.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    ticker = asyncio.create_task(tick())
    try:
        with pytest.raises(DependencyUnavailable, match="locked"):
            async with sqlite_db.unit_of_work() as uow:
                await uow.sessions.add(a_session())
    finally:
        ticker.cancel()
        other.rollback()
        other.close()

    assert ticks >= 5


async def test_a_write_waits_for_another_process_to_let_go_of_the_lock(
    sqlite_path: str,
) -> None:
    db = SqliteDatabase(sqlite_path, busy_timeout_ms=2000)
    await db.open()
    other = sqlite3.connect(sqlite_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    asyncio.get_running_loop().call_later(0.1, other.rollback)
    try:
        async with db.unit_of_work() as uow:
            await uow.sessions.add(a_session())
            await uow.commit()
        async with db.unit_of_work(readonly=True) as uow:
            saved = await uow.sessions.get("ses_1")
    finally:
        other.close()
        await db.close()

    assert saved == a_session()


async def test_the_log_is_checkpointed_into_the_file_as_commits_go_by(
    sqlite_db: SqliteDatabase,
) -> None:
    def log_size() -> int:
        return os.stat(f"{sqlite_db.path}-wal").st_size

    async def commit_sessions(first: int, count: int) -> None:
        for n in range(first, first + count):
            async with sqlite_db.unit_of_work() as uow:
                await uow.sessions.add(a_session(f"ses_{n}", f"driver-{n}"))
                await uow.commit()
            await asyncio.sleep(0)

    await commit_sessions(0, CHECKPOINT_EVERY // 2)
    half_a_period = log_size()
    await commit_sessions(CHECKPOINT_EVERY // 2, 6 * CHECKPOINT_EVERY)

    # The log starts over after each checkpoint instead of growing with every
    # commit: without checkpoints it would hold 13 half periods by now.
    assert log_size() <= 6 * half_a_period
    with sqlite3.connect(sqlite_db.path) as other:
        (count,) = other.execute("SELECT count(*) FROM sessions").fetchone()
    assert count == CHECKPOINT_EVERY // 2 + 6 * CHECKPOINT_EVERY


async def test_the_log_starts_over_while_reads_overlap_the_writes(
    sqlite_db: SqliteDatabase,
) -> None:
    writing = True

    async def read_all_along() -> int:
        reads = 0
        while writing:
            async with sqlite_db.unit_of_work(readonly=True) as uow:
                await uow.sessions.get("ses_0")
                # The snapshot stays open while the writes go on.
                await asyncio.sleep(0.002)
            reads += 1
        return reads

    readers = [asyncio.create_task(read_all_along()) for _ in range(2)]
    for n in range(8 * CHECKPOINT_EVERY):
        async with sqlite_db.unit_of_work() as uow:
            await uow.sessions.add(a_session(f"ses_{n}", f"driver-{n}"))
            await uow.commit()
        if n == CHECKPOINT_EVERY // 2:
            half_a_period = os.stat(f"{sqlite_db.path}-wal").st_size
        await asyncio.sleep(0)
    writing = False
    reads = await asyncio.gather(*readers)

    # Readers always had a snapshot open; without the log starting over it
    # would hold 16 half periods by now. A checkpoint may find the log still
    # in use now and then, and leave a period or two more in the file.
    assert min(reads) > 0
    assert os.stat(f"{sqlite_db.path}-wal").st_size <= 10 * half_a_period


async def test_readers_go_on_while_another_process_writes(
    sqlite_db: SqliteDatabase,
) -> None:
    other = sqlite3.connect(sqlite_db.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("DELETE FROM windows")
    try:
        async with sqlite_db.unit_of_work(readonly=True) as uow:
            windows = await uow.windows.list()
    finally:
        other.rollback()
        other.close()

    assert len(windows) == 2


async def test_a_read_only_unit_reads_one_snapshot(sqlite_db: SqliteDatabase) -> None:
    async with sqlite_db.unit_of_work(readonly=True) as reader:
        before = await reader.sessions.get("ses_1")
        async with sqlite_db.unit_of_work() as writer:
            await writer.sessions.add(a_session())
            await writer.commit()
        during = await reader.sessions.get("ses_1")

    async with sqlite_db.unit_of_work(readonly=True) as reader:
        after = await reader.sessions.get("ses_1")

    assert (before, during, after) == (None, None, a_session())


async def test_a_write_unit_waits_its_turn_within_the_process(
    sqlite_db: SqliteDatabase,
) -> None:
    order: list[str] = []

    async def write(name: str, hold: float) -> None:
        async with sqlite_db.unit_of_work():
            order.append(f"{name} in")
            await asyncio.sleep(hold)
            order.append(f"{name} out")

    await asyncio.gather(write("first", 0.02), write("second", 0))

    assert order == ["first in", "first out", "second in", "second out"]


async def test_a_write_unit_gives_up_when_the_writer_stays_taken(
    sqlite_db: SqliteDatabase,
) -> None:
    async with sqlite_db.unit_of_work():
        with pytest.raises(DependencyUnavailable, match="no sqlite writer free"):
            async with sqlite_db.unit_of_work():
                pass

    async with sqlite_db.unit_of_work() as uow:
        await uow.sessions.add(a_session())
        await uow.commit()


async def test_a_closed_database_is_unavailable(sqlite_path: str) -> None:
    db = SqliteDatabase(sqlite_path)
    await db.open()
    await db.close()
    await db.close()

    with pytest.raises(DependencyUnavailable, match="not open"):
        async with db.unit_of_work():
            pass


async def test_a_balance_read_before_a_commit_is_read_again_after_it(
    sqlite_db: SqliteDatabase,
) -> None:
    async with sqlite_db.unit_of_work() as uow:
        before = await uow.ledger.balance("driver-1")
        await uow.commit()
        with sqlite3.connect(sqlite_db.path) as other:
            other.execute("INSERT INTO wallets VALUES ('driver-1', 500)")
        after = await uow.ledger.balance("driver-1")

    assert (before, after) == (0, 500)


async def test_a_write_that_breaks_a_constraint_fails_keeping_nothing(
    sqlite_db: SqliteDatabase,
) -> None:
    broken = msgspec.structs.replace(stopped(a_session()), reward=None)
    uow = sqlite_db.unit_of_work()
    async with uow:
        await uow.sessions.add(a_session())

        with pytest.raises(sqlite3.IntegrityError):
            await uow.sessions.update(broken)

    async with sqlite_db.unit_of_work(readonly=True) as uow:
        assert await uow.sessions.get("ses_1") is None


def test_writing_a_read_only_file_is_unavailable_not_an_error_of_ours(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "read-only.db")
    with sqlite3.connect(path) as setup:
        setup.execute("CREATE TABLE t (a)")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        with pytest.raises(DependencyUnavailable), unavailable_as_dependency(path):
            db.execute("INSERT INTO t VALUES (1)")
    finally:
        db.close()
