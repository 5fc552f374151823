"""Applying pending rewards to wallets: the wallet processor's use case."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from nerava.domain.usecases.crediting import credit_reward
from nerava.domain.wallet import PendingCredit
from nerava.ports.clock import Clock, IdGenerator
from nerava.ports.storage import UnitOfWork, UnitOfWorkFactory

__all__ = ["Credits"]


class Credits:
    """Credits each pending reward exactly once."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids

    async def due(self, limit: int) -> list[PendingCredit]:
        """Return up to ``limit`` credits whose next attempt is due."""
        async with self._uow(readonly=True) as uow:
            return await uow.credits.due(self._clock.now(), limit)

    async def credit(self, session_id: str) -> bool:
        """Move a session's pending reward into its wallet.

        Taking the pending credit and appending the entry share one
        transaction, and the ledger refuses a second reward for a session, so
        concurrent processors credit it once.

        Returns:
            True when this call credited it; False when there was nothing left.
        """
        now = self._clock.now()
        async with self._uow() as uow:
            credited = await self._take_and_credit(uow, session_id, now)
            await uow.commit()
        return credited

    async def credit_all(self, credits: Sequence[PendingCredit]) -> list[str]:
        """Move the pending rewards of several wallets into them, in one transaction.

        One wallet at most per call, taken in the order of their users, so
        that processors crediting at once lock wallets in one order. All or
        nothing: when one fails, none is credited and the error is raised,
        and the caller may credit them one by one.

        Returns:
            The sessions this call credited, in the order taken.

        Raises:
            ValueError: two credits are for the same user.
        """
        ordered = sorted(credits, key=lambda c: c.user_id)
        users = [c.user_id for c in ordered]
        if len(set(users)) != len(users):
            raise ValueError("a batch of credits names a wallet more than once")
        now = self._clock.now()
        credited = []
        async with self._uow() as uow:
            for pending in ordered:
                if await self._take_and_credit(uow, pending.session_id, now):
                    credited.append(pending.session_id)
            await uow.commit()
        return credited

    async def _take_and_credit(
        self, uow: UnitOfWork, session_id: str, now: datetime
    ) -> bool:
        credit = await uow.credits.take(session_id)
        if credit is None:
            return False
        entry = await credit_reward(
            uow,
            self._ids,
            session_id=session_id,
            user_id=credit.user_id,
            amount_cents=credit.amount_cents,
            now=now,
            mode="async",
        )
        return entry is not None

    async def defer(self, session_id: str, error: str, retry_in: timedelta) -> None:
        """Count a failed attempt and try again after ``retry_in``."""
        async with self._uow() as uow:
            await uow.credits.reschedule(
                session_id, self._clock.now() + retry_in, error[:500]
            )
            await uow.commit()

    async def pending(self) -> int:
        """Return how many credits are waiting."""
        async with self._uow(readonly=True) as uow:
            return await uow.credits.count()
