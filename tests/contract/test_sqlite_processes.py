"""Processes writing one SQLite file at once each get their share of its lock."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from multiprocessing.synchronize import Barrier
from typing import Any

from nerava.adapters.sqlite import SqliteDatabase
from nerava.adapters.sqlite.claims import WriteClaims
from nerava.domain.errors import DependencyUnavailable
from tests.contract.examples import a_session

WRITERS_PER_PROCESS = 30
SECONDS = 2.0
# Shorter than the default, so that a process locked out shows as failures.
BUSY_TIMEOUT_MS = 1500


def write_steadily(path: str, barrier: Barrier, results: Any) -> None:
    """Write sessions from many tasks for a while; report (written, failed)."""
    results.put(asyncio.run(_write_steadily(path, barrier)))


async def _write_steadily(path: str, barrier: Barrier) -> tuple[int, int]:
    db = SqliteDatabase(path, busy_timeout_ms=BUSY_TIMEOUT_MS)
    await db.open()
    written = failed = 0
    await asyncio.to_thread(barrier.wait)
    end = time.monotonic() + SECONDS

    async def writer(task: int) -> None:
        nonlocal written, failed
        n = 0
        while time.monotonic() < end:
            n += 1
            name = f"{os.getpid()}-{task}-{n}"
            try:
                async with db.unit_of_work() as uow:
                    await uow.sessions.add(a_session(f"ses_{name}", f"driver-{name}"))
                    await uow.commit()
                written += 1
            except DependencyUnavailable:
                failed += 1

    try:
        await asyncio.gather(*(writer(t) for t in range(WRITERS_PER_PROCESS)))
    finally:
        await db.close()
    return written, failed


def test_two_processes_writing_flat_out_both_get_their_share(sqlite_path: str) -> None:
    asyncio.run(_migrated(sqlite_path))
    ctx = multiprocessing.get_context("forkserver")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    processes = [
        ctx.Process(target=write_steadily, args=(sqlite_path, barrier, results))
        for _ in range(2)
    ]
    for process in processes:
        process.start()
    try:
        reports = [results.get(timeout=60) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=60)

    written = [w for w, _ in reports]
    assert [f for _, f in reports] == [0, 0], reports
    # Not equal shares to the unit (the machine schedules the two), but
    # neither is locked out.
    assert min(written) >= sum(written) / 5, reports


def test_a_claim_is_seen_by_other_processes_only_and_lapses(sqlite_path: str) -> None:
    mine, theirs = WriteClaims(sqlite_path), WriteClaims(sqlite_path)
    try:
        assert not mine.claimed_by_another()
        theirs.claim()
        assert mine.claimed_by_another()
        assert not theirs.claimed_by_another()
        mine.withdraw()  # not its claim: left alone
        assert mine.claimed_by_another()
        theirs.withdraw()
        assert not mine.claimed_by_another()
        theirs.claim()
        time.sleep(0.06)
        assert not mine.claimed_by_another()
    finally:
        mine.close()
        theirs.close()


async def _migrated(path: str) -> None:
    await SqliteDatabase(path).migrate()
