"""Ordering the events as hubs would report them, and running them in lanes."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from nerava.replay.ordering import Event, EventKind, order_events, run_in_lanes
from nerava.replay.parsing import ChargeSession

T0 = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)


def _session(row: int, user: str, start_min: int, stop_min: int) -> ChargeSession:
    started = T0 + timedelta(minutes=start_min)
    stopped = T0 + timedelta(minutes=stop_min)
    return ChargeSession(
        row=row,
        hub_id="hub-1",
        user_id=user,
        started_at=started,
        stopped_at=stopped,
        kwh=Decimal("1.5"),
        charged_until=stopped,
    )


def _labels(events: list[Event], sessions: list[ChargeSession]) -> list[str]:
    return [f"{e.kind.name.lower()}{sessions[e.session].row}" for e in events]


def test_events_are_in_time_order() -> None:
    sessions = [_session(1, "a", 0, 30), _session(2, "b", 10, 20)]

    events = order_events(sessions)

    assert _labels(events, sessions) == ["start1", "start2", "stop2", "stop1"]
    assert [e.at for e in events] == sorted(e.at for e in events)


def test_at_one_instant_stops_go_before_starts() -> None:
    sessions = [_session(1, "a", 0, 30), _session(2, "a", 30, 60)]

    events = order_events(sessions)

    assert _labels(events, sessions) == ["start1", "stop1", "start2", "stop2"]


def test_a_zero_length_session_stops_right_after_its_own_start() -> None:
    sessions = [
        _session(1, "a", 0, 10),
        _session(2, "b", 10, 10),
        _session(3, "b", 10, 40),
    ]

    events = order_events(sessions)

    assert _labels(events, sessions) == [
        "start1",
        "stop1",
        "start2",
        "stop2",
        "start3",
        "stop3",
    ]


def test_a_sessions_stop_is_always_after_its_start() -> None:
    sessions = [_session(n, f"u{n % 3}", n % 5, n % 5 + n % 2) for n in range(1, 40)]

    events = order_events(sessions)

    position = {(e.kind, e.session): i for i, e in enumerate(events)}
    for index in range(len(sessions)):
        assert position[EventKind.START, index] < position[EventKind.STOP, index]


async def test_one_lanes_items_never_overlap_and_keep_their_order() -> None:
    items = [(f"u{n % 4}", n) for n in range(60)]
    running: set[str] = set()
    seen: defaultdict[str, list[int]] = defaultdict(list)
    overlaps = 0

    async def handle(item: tuple[str, int]) -> None:
        nonlocal overlaps
        lane, number = item
        overlaps += lane in running
        running.add(lane)
        await asyncio.sleep(0.001 * (number % 3))
        running.discard(lane)
        seen[lane].append(number)

    await run_in_lanes(items, lambda item: item[0], handle, concurrency=8)

    assert overlaps == 0
    assert sum(len(numbers) for numbers in seen.values()) == 60
    assert all(numbers == sorted(numbers) for numbers in seen.values())


async def test_no_more_than_the_concurrency_run_at_once() -> None:
    in_flight = peak = 0

    async def handle(item: int) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.001)
        in_flight -= 1

    await run_in_lanes(list(range(50)), lambda item: item, handle, concurrency=5)

    assert peak == 5


async def test_ready_lanes_go_in_the_order_of_the_items() -> None:
    started: list[int] = []

    async def handle(item: int) -> None:
        started.append(item)
        await asyncio.sleep(0)

    await run_in_lanes(list(range(20)), lambda item: item % 7, handle, concurrency=1)

    assert started == list(range(20))


async def test_an_error_in_a_handler_stops_the_run_and_comes_out_as_itself() -> None:
    async def handle(item: int) -> None:
        if item == 3:
            raise LookupError("item 3")

    with pytest.raises(LookupError, match="item 3"):
        await run_in_lanes(list(range(10)), lambda item: item, handle, concurrency=3)


async def test_nothing_to_run_finishes_at_once() -> None:
    async def handle(item: int) -> None:
        raise AssertionError("no item to handle")

    await run_in_lanes([], lambda item: item, handle, concurrency=4)
