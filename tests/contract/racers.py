"""Processes that race one another on one database, for the concurrency tests.

Each process opens its own connections, waits at a barrier for the others,
then runs its attempts all at once and reports their outcomes. A process is
started by ``forkserver``, so it begins clean, whatever threads the test
runner has.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from decimal import Decimal
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Barrier
from typing import Any, NamedTuple

import msgspec

from nerava.adapters.memory import FixedClock, UuidIds
from nerava.adapters.storage_factory import MigratableDatabase, database_from_url
from nerava.domain.sessions import ChargingRules
from nerava.domain.usecases import Actor, Charging, Credits, StopCharge
from nerava.entrypoints.workers import CreditProcessor
from nerava.ports.storage import Database
from tests.contract.examples import T0, a_debit, a_reward, a_session

PATIENCE_S = 60
# Imported once by the fork server rather than by every racer.
PRELOADED = ["pytest", "nerava.adapters.postgres", "nerava.adapters.sqlite"]


class Attempt(NamedTuple):
    """Which attempt of which process this is."""

    process: int
    number: int

    @property
    def name(self) -> str:
        """A name unique across the race, for ids."""
        return f"{self.process}_{self.number}"


Racer = Callable[..., Awaitable[Any]]


def open_for_racing(url: str, connections: int) -> MigratableDatabase:
    """Open ``url`` patient enough that contention never times out."""
    if url.startswith("sqlite"):
        return database_from_url(url, busy_timeout_ms=PATIENCE_S * 1000)
    return database_from_url(
        url,
        min_size=connections,
        max_size=connections,
        timeout_s=PATIENCE_S,
        statement_timeout_ms=PATIENCE_S * 1000,
    )


async def credit(db: Database, attempt: Attempt, session_id: str, cents: int) -> bool:
    """Try to credit a session's reward; True when this attempt did."""
    async with db.unit_of_work() as uow:
        await uow.ledger.lock_wallet("driver-1")
        credited = await uow.ledger.append(
            a_reward(session_id, cents, entry_id=f"ent_{attempt.name}")
        )
        await uow.commit()
    return credited


async def debit(db: Database, attempt: Attempt, cents: int) -> bool:
    """Try to spend ``cents`` if the balance allows; True when spent."""
    async with db.unit_of_work() as uow:
        await uow.ledger.lock_wallet("driver-1")
        if await uow.ledger.balance("driver-1") < cents:
            return False
        await uow.ledger.append(a_debit(f"ent_{attempt.name}", cents))
        await uow.commit()
    return True


async def start(
    db: Database, attempt: Attempt, users: list[str]
) -> tuple[str, str, str | None]:
    """Try to start a session for the attempt's user.

    Returns:
        The user, the new session's id, and the id of the session that
        holds the user when it was not this one.
    """
    user_id = users[attempt.number]
    session = a_session(f"ses_{attempt.name}", user_id=user_id)
    async with db.unit_of_work() as uow:
        holder = await uow.sessions.add(session)
        await uow.commit()
    return user_id, session.session_id, holder


async def process_credits(db: Database, attempt: Attempt) -> int:
    """Run one pass of a wallet processor; return how many it credited."""
    clock = FixedClock(T0 + timedelta(minutes=40))
    return await CreditProcessor(Credits(db.unit_of_work, clock, UuidIds())).run_once()


def charging(db: Database, *, sync_credit: bool) -> Charging:
    """The charging use cases with the clock 40 minutes after ``T0``."""
    return Charging(
        db.unit_of_work,
        FixedClock(T0 + timedelta(minutes=40)),
        UuidIds(),
        ChargingRules(sync_credit=sync_credit),
    )


async def stop(
    db: Database, attempt: Attempt, session_id: str, sync_credit: bool
) -> bytes:
    """Stop the session with 12.345 kWh; return the stopped session as JSON."""
    stopped = await charging(db, sync_credit=sync_credit).stop(
        StopCharge(session_id=session_id, kwh=Decimal("12.345")), actor=Actor()
    )
    return msgspec.json.encode(stopped)


RACERS: dict[str, Racer] = {
    "credit": credit,
    "debit": debit,
    "process_credits": process_credits,
    "start": start,
    "stop": stop,
}


def race(
    url: str,
    racer: str,
    args: tuple[Any, ...],
    attempts: int,
    barrier: Barrier,
    results: multiprocessing.Queue[list[Any]],
) -> None:
    """Run ``attempts`` concurrent calls of a racer in this process."""
    try:
        outcomes = asyncio.run(_race(url, RACERS[racer], args, attempts, barrier))
    except BaseException as exc:
        barrier.abort()
        outcomes = [f"failed: {exc!r}"]
    results.put(outcomes)


async def _race(
    url: str, racer: Racer, args: tuple[Any, ...], attempts: int, barrier: Barrier
) -> list[Any]:
    db = open_for_racing(url, connections=max(1, attempts // 2))
    await db.open()
    try:
        await asyncio.to_thread(barrier.wait, PATIENCE_S)
        outcomes = await asyncio.gather(
            *(racer(db, Attempt(os.getpid(), i), *args) for i in range(attempts)),
            return_exceptions=True,
        )
    finally:
        await db.close()
    return [_picklable(outcome) for outcome in outcomes]


def _picklable(outcome: object) -> object:
    return f"failed: {outcome!r}" if isinstance(outcome, BaseException) else outcome


def run_race(
    url: str, racer: str, *args: Any, processes: int = 5, attempts: int = 10
) -> list[Any]:
    """Race ``processes`` x ``attempts`` calls of a racer; return every outcome.

    Raises:
        RuntimeError: a process died without reporting.
    """
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__, *PRELOADED])
    barrier = ctx.Barrier(processes)
    results: multiprocessing.Queue[list[Any]] = ctx.Queue()
    workers = [
        ctx.Process(target=race, args=(url, racer, args, attempts, barrier, results))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    try:
        return [o for _ in workers for o in _next_report(results, workers)]
    finally:
        for worker in workers:
            worker.join(timeout=PATIENCE_S)


def _next_report(
    results: multiprocessing.Queue[list[Any]], workers: Sequence[BaseProcess]
) -> list[Any]:
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        try:
            return results.get(timeout=0.1)
        except queue.Empty:
            if any(w.exitcode not in (None, 0) for w in workers):
                raise RuntimeError("a racing process died without reporting") from None
    raise RuntimeError(f"no racing process reported within {PATIENCE_S} s")
