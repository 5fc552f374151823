"""Who may use the SQLite writer now: one holder, the others waiting in order.

Like ``asyncio.Lock``, but a free turn is taken at once, even while others
are queued. Write units of work run on the event loop's thread and nearly
always take and give back the turn without yielding, so a waiter woken by a
release finds the turn free again when it runs. ``asyncio.Lock`` instead
sends every newcomer to the back of any queue: once one holder had yielded
(a checkpoint's last copy), the queue it left never drained under a steady
load, and each later unit of work paid for a future, a timer and a turn of
the loop before it could start.

A waiter that finds the turn taken again when it runs waits at the front of
the queue; the deadline it was given bounds its wait either way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

__all__ = ["Turn"]


class Turn:
    """One holder at a time; a free turn is taken without waiting."""

    def __init__(self) -> None:
        self._held = False
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def held(self) -> bool:
        """Whether someone holds the turn."""
        return self._held

    def try_take(self) -> bool:
        """Take the turn if it is free; return whether it was taken."""
        if self._held:
            return False
        self._held = True
        return True

    async def take(self, timeout_s: float | None) -> None:
        """Take the turn, waiting in order for at most ``timeout_s`` seconds.

        ``None`` waits for as long as it takes.

        Raises:
            TimeoutError: the turn stayed taken for the whole time.
        """
        if self.try_take():
            return
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout_s):
            first = False
            while True:
                waiter: asyncio.Future[None] = loop.create_future()
                if first:
                    self._waiters.appendleft(waiter)
                else:
                    self._waiters.append(waiter)
                try:
                    await waiter
                except BaseException:
                    if waiter.done() and not waiter.cancelled():
                        # Woken, then cancelled or timed out before running:
                        # the wake-up goes to the next in line.
                        self._wake_next()
                    else:
                        # Still queued, unless a release skipped it already.
                        with contextlib.suppress(ValueError):
                            self._waiters.remove(waiter)
                    raise
                if self.try_take():
                    return
                first = True

    def give_back(self) -> None:
        """Free the turn and wake the first waiter, if any.

        Raises:
            RuntimeError: the turn was not held.
        """
        if not self._held:
            raise RuntimeError("the writer's turn was given back but not held")
        self._held = False
        self._wake_next()

    def _wake_next(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
