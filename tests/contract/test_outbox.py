"""The Outbox contract: events kept in order until delivered."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pytest

from nerava.domain.events import (
    ChargeCancelled,
    DomainEvent,
    RewardCredited,
    WalletAdjusted,
    WalletDebited,
    WindowDeleted,
    WindowPut,
)
from nerava.ports.storage import Database
from tests.contract.examples import MINUTE, T0, a_start, a_stop, events_of


async def _append(database: Database, events: Sequence[DomainEvent]) -> None:
    async with database.unit_of_work() as uow:
        await uow.outbox.append(events)
        await uow.commit()


async def _unpublished(database: Database, limit: int = 100) -> list[DomainEvent]:
    async with database.unit_of_work(readonly=True) as uow:
        records = await uow.outbox.unpublished(limit)
    return [r.event for r in records]


def every_kind_of_event() -> list[DomainEvent]:
    """One event of each type."""
    return [
        a_start("ses_1"),
        a_stop("ses_1"),
        ChargeCancelled(
            event_id="evt_c",
            occurred_at=T0,
            session_id="ses_2",
            user_id="driver-2",
            hub_id="hub-1",
            reason="hub lost the stop",
        ),
        RewardCredited(
            event_id="evt_r",
            occurred_at=T0,
            session_id="ses_1",
            user_id="driver-1",
            entry_id="ent_1",
            amount_cents=101,
            mode="async",
        ),
        WalletDebited(
            event_id="evt_d",
            occurred_at=T0,
            user_id="driver-1",
            entry_id="ent_2",
            amount_cents=-50,
        ),
        WalletAdjusted(
            event_id="evt_a",
            occurred_at=T0,
            user_id="driver-1",
            entry_id="ent_3",
            amount_cents=5,
            schema_version=2,
        ),
        WindowPut(event_id="evt_w", occurred_at=T0, window_id="night", created=True),
        WindowDeleted(event_id="evt_x", occurred_at=T0, window_id="night"),
    ]


async def test_events_read_back_equal_in_the_order_stored(database: Database) -> None:
    events = every_kind_of_event()

    await _append(database, events[:3])
    await _append(database, events[3:])

    assert await _unpublished(database) == events


async def test_records_carry_growing_positions_and_the_event_time(
    database: Database,
) -> None:
    await _append(database, events_of("ses_1"))
    await _append(database, events_of("ses_2"))

    async with database.unit_of_work(readonly=True) as uow:
        records = await uow.outbox.unpublished(10)

    positions = [r.position for r in records]
    assert positions == sorted(set(positions))
    assert [r.created_at for r in records] == [T0, T0 + 40 * MINUTE] * 2
    assert all(r.published_at is None for r in records)


async def test_unpublished_returns_at_most_the_limit(database: Database) -> None:
    await _append(database, every_kind_of_event())

    assert await _unpublished(database, limit=3) == every_kind_of_event()[:3]


async def test_published_events_are_no_longer_unpublished(database: Database) -> None:
    await _append(database, every_kind_of_event())
    async with database.unit_of_work(readonly=True) as uow:
        first_three = await uow.outbox.unpublished(3)

    async with database.unit_of_work() as uow:
        await uow.outbox.mark_published([r.position for r in first_three], T0)
        await uow.commit()

    assert await _unpublished(database) == every_kind_of_event()[3:]


async def test_marking_unknown_positions_does_nothing(database: Database) -> None:
    await _append(database, events_of("ses_1"))

    async with database.unit_of_work() as uow:
        await uow.outbox.mark_published([10_000, 10_001], T0)
        await uow.outbox.mark_published([], T0)
        await uow.commit()

    assert await _unpublished(database) == events_of("ses_1")


async def test_appending_no_events_stores_nothing(database: Database) -> None:
    await _append(database, [])

    assert await _unpublished(database) == []


async def test_events_of_a_rolled_back_unit_are_not_stored(database: Database) -> None:
    async with database.unit_of_work() as uow:
        await uow.outbox.append(events_of("ses_1"))

    assert await _unpublished(database) == []


@pytest.mark.parametrize("batch", [1, 2, 3])
async def test_events_appended_together_keep_their_order(
    database: Database, batch: int
) -> None:
    events = every_kind_of_event()

    for start in range(0, len(events), batch):
        await _append(database, events[start : start + batch])

    assert await _unpublished(database) == events


async def _deliver(database: Database, count: int, at: datetime) -> list[int]:
    async with database.unit_of_work() as uow:
        records = await uow.outbox.unpublished(count)
        await uow.outbox.mark_published([r.position for r in records], at)
        await uow.commit()
    return [r.position for r in records]


async def _purge(database: Database, before: datetime, limit: int) -> int:
    async with database.unit_of_work() as uow:
        purged = await uow.outbox.purge_delivered(before, limit=limit)
        await uow.commit()
    return purged


async def test_purge_drops_events_delivered_before_the_cutoff_and_keeps_the_rest(
    database: Database,
) -> None:
    events = every_kind_of_event()
    await _append(database, events)
    await _deliver(database, 2, T0)
    await _deliver(database, 2, T0 + 10 * MINUTE)

    purged = await _purge(database, T0 + MINUTE, limit=100)

    assert purged == 2
    assert await _unpublished(database) == events[4:]
    assert await _purge(database, T0 + MINUTE, limit=100) == 0
    assert await _purge(database, T0 + 11 * MINUTE, limit=100) == 2
    assert await _unpublished(database) == events[4:]


async def test_purge_looks_at_no_more_than_its_limit_of_the_oldest_events(
    database: Database,
) -> None:
    await _append(database, every_kind_of_event())
    await _deliver(database, 5, T0)

    purged = [await _purge(database, T0 + MINUTE, limit=2) for _ in range(4)]

    assert purged == [2, 2, 1, 0]


async def test_positions_keep_growing_after_a_purge(database: Database) -> None:
    await _append(database, events_of("ses_1"))
    delivered = await _deliver(database, 100, T0)
    await _purge(database, T0 + MINUTE, limit=100)

    await _append(database, events_of("ses_2"))
    async with database.unit_of_work(readonly=True) as uow:
        records = await uow.outbox.unpublished(100)

    assert min(r.position for r in records) > max(delivered)
