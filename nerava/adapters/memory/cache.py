"""A process-local cache with expiry."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["MemoryCache"]


class MemoryCache:
    """Keeps values in a dict until their time to live runs out."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._items: dict[str, tuple[float, bytes]] = {}
        self._monotonic = monotonic

    async def get(self, key: str) -> bytes | None:
        """Return the live value under ``key``, or None."""
        item = self._items.get(key)
        if item is None:
            return None
        expires, value = item
        if self._monotonic() >= expires:
            self._items.pop(key, None)
            return None
        return value

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        """Store ``value`` for ``ttl_seconds``."""
        self._items[key] = (self._monotonic() + ttl_seconds, value)

    async def delete(self, key: str) -> None:
        """Forget ``key``."""
        self._items.pop(key, None)
