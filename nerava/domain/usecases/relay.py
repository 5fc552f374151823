"""Delivering the outbox to the event bus, at least once."""

from __future__ import annotations

from datetime import timedelta

from nerava.ports.clock import Clock
from nerava.ports.events import EventBus
from nerava.ports.storage import UnitOfWorkFactory

__all__ = ["DELIVERED_RETENTION", "Relay"]

# How long a delivered event stays in the outbox, for operators to look back.
DELIVERED_RETENTION = timedelta(days=7)


class Relay:
    """Publishes stored events after their transaction committed."""

    def __init__(self, uow: UnitOfWorkFactory, bus: EventBus, clock: Clock) -> None:
        self._uow = uow
        self._bus = bus
        self._clock = clock

    async def relay(self, limit: int = 100) -> int:
        """Publish up to ``limit`` undelivered events; return how many.

        Events are marked delivered only after the bus took them, so a crash
        in between delivers them again; consumers drop repeats by event id.
        """
        async with self._uow(readonly=True) as uow:
            records = await uow.outbox.unpublished(limit)
        if not records:
            return 0
        await self._bus.publish([r.event for r in records])
        async with self._uow() as uow:
            await uow.outbox.mark_published(
                [r.position for r in records], self._clock.now()
            )
            await uow.commit()
        return len(records)

    async def purge(self, *, limit: int) -> int:
        """Delete, of the ``limit`` oldest events, those delivered a week ago.

        Returns:
            How many were deleted; ``limit`` when older ones may be left.
        """
        async with self._uow() as uow:
            purged = await uow.outbox.purge_delivered(
                self._clock.now() - DELIVERED_RETENTION, limit=limit
            )
            await uow.commit()
        return purged
