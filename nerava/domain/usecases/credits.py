"""Applying pending rewards to wallets: the wallet processor's use case."""

from __future__ import annotations

from datetime import timedelta

from nerava.domain.usecases.crediting import credit_reward
from nerava.domain.wallet import PendingCredit
from nerava.ports.clock import Clock, IdGenerator
from nerava.ports.storage import UnitOfWorkFactory

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
            await uow.commit()
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
