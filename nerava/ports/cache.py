"""A shared key-value cache with expiry."""

from __future__ import annotations

from typing import Protocol

__all__ = ["Cache"]


class Cache(Protocol):
    """Stores bytes under string keys for a while; a miss is never an error."""

    async def get(self, key: str) -> bytes | None:
        """Return the value under ``key``, or None when absent or expired."""
        ...

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        """Store ``value`` under ``key`` for ``ttl_seconds``."""
        ...

    async def delete(self, key: str) -> None:
        """Forget ``key``; absent keys are fine."""
        ...
