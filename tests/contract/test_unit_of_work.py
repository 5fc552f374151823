"""The UnitOfWork contract: all of a unit's changes, or none of them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from nerava.ports.storage import Database, UnitOfWork
from tests.contract.examples import (
    T0,
    a_claim,
    a_credit,
    a_key,
    a_reward,
    a_session,
    a_window,
    events_of,
    stopped,
)

Change = Callable[[UnitOfWork], Awaitable[object]]


async def _stop_with_everything(uow: UnitOfWork, session_id: str = "ses_1") -> None:
    session = a_session(session_id)
    await uow.sessions.add(session)
    await uow.sessions.update(stopped(session))
    await uow.ledger.append(a_reward(session_id))
    await uow.credits.add(a_credit(session_id))
    await uow.outbox.append(events_of(session_id))
    await uow.idempotency.claim(a_claim(), now=T0, expired_before=T0)
    await uow.api_keys.add(a_key())
    await uow.windows.put(a_window())


async def _snapshot(database: Database) -> dict[str, object]:
    async with database.unit_of_work(readonly=True) as uow:
        return {
            "session": await uow.sessions.get("ses_1"),
            "balance": await uow.ledger.balance("driver-1"),
            "entries": await uow.ledger.entries("driver-1", limit=10),
            "credits": await uow.credits.count(),
            "outbox": await uow.outbox.unpublished(10),
            "keys": await uow.api_keys.list(),
            "windows": await uow.windows.list(),
            "version": await uow.windows.version(),
        }


async def test_committed_changes_are_seen_by_later_units(database: Database) -> None:
    async with database.unit_of_work() as uow:
        await _stop_with_everything(uow)
        await uow.commit()

    seen = await _snapshot(database)

    assert seen["session"] == stopped(a_session())
    assert seen["balance"] == 101
    assert seen["credits"] == 1
    assert len(seen["outbox"]) == 2  # type: ignore[arg-type]
    assert seen["keys"] == [a_key()]


async def test_leaving_without_commit_rolls_everything_back(database: Database) -> None:
    before = await _snapshot(database)

    async with database.unit_of_work() as uow:
        await _stop_with_everything(uow)

    assert await _snapshot(database) == before


class Interrupted(Exception):
    """Something went wrong halfway through a unit of work."""


async def _stop_then_fail(database: Database) -> None:
    async with database.unit_of_work() as uow:
        await _stop_with_everything(uow)
        raise Interrupted


async def test_an_exception_rolls_everything_back(database: Database) -> None:
    before = await _snapshot(database)

    with pytest.raises(Interrupted):
        await _stop_then_fail(database)

    assert await _snapshot(database) == before


async def test_changes_after_a_commit_need_a_commit_of_their_own(
    database: Database,
) -> None:
    async with database.unit_of_work() as uow:
        await uow.sessions.add(a_session())
        await uow.commit()
        await uow.sessions.update(stopped(a_session()))
        await uow.ledger.append(a_reward("ses_1"))

    seen = await _snapshot(database)

    assert seen["session"] == a_session()
    assert seen["balance"] == 0


async def test_a_unit_sees_its_own_uncommitted_changes(database: Database) -> None:
    async with database.unit_of_work() as uow:
        await _stop_with_everything(uow)
        session = await uow.sessions.get("ses_1")
        balance = await uow.ledger.balance("driver-1")
        reward = await uow.ledger.reward_for("ses_1")

    assert session == stopped(a_session())
    assert (balance, reward) == (101, a_reward("ses_1"))


async def test_a_unit_may_be_used_again_after_it_ended(database: Database) -> None:
    uow = database.unit_of_work()
    async with uow:
        await uow.sessions.add(a_session("ses_1", user_id="driver-1"))
        await uow.commit()

    async with uow:
        await uow.sessions.add(a_session("ses_2", user_id="driver-2"))
        await uow.commit()

    async with database.unit_of_work(readonly=True) as reader:
        assert await reader.sessions.get("ses_2") == a_session("ses_2", "driver-2")


WRITES: dict[str, Change] = {
    "windows.put": lambda uow: uow.windows.put(a_window()),
    "windows.delete": lambda uow: uow.windows.delete("green_hour"),
    "sessions.add": lambda uow: uow.sessions.add(a_session()),
    "sessions.update": lambda uow: uow.sessions.update(stopped(a_session())),
    "ledger.lock_wallet": lambda uow: uow.ledger.lock_wallet("driver-1"),
    "ledger.append": lambda uow: uow.ledger.append(a_reward("ses_1")),
    "credits.add": lambda uow: uow.credits.add(a_credit("ses_1")),
    "credits.take": lambda uow: uow.credits.take("ses_1"),
    "credits.reschedule": lambda uow: uow.credits.reschedule("ses_1", T0, "x"),
    "outbox.append": lambda uow: uow.outbox.append(events_of("ses_1")),
    "outbox.mark_published": lambda uow: uow.outbox.mark_published([1], T0),
    "idempotency.claim": lambda uow: uow.idempotency.claim(
        a_claim(), now=T0, expired_before=T0
    ),
    "idempotency.release": lambda uow: uow.idempotency.release("s", "k"),
    "idempotency.purge": lambda uow: uow.idempotency.purge(T0, limit=10),
    "outbox.purge_delivered": lambda uow: uow.outbox.purge_delivered(T0, limit=10),
    "api_keys.add": lambda uow: uow.api_keys.add(a_key()),
    "api_keys.revoke": lambda uow: uow.api_keys.revoke("key_1", T0),
}


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
async def test_a_read_only_unit_refuses_every_write(
    database: Database, write: Change
) -> None:
    async with database.unit_of_work(readonly=True) as uow:
        with pytest.raises(RuntimeError, match="write outside a write unit of work"):
            await write(uow)


async def test_a_read_only_unit_sees_what_was_committed(database: Database) -> None:
    async with database.unit_of_work() as uow:
        await _stop_with_everything(uow)
        await uow.commit()

    async with database.unit_of_work(readonly=True) as uow:
        assert await uow.sessions.get("ses_1") == stopped(a_session())
        assert await uow.ledger.reward_for("ses_1") == a_reward("ses_1")


async def test_an_open_database_answers_a_ping(database: Database) -> None:
    await database.ping()


async def test_a_read_only_unit_reads_one_snapshot_throughout(
    database: Database,
) -> None:
    async with database.unit_of_work(readonly=True) as reader:
        pending_before = await reader.credits.pending_cents("driver-1")
        async with database.unit_of_work() as writer:
            await writer.credits.add(a_credit("ses_1"))
            await writer.ledger.append(a_reward("ses_2"))
            await writer.commit()
        pending_during = await reader.credits.pending_cents("driver-1")
        balance_during = await reader.ledger.balance("driver-1")

    # A wallet read of balance and pending from one unit counts a reward in
    # exactly one of them, however commits interleave with its statements.
    assert (pending_before, pending_during, balance_during) == (0, 0, 0)
