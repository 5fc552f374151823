"""The background loops over the memory adapters: credits land once, never lost."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import tenacity
from prometheus_client import REGISTRY

from nerava.adapters.memory import FixedClock, MemoryDatabase, MemoryEventBus, UuidIds
from nerava.domain.errors import DependencyUnavailable
from nerava.domain.usecases.credits import Credits
from nerava.domain.usecases.relay import Relay
from nerava.domain.wallet import EntryKind, PendingCredit
from nerava.entrypoints.workers import (
    BackgroundLoops,
    CreditProcessor,
    OutboxRelayLoop,
    PurgeLoop,
    backoff_seconds,
)
from nerava.ports.storage import UnitOfWork

NOW = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)
NO_JITTER = tenacity.wait_exponential_jitter(max=300.0, jitter=0)


def credits_counted(outcome: str) -> float:
    labels = {"mode": "async", "outcome": outcome}
    return REGISTRY.get_sample_value("wallet_credits_total", labels) or 0.0


class FlakyStore:
    """A memory store whose next units of work fail as a store can fail."""

    def __init__(self, database: MemoryDatabase) -> None:
        self.database = database
        self.failures: list[Exception] = []
        self.writes_only = True

    def fail_next(
        self, error: Exception, times: int = 1, *, reads: bool = False
    ) -> None:
        self.failures.extend([error] * times)
        self.writes_only = not reads

    def __call__(self, *, readonly: bool = False) -> UnitOfWork:
        if self.failures and not (readonly and self.writes_only):
            raise self.failures.pop(0)
        return self.database.unit_of_work(readonly=readonly)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def database() -> MemoryDatabase:
    return MemoryDatabase()


@pytest.fixture
def store(database: MemoryDatabase) -> FlakyStore:
    return FlakyStore(database)


@pytest.fixture
def credits(store: FlakyStore, clock: FixedClock) -> Credits:
    return Credits(store, clock, UuidIds())


async def queue(database: MemoryDatabase, *credits: PendingCredit) -> None:
    async with database.unit_of_work() as uow:
        for credit in credits:
            await uow.credits.add(credit)
        await uow.commit()


def pending(
    session_id: str, user_id: str = "driver-1", cents: int = 323
) -> PendingCredit:
    return PendingCredit(
        session_id=session_id, user_id=user_id, amount_cents=cents, created_at=NOW
    )


async def wallet(database: MemoryDatabase, user_id: str) -> tuple[int, list[str]]:
    async with database.unit_of_work(readonly=True) as uow:
        balance = await uow.ledger.balance(user_id)
        entries, _ = await uow.ledger.entries(user_id, limit=200)
    return balance, [e.session_id or "" for e in entries]


async def left(database: MemoryDatabase) -> list[PendingCredit]:
    async with database.unit_of_work(readonly=True) as uow:
        return await uow.credits.due(NOW + timedelta(days=365), 1000)


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + 5.0
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_a_due_credit_lands_in_the_wallet_once(
    credits: Credits, database: MemoryDatabase
) -> None:
    await queue(database, pending("ses_1"))
    processor = CreditProcessor(credits)
    before = credits_counted("credited")

    first = await processor.run_once()
    second = await processor.run_once()

    assert (first, second) == (1, 0)
    assert await wallet(database, "driver-1") == (323, ["ses_1"])
    assert await left(database) == []
    assert credits_counted("credited") - before == 1


async def test_the_credit_is_a_charge_reward_entry_for_its_session(
    credits: Credits, database: MemoryDatabase
) -> None:
    await queue(database, pending("ses_1", cents=101))

    await CreditProcessor(credits).run_once()

    async with database.unit_of_work(readonly=True) as uow:
        entry = await uow.ledger.reward_for("ses_1")
    assert entry is not None
    assert (entry.kind, entry.amount_cents, entry.user_id) == (
        EntryKind.CHARGE_REWARD,
        101,
        "driver-1",
    )


async def test_a_failed_credit_is_deferred_by_the_backoff_and_not_lost(
    credits: Credits, database: MemoryDatabase, store: FlakyStore, clock: FixedClock
) -> None:
    await queue(database, pending("ses_1"))
    processor = CreditProcessor(credits, retry_wait=tenacity.wait_fixed(30))
    store.fail_next(RuntimeError("disk hiccup"))
    failed_before = credits_counted("failed")

    credited = await processor.run_once()

    assert credited == 0
    [waiting] = await left(database)
    assert waiting.attempts == 1
    assert waiting.next_attempt_at == NOW + timedelta(seconds=30)
    assert waiting.last_error == "disk hiccup"
    assert credits_counted("failed") - failed_before == 1
    assert await wallet(database, "driver-1") == (0, [])


async def test_one_failing_credit_does_not_hold_back_the_others(
    credits: Credits, database: MemoryDatabase, store: FlakyStore
) -> None:
    await queue(database, pending("ses_1"), pending("ses_2", "driver-2", 75))
    # The two are tried together first, then one by one: ses_1 fails both.
    store.fail_next(RuntimeError("row is corrupt"), times=2)

    credited = await CreditProcessor(credits).run_once()

    assert credited == 1
    assert [c.session_id for c in await left(database)] == ["ses_1"]
    assert await wallet(database, "driver-2") == (75, ["ses_2"])


async def test_a_deferred_credit_waits_for_its_time_then_lands(
    credits: Credits, database: MemoryDatabase, store: FlakyStore, clock: FixedClock
) -> None:
    await queue(database, pending("ses_1"))
    processor = CreditProcessor(credits, retry_wait=tenacity.wait_fixed(30))
    store.fail_next(RuntimeError("disk hiccup"))
    await processor.run_once()

    clock.advance(timedelta(seconds=29))
    too_early = await processor.run_once()
    clock.advance(timedelta(seconds=1))
    on_time = await processor.run_once()

    assert (too_early, on_time) == (0, 1)
    assert await wallet(database, "driver-1") == (323, ["ses_1"])


async def test_each_failure_doubles_the_wait_before_the_next_attempt(
    credits: Credits, database: MemoryDatabase, store: FlakyStore, clock: FixedClock
) -> None:
    await queue(database, pending("ses_1"))
    processor = CreditProcessor(credits, retry_wait=NO_JITTER)
    waits = []

    for _ in range(4):
        store.fail_next(RuntimeError("still failing"))
        await processor.run_once()
        [waiting] = await left(database)
        assert waiting.next_attempt_at is not None
        waits.append(waiting.next_attempt_at - clock.now())
        clock.set(waiting.next_attempt_at)

    assert waits == [timedelta(seconds=s) for s in (1, 2, 4, 8)]


def test_the_default_backoff_has_jitter_and_a_ceiling() -> None:
    wait = tenacity.wait_exponential_jitter(max=300.0, jitter=1.0)

    early = [backoff_seconds(wait, 3) for _ in range(50)]
    late = backoff_seconds(wait, 40)

    assert all(4.0 <= w <= 5.0 for w in early)
    assert len(set(early)) > 1
    assert late == 300.0


async def test_an_unavailable_store_keeps_the_credit_pending(
    credits: Credits, database: MemoryDatabase, store: FlakyStore
) -> None:
    await queue(database, pending("ses_1"))
    store.fail_next(DependencyUnavailable("database is down"), times=2)

    with pytest.raises(DependencyUnavailable):
        await CreditProcessor(credits).run_once()

    assert [c.session_id for c in await left(database)] == ["ses_1"]
    assert await wallet(database, "driver-1") == (0, [])


async def test_the_running_processor_rides_out_an_outage_and_credits_after_it(
    credits: Credits, database: MemoryDatabase, store: FlakyStore
) -> None:
    await queue(database, pending("ses_1"), pending("ses_2", "driver-2", 75))
    store.fail_next(DependencyUnavailable("database is down"), times=5, reads=True)
    processor = CreditProcessor(
        credits, idle_seconds=0.01, outage_wait=tenacity.wait_fixed(0.01)
    )
    stop = asyncio.Event()

    task = asyncio.create_task(processor.run(stop))
    await eventually(lambda: _credited(database, "driver-1", "driver-2"))
    stop.set()
    await asyncio.wait_for(task, 1.0)

    assert await wallet(database, "driver-1") == (323, ["ses_1"])
    assert await wallet(database, "driver-2") == (75, ["ses_2"])
    assert store.failures == []


async def _credited(database: MemoryDatabase, *users: str) -> bool:
    balances = [(await wallet(database, user))[0] for user in users]
    return all(balance > 0 for balance in balances)


class RacingCredits(Credits):
    """Credits whose readers all hold the same due list before any goes on."""

    def __init__(self, *args: Any, barrier: asyncio.Barrier) -> None:
        super().__init__(*args)
        self._barrier = barrier

    async def due(self, limit: int) -> list[PendingCredit]:
        found = await super().due(limit)
        await self._barrier.wait()
        return found


async def test_several_processors_at_once_never_credit_a_session_twice(
    clock: FixedClock, database: MemoryDatabase
) -> None:
    sessions = [f"ses_{n}" for n in range(60)]
    await queue(
        database, *(pending(s, f"driver-{n % 7}", 100) for n, s in enumerate(sessions))
    )
    barrier = asyncio.Barrier(4)
    processors = [
        CreditProcessor(
            RacingCredits(database.unit_of_work, clock, UuidIds(), barrier=barrier)
        )
        for _ in range(4)
    ]
    before = credits_counted("credited")

    passes = await asyncio.gather(*(p.run_once() for p in processors))

    assert sum(passes) == 60
    assert await left(database) == []
    credited_sessions = []
    for n in range(7):
        balance, entries = await wallet(database, f"driver-{n}")
        assert balance == 100 * len(entries)
        credited_sessions += entries
    assert sorted(credited_sessions) == sorted(sessions)
    assert credits_counted("credited") - before == 60


async def test_a_processor_stops_promptly_when_asked(credits: Credits) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(CreditProcessor(credits, idle_seconds=60).run(stop))
    await asyncio.sleep(0.05)

    stop.set()

    await asyncio.wait_for(task, 0.5)


class CountingRelay:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    async def relay(self, limit: int = 100) -> int:
        self.calls += 1
        if self.failures:
            self.failures -= 1
            raise DependencyUnavailable("bus is down")
        return 0


async def test_the_relay_loop_backs_off_on_failure_and_keeps_relaying() -> None:
    relay = CountingRelay(failures=3)
    loop = OutboxRelayLoop(
        relay, idle_seconds=0.01, outage_wait=tenacity.wait_fixed(0.01)
    )
    stop = asyncio.Event()

    task = asyncio.create_task(loop.run(stop))
    await eventually(_after(lambda: relay.calls >= 6))
    stop.set()
    await asyncio.wait_for(task, 1.0)

    assert relay.failures == 0


def _after(condition: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return condition()

    return check


class CountingPurge:
    def __init__(self, expired: int = 2) -> None:
        self.calls = 0
        self.expired = expired

    async def purge(self, *, limit: int) -> int:
        self.calls += 1
        purged = min(limit, self.expired)
        self.expired -= purged
        return purged


async def test_a_large_purge_runs_in_transactions_of_a_batch_each() -> None:
    purge = CountingPurge(expired=2500)

    purged = await PurgeLoop(purge, name="purge", batch=1000).run_once()

    assert (purged, purge.calls, purge.expired) == (2500, 3, 0)


async def test_the_purge_runs_at_start_then_waits_for_its_interval() -> None:
    purge = CountingPurge()
    loops = BackgroundLoops([PurgeLoop(purge, name="purge", interval_seconds=3600)])
    loops.start()
    await eventually(_after(lambda: purge.calls >= 1))
    await asyncio.sleep(0.05)
    await asyncio.wait_for(loops.stop(), 1.0)

    assert purge.calls == 1


async def test_due_credits_of_many_wallets_land_in_one_transaction_each_round(
    clock: FixedClock, database: MemoryDatabase
) -> None:
    await queue(
        database,
        *(pending(f"ses_{n}", f"driver-{n % 3}", 100) for n in range(7)),
    )
    units = CountingUnits(database)
    processor = CreditProcessor(Credits(units, clock, UuidIds()))

    credited = await processor.run_once()

    # Seven credits of three wallets: rounds of three, three and one.
    assert credited == 7
    assert units.writes == 3
    assert await left(database) == []
    assert [(await wallet(database, f"driver-{n}"))[0] for n in range(3)] == [
        300,
        200,
        200,
    ]


async def test_a_batch_that_fails_is_credited_one_by_one(
    credits: Credits, database: MemoryDatabase, store: FlakyStore
) -> None:
    await queue(database, pending("ses_1"), pending("ses_2", "driver-2", 75))
    store.fail_next(RuntimeError("serialization hiccup"))
    failed_before = credits_counted("failed")

    credited = await CreditProcessor(credits).run_once()

    assert credited == 2
    assert await left(database) == []
    assert credits_counted("failed") == failed_before


async def test_a_batch_never_names_a_wallet_twice(credits: Credits) -> None:
    with pytest.raises(ValueError, match="more than once"):
        await credits.credit_all([pending("ses_1"), pending("ses_2")])


class CountingUnits:
    """The memory store, counting the write units of work begun on it."""

    def __init__(self, database: MemoryDatabase) -> None:
        self.database = database
        self.writes = 0

    def __call__(self, *, readonly: bool = False) -> UnitOfWork:
        self.writes += not readonly
        return self.database.unit_of_work(readonly=readonly)


async def test_delivered_events_leave_the_outbox_a_week_after_delivery(
    clock: FixedClock, database: MemoryDatabase
) -> None:
    relay = Relay(database.unit_of_work, MemoryEventBus(), clock)
    await queue(database, pending("ses_1"))
    await CreditProcessor(Credits(database.unit_of_work, clock, UuidIds())).run_once()
    delivered = await relay.relay()
    loop = PurgeLoop(relay, name="outbox purge")

    clock.advance(timedelta(days=6))
    too_early = await loop.run_once()
    clock.advance(timedelta(days=1, seconds=1))
    on_time = await loop.run_once()

    assert (delivered, too_early, on_time) == (1, 0, 1)
    assert await relay.relay() == 0


async def test_a_batch_stuck_on_one_wallet_defers_that_credit_and_lets_the_rest_land(
    credits: Credits, database: MemoryDatabase, store: FlakyStore
) -> None:
    await queue(database, pending("ses_1"), pending("ses_2", "driver-2", 75))
    # The batch and then ses_1 alone time out on driver-1's locked wallet.
    store.fail_next(DependencyUnavailable("statement timeout"), times=2)
    processor = CreditProcessor(credits, retry_wait=tenacity.wait_fixed(30))

    with pytest.raises(DependencyUnavailable):
        await processor.run_once()
    attempts = {c.session_id: c.attempts for c in await left(database)}
    later = await processor.run_once()

    assert attempts == {"ses_1": 1, "ses_2": 0}
    assert later == 1
    assert await wallet(database, "driver-2") == (75, ["ses_2"])
