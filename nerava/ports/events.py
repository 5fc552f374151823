"""Publishing domain events after commit, and the outbox that makes it reliable."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Protocol

import msgspec

from nerava.domain.events import DomainEvent

__all__ = ["EventBus", "EventHandler", "OutboxRecord"]

EventHandler = Callable[[DomainEvent], Awaitable[None]]


class OutboxRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An event stored with the change that caused it, awaiting delivery."""

    position: int
    event: DomainEvent
    created_at: datetime
    published_at: datetime | None = None


class EventBus(Protocol):
    """Delivers events to subscribers at least once."""

    async def publish(self, events: Sequence[DomainEvent]) -> None:
        """Deliver ``events`` in order; raise when they could not be handed over."""
        ...

    def subscribe(self, handler: EventHandler) -> None:
        """Call ``handler`` for every event published from now on."""
        ...
