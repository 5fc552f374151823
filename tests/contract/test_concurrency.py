"""Races with real parallelism: several processes (SQLite) or connections.

The schema's constraints, not luck, must keep every invariant: one reward
per session, no overdraft, one active session per user.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from nerava.adapters.storage_factory import MigratableDatabase, database_from_url
from nerava.domain.events import ChargeStopped, RewardCredited
from nerava.domain.sessions import Session, SessionState
from nerava.domain.usecases import Actor, StartCharge
from tests.contract.examples import T0, a_credit, a_reward
from tests.contract.racers import charging, run_race

pytestmark = pytest.mark.slow

RACING_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=RACING_BACKENDS)
def racing_url(request: pytest.FixtureRequest) -> str:
    """The URL of a freshly migrated database that processes can share."""
    if request.param == "sqlite":
        return f"sqlite:///{request.getfixturevalue('sqlite_path')}"
    request.getfixturevalue("reset_postgres")()
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def database(racing_url: str) -> AsyncIterator[MigratableDatabase]:
    """This process's own connection to the raced database."""
    db = database_from_url(racing_url)
    await db.open()
    yield db
    await db.close()


async def race(url: str, racer: str, *args: Any, **sizes: int) -> list[Any]:
    """Run a race in other processes without blocking this loop."""
    outcomes = await asyncio.to_thread(run_race, url, racer, *args, **sizes)
    failures = [o for o in outcomes if isinstance(o, str) and o.startswith("failed")]
    assert failures == []
    return outcomes


async def test_fifty_simultaneous_credits_of_one_session_credit_it_once(
    racing_url: str, database: MigratableDatabase
) -> None:
    outcomes = await race(racing_url, "credit", "ses_1", 101)

    async with database.unit_of_work(readonly=True) as uow:
        entries, _ = await uow.ledger.entries("driver-1", limit=100)
        balance = await uow.ledger.balance("driver-1")
    assert len(outcomes) == 50
    assert outcomes.count(True) == 1
    assert [e.session_id for e in entries] == ["ses_1"]
    assert balance == 101


async def test_wallet_processors_racing_over_many_wallets_credit_each_once(
    racing_url: str, database: MigratableDatabase
) -> None:
    sessions = {f"ses_{n}": f"driver-{n % 7}" for n in range(60)}
    async with database.unit_of_work() as uow:
        for session_id, user_id in sessions.items():
            await uow.credits.add(a_credit(session_id, 100, user_id))
        await uow.commit()

    outcomes = await race(racing_url, "process_credits", processes=4, attempts=2)

    credited: list[str] = []
    async with database.unit_of_work(readonly=True) as uow:
        for user_id in set(sessions.values()):
            entries, _ = await uow.ledger.entries(user_id, limit=100)
            assert await uow.ledger.balance(user_id) == 100 * len(entries)
            credited += [e.session_id or "" for e in entries]
        assert await uow.credits.count() == 0
    assert sum(outcomes) == 60
    assert sorted(credited) == sorted(sessions)


async def test_fifty_simultaneous_debits_of_twice_the_balance_never_overdraw(
    racing_url: str, database: MigratableDatabase
) -> None:
    async with database.unit_of_work() as uow:
        await uow.ledger.append(a_reward("ses_1", 1000))
        await uow.commit()

    outcomes = await race(racing_url, "debit", 40)

    async with database.unit_of_work(readonly=True) as uow:
        entries, _ = await uow.ledger.entries("driver-1", limit=100)
        balance = await uow.ledger.balance("driver-1")
    assert len(outcomes) == 50
    assert outcomes.count(True) == 25
    assert balance == sum(e.amount_cents for e in entries) == 0


async def test_two_simultaneous_starts_for_one_user_make_one_session(
    racing_url: str, database: MigratableDatabase
) -> None:
    users = [f"driver-{i}" for i in range(10)]

    outcomes = await race(racing_url, "start", users, processes=2, attempts=10)

    by_user: dict[str, list[tuple[str, str | None]]] = {}
    for user_id, session_id, holder in outcomes:
        by_user.setdefault(user_id, []).append((session_id, holder))
    async with database.unit_of_work(readonly=True) as uow:
        active = {u: await uow.sessions.active_for_user(u) for u in users}
    for user_id, tries in by_user.items():
        winners = [session_id for session_id, holder in tries if holder is None]
        assert len(tries) == 2
        assert len(winners) == 1
        assert [holder for _, holder in tries if holder is not None] == winners
        assert active[user_id] is not None
        assert active[user_id].session_id == winners[0]  # type: ignore[union-attr]
    assert sorted(by_user) == users


@pytest.mark.parametrize("sync_credit", [True, False], ids=["sync", "async"])
async def test_fifty_simultaneous_stops_answer_alike_and_reward_once(
    racing_url: str, database: MigratableDatabase, sync_credit: bool
) -> None:
    started = await charging(database, sync_credit=sync_credit).start(
        StartCharge(user_id="driver-1", hub_id="hub-1", now=T0), actor=Actor()
    )

    outcomes = await race(racing_url, "stop", started.session_id, sync_credit)

    answers = {msgspec.json.decode(o, type=Session) for o in outcomes}
    assert len(outcomes) == 50
    assert len(answers) == 1
    (answer,) = answers
    assert answer.state is SessionState.STOPPED
    assert answer.reward is not None
    async with database.unit_of_work(readonly=True) as uow:
        credited = await uow.ledger.balance("driver-1")
        pending = await uow.credits.pending_cents("driver-1")
        events = Counter(type(r.event) for r in await uow.outbox.unpublished(1000))
    assert credited + pending == answer.reward.total_cents > 0
    assert (credited > 0, pending > 0) == (sync_credit, not sync_credit)
    assert events[ChargeStopped] == 1
    assert events[RewardCredited] == (1 if sync_credit else 0)
