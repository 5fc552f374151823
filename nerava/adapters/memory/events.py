"""An in-process event bus."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from nerava.domain.events import DomainEvent
from nerava.ports.events import EventHandler

__all__ = ["MemoryEventBus"]

logger = logging.getLogger(__name__)


class MemoryEventBus:
    """Calls each subscriber in turn; remembers what it published."""

    def __init__(self, keep: int = 1000) -> None:
        self._handlers: list[EventHandler] = []
        self._keep = keep
        self.published: list[DomainEvent] = []

    async def publish(self, events: Sequence[DomainEvent]) -> None:
        """Hand each event to every subscriber, in order."""
        for event in events:
            for handler in self._handlers:
                await handler(event)
            self.published.append(event)
        if len(self.published) > self._keep:
            del self.published[: len(self.published) - self._keep]

    def subscribe(self, handler: EventHandler) -> None:
        """Add a subscriber."""
        self._handlers.append(handler)
