"""The PendingCredits contract: one credit per session, due oldest first."""

from __future__ import annotations

from datetime import datetime

from nerava.domain.wallet import PendingCredit
from nerava.ports.storage import Database
from tests.contract.examples import MINUTE, T0, a_credit


async def _add(database: Database, *credits: PendingCredit) -> None:
    async with database.unit_of_work() as uow:
        for credit in credits:
            await uow.credits.add(credit)
        await uow.commit()


async def _due_ids(
    database: Database, now: datetime = T0, limit: int = 100
) -> list[str]:
    async with database.unit_of_work(readonly=True) as uow:
        due = await uow.credits.due(now, limit)
    return [c.session_id for c in due]


async def test_an_added_credit_is_due_and_reads_back_equal(
    database: Database,
) -> None:
    await _add(database, a_credit("ses_1"))

    async with database.unit_of_work(readonly=True) as uow:
        due = await uow.credits.due(T0, 10)

    assert due == [a_credit("ses_1")]


async def test_credits_are_due_oldest_first(database: Database) -> None:
    await _add(
        database,
        a_credit("ses_b", created_at=T0 - MINUTE),
        a_credit("ses_c", created_at=T0),
        a_credit("ses_a", created_at=T0 - 2 * MINUTE),
    )

    assert await _due_ids(database) == ["ses_a", "ses_b", "ses_c"]


async def test_credits_of_the_same_instant_are_due_in_the_order_added(
    database: Database,
) -> None:
    await _add(database, *(a_credit(f"ses_{c}") for c in "qbxa"))

    assert await _due_ids(database) == ["ses_q", "ses_b", "ses_x", "ses_a"]


async def test_due_returns_at_most_the_limit(database: Database) -> None:
    await _add(
        database, *(a_credit(f"ses_{i}", created_at=T0 + i * MINUTE) for i in range(5))
    )

    assert await _due_ids(database, T0 + 10 * MINUTE, limit=2) == ["ses_0", "ses_1"]


async def test_a_second_credit_for_a_session_is_ignored(database: Database) -> None:
    await _add(database, a_credit("ses_1", cents=101))

    await _add(database, a_credit("ses_1", cents=999))

    async with database.unit_of_work(readonly=True) as uow:
        assert await uow.credits.due(T0, 10) == [a_credit("ses_1", cents=101)]
        assert await uow.credits.count() == 1


async def test_take_removes_the_credit_once(database: Database) -> None:
    await _add(database, a_credit("ses_1"), a_credit("ses_2"))

    async with database.unit_of_work() as uow:
        taken = await uow.credits.take("ses_1")
        again = await uow.credits.take("ses_1")
        await uow.commit()

    assert (taken, again) == (a_credit("ses_1"), None)
    assert await _due_ids(database) == ["ses_2"]


async def test_taking_an_unknown_credit_gives_none(database: Database) -> None:
    async with database.unit_of_work() as uow:
        assert await uow.credits.take("ses_unknown") is None


async def test_a_rescheduled_credit_waits_until_its_next_attempt(
    database: Database,
) -> None:
    await _add(database, a_credit("ses_1"))

    async with database.unit_of_work() as uow:
        await uow.credits.reschedule("ses_1", T0 + 5 * MINUTE, "wallet busy")
        await uow.commit()

    assert await _due_ids(database, T0 + 4 * MINUTE) == []
    assert await _due_ids(database, T0 + 5 * MINUTE) == ["ses_1"]


async def test_rescheduling_counts_attempts_and_keeps_the_last_error(
    database: Database,
) -> None:
    await _add(database, a_credit("ses_1"))

    async with database.unit_of_work() as uow:
        await uow.credits.reschedule("ses_1", T0 + MINUTE, "first")
        await uow.credits.reschedule("ses_1", T0 + 2 * MINUTE, "second")
        await uow.commit()

    async with database.unit_of_work(readonly=True) as uow:
        (credit,) = await uow.credits.due(T0 + 2 * MINUTE, 10)
    assert (credit.attempts, credit.next_attempt_at, credit.last_error) == (
        2,
        T0 + 2 * MINUTE,
        "second",
    )


async def test_rescheduling_an_unknown_credit_does_nothing(database: Database) -> None:
    async with database.unit_of_work() as uow:
        await uow.credits.reschedule("ses_unknown", T0, "gone")
        await uow.commit()

    async with database.unit_of_work(readonly=True) as uow:
        assert await uow.credits.count() == 0


async def test_pending_cents_sum_one_users_credits(database: Database) -> None:
    await _add(
        database,
        a_credit("ses_1", cents=101, user_id="driver-1"),
        a_credit("ses_2", cents=248, user_id="driver-1"),
        a_credit("ses_3", cents=7, user_id="driver-2"),
    )

    async with database.unit_of_work(readonly=True) as uow:
        totals = [await uow.credits.pending_cents(u) for u in ("driver-1", "nobody")]
        count = await uow.credits.count()

    assert totals == [349, 0]
    assert count == 3
