"""Put starts and stops in the order hubs would have reported them, and run them.

Events are ordered by instant; at one instant stops come before starts, so a
driver who unplugs and plugs in again in the same minute is free to start.
A session that ends the instant it starts has its stop right after its own
start. Running them in parallel keeps that order wherever it matters: within
one driver's lane, events run one after the other.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from datetime import datetime
from enum import IntEnum
from typing import TypeVar

import msgspec

from nerava.replay.parsing import ChargeSession

__all__ = ["Event", "EventKind", "order_events", "run_in_lanes"]

_T = TypeVar("_T")
_K = TypeVar("_K", bound=Hashable)


class EventKind(IntEnum):
    """What a hub reports; the value breaks ties at one instant."""

    STOP = 0
    START = 1


class Event(msgspec.Struct, frozen=True):
    """A start or a stop of the session at ``session`` in the replayed list."""

    kind: EventKind
    at: datetime
    session: int


def order_events(sessions: Sequence[ChargeSession]) -> list[Event]:
    """Return every session's start and stop in the order to send them."""
    keyed: list[tuple[datetime, int, int, int, Event]] = []
    for index, session in enumerate(sessions):
        start = Event(EventKind.START, session.started_at, index)
        keyed.append((session.started_at, EventKind.START, session.row, 0, start))
        stop = Event(EventKind.STOP, session.stopped_at, index)
        if session.stopped_at == session.started_at:
            # Right behind its own start, ahead of later rows' starts.
            keyed.append((session.started_at, EventKind.START, session.row, 1, stop))
        else:
            keyed.append((session.stopped_at, EventKind.STOP, session.row, 0, stop))
    keyed.sort(key=lambda item: item[:4])
    return [item[4] for item in keyed]


async def run_in_lanes(
    items: Sequence[_T],
    lane: Callable[[_T], _K],
    handle: Callable[[_T], Awaitable[None]],
    concurrency: int,
) -> None:
    """Handle items with up to ``concurrency`` at once, in order per lane.

    Within a lane an item starts only after the one before it finished. Among
    the lanes ready to go, the item earliest in ``items`` goes first, so the
    replay moves through time together and no long lane is left to the end.
    An exception from ``handle`` stops the run and propagates.
    """
    lanes: dict[_K, deque[int]] = {}
    for index, item in enumerate(items):
        lanes.setdefault(lane(item), deque()).append(index)
    ready = [queue[0] for queue in lanes.values()]
    heapq.heapify(ready)
    changed = asyncio.Event()
    in_flight = 0

    async def worker() -> None:
        nonlocal in_flight
        while True:
            if not ready:
                if in_flight == 0:
                    changed.set()
                    return
                changed.clear()
                await changed.wait()
                continue
            index = heapq.heappop(ready)
            in_flight += 1
            try:
                await handle(items[index])
            finally:
                in_flight -= 1
                queue = lanes[lane(items[index])]
                queue.popleft()
                if queue:
                    heapq.heappush(ready, queue[0])
                changed.set()

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, min(concurrency, len(items)))):
                group.create_task(worker())
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
