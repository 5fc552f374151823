"""What the PostgreSQL database promises beyond the ports: timeouts, migrations."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from nerava.adapters.migrations import Migration, load_migrations
from nerava.adapters.postgres import PostgresDatabase
from nerava.adapters.postgres.database import MIGRATIONS_PACKAGE, apply_migrations
from nerava.domain.errors import DependencyUnavailable
from nerava.domain.windows import Window
from tests.conftest import ResetPostgres
from tests.contract.examples import a_credit, a_reward, a_session, a_window

pytestmark = pytest.mark.postgres

MIGRATIONS = load_migrations(MIGRATIONS_PACKAGE)


@pytest.fixture
async def postgres_db(
    postgres_url: str, reset_postgres: ResetPostgres
) -> AsyncIterator[PostgresDatabase]:
    """An open database with a small pool and short timeouts."""
    reset_postgres()
    db = PostgresDatabase(
        postgres_url, max_size=2, timeout_s=0.3, statement_timeout_ms=300
    )
    await db.open()
    yield db
    await db.close()


def _query(url: str, query: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


def _execute(url: str, statement: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(statement)


async def test_migrations_apply_once_and_a_deleted_default_never_comes_back(
    empty_postgres_url: str,
) -> None:
    db = PostgresDatabase(empty_postgres_url)
    with pytest.raises(DependencyUnavailable, match="nerava migrate"):
        await db.open()

    first = await db.migrate()
    await db.open()
    async with db.unit_of_work() as uow:
        await uow.windows.delete("solar_surplus")
        await uow.commit()
    await db.close()
    second = await db.migrate()
    await db.open()
    async with db.unit_of_work(readonly=True) as uow:
        windows = await uow.windows.list()
    await db.close()

    assert first == [m.name for m in MIGRATIONS]
    assert second == []
    assert [w.id for w in windows] == ["green_hour"]


async def test_concurrent_migrators_apply_each_migration_once(
    empty_postgres_url: str,
) -> None:
    url = empty_postgres_url

    results = await asyncio.gather(*(PostgresDatabase(url).migrate() for _ in range(3)))

    assert sorted(name for applied in results for name in applied) == [
        m.name for m in MIGRATIONS
    ]


async def test_a_failing_migration_leaves_the_database_as_it_was(
    empty_postgres_url: str,
) -> None:
    url = empty_postgres_url
    broken = Migration(
        "0002_broken",
        "CREATE TABLE half_done (id int); INSERT INTO nowhere VALUES (1);",
    )

    with pytest.raises(psycopg.errors.UndefinedTable):
        await apply_migrations(url, [*MIGRATIONS, broken])

    assert _query(url, "SELECT to_regclass('half_done')") == [(None,)]
    assert _query(url, "SELECT name FROM schema_migrations") == [("0001_initial",)]


async def test_an_unreachable_server_is_unavailable_within_the_timeout() -> None:
    db = PostgresDatabase("postgresql://postgres@127.0.0.1:1/nerava", timeout_s=0.5)
    started = time.monotonic()

    with pytest.raises(DependencyUnavailable):
        await db.open()
    with pytest.raises(DependencyUnavailable):
        await db.migrate()

    assert time.monotonic() - started < 5


async def test_an_exhausted_pool_is_unavailable(
    postgres_db: PostgresDatabase,
) -> None:
    async with postgres_db.unit_of_work(), postgres_db.unit_of_work():
        with pytest.raises(DependencyUnavailable, match="couldn't get a connection"):
            async with postgres_db.unit_of_work():
                pass


async def _add_then_wait_for_the_lock(db: PostgresDatabase) -> None:
    async with db.unit_of_work() as waiter:
        await waiter.sessions.add(a_session("ses_2", user_id="driver-2"))
        await waiter.sessions.get("ses_1", for_update=True)


async def test_a_statement_stuck_on_a_lock_times_out_and_rolls_back(
    postgres_db: PostgresDatabase,
) -> None:
    async with postgres_db.unit_of_work() as uow:
        await uow.sessions.add(a_session())
        await uow.commit()

    async with postgres_db.unit_of_work() as holder:
        await holder.sessions.get("ses_1", for_update=True)
        with pytest.raises(DependencyUnavailable, match="statement timeout"):
            await _add_then_wait_for_the_lock(postgres_db)

    async with postgres_db.unit_of_work(readonly=True) as uow:
        assert await uow.sessions.get("ses_2") is None


async def _add_after_losing_the_connection(db: PostgresDatabase, admin: str) -> None:
    async with db.unit_of_work() as uow:
        row = await uow.fetch_one("SELECT pg_backend_pid()")
        assert row is not None
        _query(admin, f"SELECT pg_terminate_backend({row[0]:d})")
        await uow.sessions.add(a_session())


async def test_a_lost_connection_is_unavailable_and_then_replaced(
    postgres_db: PostgresDatabase, postgres_admin_url: str
) -> None:
    with pytest.raises(DependencyUnavailable):
        await _add_after_losing_the_connection(postgres_db, postgres_admin_url)

    async with postgres_db.unit_of_work(), postgres_db.unit_of_work() as uow:
        assert await uow.sessions.get("ses_1") is None


async def test_connections_run_with_the_promised_settings(
    postgres_db: PostgresDatabase,
) -> None:
    settings = (
        "synchronous_commit",
        "statement_timeout",
        "TimeZone",
        "transaction_isolation",
        "transaction_read_only",
        "jit",
    )

    async with postgres_db.unit_of_work() as writer:
        written = [await writer.fetch_one(f"SHOW {name}") for name in settings]
    async with postgres_db.unit_of_work(readonly=True) as reader:
        read_only = [
            await reader.fetch_one(f"SHOW {name}")
            for name in ("transaction_isolation", "transaction_read_only")
        ]

    assert written == [
        ("on",),
        ("300ms",),
        ("UTC",),
        ("read committed",),
        ("off",),
        ("off",),
    ]
    assert read_only == [("repeatable read",), ("on",)]


async def test_a_closed_database_is_unavailable(postgres_url: str) -> None:
    db = PostgresDatabase(postgres_url)
    await db.open()
    await db.close()

    with pytest.raises(DependencyUnavailable, match="not open"):
        await db.ping()


async def test_a_balance_written_before_a_commit_is_read_again_after_it(
    postgres_db: PostgresDatabase,
) -> None:
    async with postgres_db.unit_of_work() as uow:
        await uow.ledger.append(a_reward("ses_1", 100))
        written = await uow.ledger.balance("driver-1")
        await uow.commit()
        _execute(
            postgres_db.url,
            "UPDATE wallets SET balance_cents = 500 WHERE user_id = 'driver-1'",
        )
        after = await uow.ledger.balance("driver-1")

    assert (written, after) == (100, 500)


async def test_a_deferred_write_that_fails_fails_the_commit_and_leaves_nothing(
    postgres_db: PostgresDatabase,
) -> None:
    async with postgres_db.unit_of_work() as uow:
        await uow.sessions.add(a_session())
        await uow.credits.add(a_credit("ses_1", cents=-1))
        with pytest.raises(psycopg.errors.CheckViolation):
            await uow.commit()

    async with postgres_db.unit_of_work(readonly=True) as uow:
        assert await uow.sessions.get("ses_1") is None
        assert await uow.credits.count() == 0


async def test_a_deferred_write_is_seen_by_the_next_statement_of_its_unit(
    postgres_db: PostgresDatabase,
) -> None:
    async with postgres_db.unit_of_work() as uow:
        await uow.credits.add(a_credit("ses_1", cents=250))
        pending = await uow.credits.pending_cents("driver-1")

    assert pending == 250


async def test_a_catalog_change_from_another_replica_is_seen_at_once(
    postgres_db: PostgresDatabase, postgres_url: str
) -> None:
    other = PostgresDatabase(postgres_url)
    await other.open()
    async with postgres_db.unit_of_work(readonly=True) as uow:
        before = await uow.windows.list()

    async with other.unit_of_work() as uow:
        await uow.windows.put(a_window())
        await uow.commit()
    await other.close()
    async with postgres_db.unit_of_work(readonly=True) as uow:
        after = await uow.windows.list()

    assert [w.id for w in before] == ["green_hour", "solar_surplus"]
    assert [w.id for w in after] == ["green_hour", "night_owl", "solar_surplus"]


async def test_a_catalog_change_rolled_back_never_reaches_another_unit(
    postgres_db: PostgresDatabase, postgres_url: str
) -> None:
    async with postgres_db.unit_of_work() as uow:
        await uow.windows.put(a_window(label="Rolled Back"))
        seen_inside = await uow.windows.list()
    other = PostgresDatabase(postgres_url)
    await other.open()
    async with other.unit_of_work() as uow:
        await uow.windows.put(a_window(label="Kept"))
        await uow.commit()
    await other.close()

    async with postgres_db.unit_of_work(readonly=True) as uow:
        windows = {w.id: w.label for w in await uow.windows.list()}

    assert "Rolled Back" in {w.label for w in seen_inside}
    assert windows["night_owl"] == "Kept"


async def test_statements_stay_prepared_across_read_only_units(
    postgres_db: PostgresDatabase,
) -> None:
    for _ in range(14):
        async with postgres_db.unit_of_work(readonly=True) as uow:
            await uow.windows.get("green_hour")

    async with postgres_db.unit_of_work(readonly=True) as uow:
        prepared = await uow.fetch_all("SELECT statement FROM pg_prepared_statements")

    assert any("FROM windows WHERE id" in row[0] for row in prepared)


class _LateReader:
    """A read-only unit whose catalog query resumes only when let go."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db
        self.queried = asyncio.Event()
        self.go_on = asyncio.Event()

    async def label(self) -> str:
        async with self._db.unit_of_work(readonly=True) as uow:
            fetch_all = uow.fetch_all

            async def resuming_late(*args: Any, **kwargs: Any) -> list[Any]:
                rows = await fetch_all(*args, **kwargs)
                self.queried.set()
                await self.go_on.wait()
                return rows

            uow.fetch_all = resuming_late  # type: ignore[method-assign]
            return _night_owl(await uow.windows.list())


def _night_owl(windows: list[Window]) -> str:
    return next(w.label for w in windows if w.id == "night_owl")


async def _put_night_owl(db: PostgresDatabase, label: str) -> None:
    async with db.unit_of_work() as uow:
        await uow.windows.put(a_window(label=label))
        await uow.commit()


async def _read_night_owl(db: PostgresDatabase) -> str:
    async with db.unit_of_work(readonly=True) as uow:
        return _night_owl(await uow.windows.list())


async def test_a_catalog_read_that_resumes_late_never_hands_out_an_older_catalog(
    postgres_db: PostgresDatabase,
) -> None:
    await _put_night_owl(postgres_db, "First")
    await _read_night_owl(postgres_db)
    await _put_night_owl(postgres_db, "Second")
    slow, late = _LateReader(postgres_db), _LateReader(postgres_db)
    slow_label = asyncio.create_task(slow.label())
    await slow.queried.wait()
    await _put_night_owl(postgres_db, "Third")
    newest = await _read_night_owl(postgres_db)
    late_label = asyncio.create_task(late.label())
    await late.queried.wait()

    slow.go_on.set()
    await slow_label
    late.go_on.set()

    assert (await slow_label, newest, await late_label) == ("Second", "Third", "Third")
    assert await _read_night_owl(postgres_db) == "Third"


async def test_a_catalog_restored_from_an_older_copy_is_read_as_it_is(
    postgres_db: PostgresDatabase, postgres_url: str
) -> None:
    await _put_night_owl(postgres_db, "Restored")
    async with postgres_db.unit_of_work(readonly=True) as uow:
        backed_up_at = await uow.windows.version()
    await _put_night_owl(postgres_db, "Lost in the restore")
    await _read_night_owl(postgres_db)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE windows SET label = 'Restored' WHERE id = 'night_owl'")
        conn.execute("UPDATE catalog_version SET version = %s", (backed_up_at,))

    after_restore = await _read_night_owl(postgres_db)
    await _put_night_owl(postgres_db, "After the restore")

    assert (after_restore, await _read_night_owl(postgres_db)) == (
        "Restored",
        "After the restore",
    )
