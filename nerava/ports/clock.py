"""Time and identity, injected so that tests can fix them."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

__all__ = ["Clock", "IdGenerator"]


class Clock(Protocol):
    """Tells the current instant."""

    def now(self) -> datetime:
        """Return the current instant, timezone-aware, in UTC."""
        ...


class IdGenerator(Protocol):
    """Makes new opaque ids."""

    def new_id(self, prefix: str) -> str:
        """Return a new unique id that starts with ``prefix``."""
        ...
