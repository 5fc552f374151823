"""The EventBus contract, run against every bus."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from nerava.adapters.memory import MemoryEventBus
from nerava.domain.events import ChargeStarted, DomainEvent, WindowDeleted
from nerava.ports.events import EventBus

ADAPTERS: dict[str, Callable[[], EventBus]] = {"memory": MemoryEventBus}
AT = datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.fixture(params=sorted(ADAPTERS))
def bus(request: pytest.FixtureRequest) -> EventBus:
    return ADAPTERS[request.param]()


def started(n: int) -> ChargeStarted:
    return ChargeStarted(
        event_id=f"evt_{n}",
        occurred_at=AT,
        session_id=f"ses_{n}",
        user_id="u",
        hub_id="h",
        started_at=AT,
        window_id=None,
    )


async def test_every_subscriber_gets_every_event_in_order(bus: EventBus) -> None:
    first: list[DomainEvent] = []
    second: list[DomainEvent] = []

    async def to_first(event: DomainEvent) -> None:
        first.append(event)

    async def to_second(event: DomainEvent) -> None:
        second.append(event)

    bus.subscribe(to_first)
    bus.subscribe(to_second)
    events = [
        started(1),
        WindowDeleted(event_id="evt_2", occurred_at=AT, window_id="w"),
        started(3),
    ]

    await bus.publish(events)

    assert first == events
    assert second == events


async def test_a_failing_subscriber_makes_publish_fail(bus: EventBus) -> None:
    async def broken(event: DomainEvent) -> None:
        raise RuntimeError("consumer down")

    bus.subscribe(broken)

    with pytest.raises(RuntimeError):
        await bus.publish([started(1)])


async def test_publishing_with_no_subscriber_is_fine(bus: EventBus) -> None:
    await bus.publish([started(1)])
