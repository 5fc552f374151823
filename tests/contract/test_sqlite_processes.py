"""Processes writing one SQLite file at once each get their share of its lock."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import stat
import time
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from nerava.adapters.sqlite import SqliteDatabase
from nerava.adapters.sqlite.claims import CLAIM_FOR_S, WriteClaims
from nerava.domain.errors import DependencyUnavailable
from tests.contract.examples import a_session

SECONDS = 2.0
# Shorter than the default, so that a process locked out shows as failures.
BUSY_TIMEOUT_MS = 1500
FLAT_OUT = 0.0


def write_steadily(
    path: str, tasks: int, pause_s: float, barrier: Barrier, results: Any
) -> None:
    """Write sessions from ``tasks`` tasks for a while, each pausing ``pause_s``
    between writes; report (written, failed, longest write in seconds)."""
    results.put(asyncio.run(_write_steadily(path, tasks, pause_s, barrier)))


async def _write_steadily(
    path: str, tasks: int, pause_s: float, barrier: Barrier
) -> tuple[int, int, float]:
    db = SqliteDatabase(path, busy_timeout_ms=BUSY_TIMEOUT_MS)
    await db.open()
    written = failed = 0
    longest = 0.0
    await asyncio.to_thread(barrier.wait)
    end = time.monotonic() + SECONDS

    async def writer(task: int) -> None:
        nonlocal written, failed, longest
        n = 0
        while time.monotonic() < end:
            n += 1
            name = f"{os.getpid()}-{task}-{n}"
            began = time.monotonic()
            try:
                async with db.unit_of_work() as uow:
                    await uow.sessions.add(a_session(f"ses_{name}", f"driver-{name}"))
                    await uow.commit()
                written += 1
            except DependencyUnavailable:
                failed += 1
            longest = max(longest, time.monotonic() - began)
            if pause_s:
                await asyncio.sleep(pause_s)

    try:
        await asyncio.gather(*(writer(t) for t in range(tasks)))
    finally:
        await db.close()
    return written, failed, longest


def _race(path: str, *writers: tuple[int, float]) -> list[tuple[int, int, float]]:
    asyncio.run(SqliteDatabase(path).migrate())
    ctx = multiprocessing.get_context("forkserver")
    barrier = ctx.Barrier(len(writers))
    results = ctx.Queue()
    processes = [
        ctx.Process(target=write_steadily, args=(path, tasks, pause, barrier, results))
        for tasks, pause in writers
    ]
    for process in processes:
        process.start()
    try:
        # Fewest writes first: a light process before the busy ones.
        return sorted((results.get(timeout=60) for _ in processes), key=lambda r: r[0])
    finally:
        for process in processes:
            process.join(timeout=60)


def test_two_processes_writing_flat_out_both_get_their_share(sqlite_path: str) -> None:
    reports = _race(sqlite_path, (30, FLAT_OUT), (30, FLAT_OUT))

    written = [w for w, _, _ in reports]
    assert [f for _, f, _ in reports] == [0, 0], reports
    # Not equal shares to the unit (the machine schedules the two), but
    # neither is locked out.
    assert min(written) >= sum(written) / 5, reports


def test_a_process_writing_now_and_then_is_not_held_up_by_busy_ones(
    sqlite_path: str,
) -> None:
    pause = 0.02
    light, *heavy = _race(sqlite_path, (1, pause), (30, FLAT_OUT), (30, FLAT_OUT))

    assert [f for _, f, _ in (light, *heavy)] == [0, 0, 0], (light, heavy)
    # At most SECONDS / pause writes; each waits for a busy process's share.
    assert light[0] >= 0.6 * SECONDS / pause, (light, heavy)
    assert light[2] < 0.2, (light, heavy)


def test_a_claim_is_seen_by_other_processes_only_and_lapses(sqlite_path: str) -> None:
    Path(sqlite_path).touch()
    mine, theirs = WriteClaims(sqlite_path), WriteClaims(sqlite_path)
    try:
        assert mine.claimant() is None
        theirs.claim()
        assert mine.claimant() is not None
        assert theirs.claimant() is None
        mine.withdraw()  # not its claim: left alone
        assert mine.claimant() is not None
        theirs.withdraw()
        assert mine.claimant() is None
        theirs.claim()
        time.sleep(CLAIM_FOR_S + 0.01)
        assert mine.claimant() is None
    finally:
        mine.close()
        theirs.close()


def test_a_shortened_claim_file_reads_as_no_claim(sqlite_path: str) -> None:
    Path(sqlite_path).touch()
    mine, theirs = WriteClaims(sqlite_path), WriteClaims(sqlite_path)
    try:
        theirs.claim()
        os.truncate(f"{sqlite_path}-claim", 0)
        assert mine.claimant() is None
        theirs.claim()
        assert mine.claimant() is not None
    finally:
        mine.close()
        theirs.close()


def test_the_claim_file_takes_the_database_files_mode(sqlite_path: str) -> None:
    Path(sqlite_path).touch()
    os.chmod(sqlite_path, 0o666)
    umask = os.umask(0o022)
    try:
        WriteClaims(sqlite_path).close()
    finally:
        os.umask(umask)

    assert stat.S_IMODE(os.stat(f"{sqlite_path}-claim").st_mode) == 0o666
