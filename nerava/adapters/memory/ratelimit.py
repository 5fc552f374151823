"""Fixed-window rate limit counters in process memory (per process, per replica)."""

from __future__ import annotations

import math

from nerava.ports.ratelimit import RateLimitDecision

__all__ = ["MemoryRateLimitStore"]


class MemoryRateLimitStore:
    """Counts hits per key and window start; old windows are dropped as time passes."""

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, int]] = {}
        self._swept_window = -1

    async def hit(
        self, key: str, limit: int, window_seconds: int, now: float
    ) -> RateLimitDecision:
        """Count one hit for ``key`` and judge it against ``limit``."""
        window = math.floor(now / window_seconds)
        if window != self._swept_window:
            # One sweep per window keeps memory bounded by the active keys.
            self._counts = {k: v for k, v in self._counts.items() if v[0] == window}
            self._swept_window = window
        start, count = self._counts.get(key, (window, 0))
        count = count + 1 if start == window else 1
        self._counts[key] = (window, count)
        reset = max(1, math.ceil((window + 1) * window_seconds - now))
        return RateLimitDecision(
            allowed=count <= limit,
            limit=limit,
            remaining=max(0, limit - count),
            reset_seconds=min(reset, window_seconds),
        )
