"""Who may use the SQLite writer now: one holder, the others waiting in order.

Like ``asyncio.Lock``, but a free turn is taken at once, even while others
are queued. Write units of work run on the event loop's thread and nearly
always take and give back the turn without yielding, so a waiter woken by a
release finds the turn free again when it runs. ``asyncio.Lock`` instead
sends every newcomer to the back of any queue: once one holder had yielded
(a checkpoint's last copy), the queue it left never drained under a steady
load, and each later unit of work paid for a future, a timer and a turn of
the loop before it could start.

A holder that yields while holding (a commit that waits for the disk, a
retry against another process's lock) could otherwise take the turn back
every time before a woken waiter runs. So a waiter that finds the turn taken
when it runs goes back to the front of the queue and is owed it: the next
release hands the turn straight to it, without freeing it in between. No
waiter loses more than once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

__all__ = ["Turn"]

# A waiter, and whether it is owed the turn. Its future's result tells, when
# it is woken, whether the turn was handed to it (True) or only freed (False).
_Waiter = tuple[asyncio.Future[bool], bool]


class Turn:
    """One holder at a time; a free turn is taken without waiting."""

    def __init__(self) -> None:
        self._held = False
        self._waiters: deque[_Waiter] = deque()

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
            owed = False
            while True:
                waiter: _Waiter = (loop.create_future(), owed)
                if owed:
                    self._waiters.appendleft(waiter)
                else:
                    self._waiters.append(waiter)
                if await self._wait(waiter) or self.try_take():
                    return
                owed = True

    def give_back(self) -> None:
        """Hand the turn to the waiter it is owed to, or free it and wake the first.

        Raises:
            RuntimeError: the turn was not held.
        """
        if not self._held:
            raise RuntimeError("the writer's turn was given back but not held")
        while self._waiters:
            future, owed = self._waiters.popleft()
            if future.done():
                continue
            if not owed:
                self._held = False
            future.set_result(owed)
            return
        self._held = False

    async def _wait(self, waiter: _Waiter) -> bool:
        future, _ = waiter
        try:
            return await future
        except BaseException:
            if not future.done() or future.cancelled():
                # Still queued, unless a release skipped it already.
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            elif future.result():
                # Handed the turn, then cancelled or timed out before
                # running: it goes on to the next in line.
                self.give_back()
            elif self.try_take():
                # Woken to a free turn it will not take: the wake-up goes
                # on to the next in line.
                self.give_back()
            raise
