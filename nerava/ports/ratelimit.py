"""Fixed-window request counting for rate limits."""

from __future__ import annotations

from typing import Protocol

import msgspec

__all__ = ["RateLimitDecision", "RateLimitStore"]


class RateLimitDecision(msgspec.Struct, frozen=True):
    """The verdict on one request, with what the headers report."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int


class RateLimitStore(Protocol):
    """Counts hits per key in windows of a fixed length."""

    async def hit(
        self, key: str, limit: int, window_seconds: int, now: float
    ) -> RateLimitDecision:
        """Count one hit for ``key`` at ``now`` (epoch seconds) and judge it.

        Args:
            key: who is counted (an API key id or a client address).
            limit: hits allowed per window.
            window_seconds: the window's length.
            now: the current time in seconds since the epoch.
        """
        ...
