"""Clocks and id generators."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

__all__ = ["FixedClock", "SystemClock", "UuidIds"]


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        """Return the current instant."""
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until moved; for tests and demos."""

    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("a clock's time must be timezone-aware")
        self._now = now.astimezone(UTC)

    def now(self) -> datetime:
        """Return the set instant."""
        return self._now

    def set(self, now: datetime) -> None:
        """Jump to ``now``."""
        self._now = now.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        """Move forward by ``delta``."""
        self._now += delta


class UuidIds:
    """Random 128-bit ids, URL-safe, with a readable prefix."""

    def new_id(self, prefix: str) -> str:
        """Return ``prefix`` followed by 22 random URL-safe characters."""
        return f"{prefix}_{secrets.token_urlsafe(16)}"
