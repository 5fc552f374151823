"""API keys at the edge: who is calling, and may they call this route.

The edge resolves the bearer key of every request (the rate limit counts per
key), through a short cache keyed by the key's SHA-256 digest, never the key
itself. Answers live ``KEY_CACHE_SECONDS``, so a revoked key stops working
within that time on every replica.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from nerava.domain.access import ApiKey, Scope
from nerava.domain.errors import Forbidden, Unauthenticated
from nerava.domain.usecases import Actor, Keys
from nerava.entrypoints.http.context import context_of

__all__ = [
    "ANONYMOUS",
    "KEY_CACHE_SECONDS",
    "KeyCache",
    "actor_of",
    "authorize",
    "bearer_secret",
]

KEY_CACHE_SECONDS = 4.0
MAX_CACHED_KEYS = 10_000
ANONYMOUS = Actor(actor_id="anonymous", admin=True)


def bearer_secret(header: str | None) -> str | None:
    """Return the key of an ``Authorization: Bearer <key>`` header, if any."""
    if header is None:
        return None
    scheme, _, secret = header.strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        return None
    return secret


class KeyCache:
    """Resolves keys to live API keys, remembering each answer briefly.

    Args:
        keys: the API-key use case.
        ttl_seconds: how long an answer (found, unknown or revoked) is kept.
        monotonic: the clock the expiry is measured on.
    """

    def __init__(
        self,
        keys: Keys,
        *,
        ttl_seconds: float = KEY_CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keys = keys
        self._ttl = ttl_seconds
        self._monotonic = monotonic
        self._answers: dict[str, tuple[float, ApiKey | None]] = {}

    async def resolve(self, secret: str) -> ApiKey | None:
        """Return the live key for ``secret``, or None.

        Raises:
            DependencyUnavailable: the store could not be asked.
        """
        digest = hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
        now = self._monotonic()
        answer = self._answers.get(digest)
        if answer is not None and answer[0] > now:
            return answer[1]
        key = await self._keys.authenticate(secret)
        if len(self._answers) >= MAX_CACHED_KEYS:
            # Unknown keys sent in bulk must not grow the cache without end.
            self._answers.clear()
        self._answers[digest] = (now + self._ttl, key)
        return key


def actor_of(key: ApiKey) -> Actor:
    """Return the actor a key acts as."""
    return Actor(
        actor_id=key.key_id, hub_ids=key.hub_ids, admin=Scope.ADMIN in key.scopes
    )


def authorize(scope: Any, *scopes: Scope) -> Actor:
    """Return who calls, if their key holds one of ``scopes`` (admin holds all).

    Raises:
        Unauthenticated: no valid key.
        Forbidden: the key holds none of the scopes.
        DependencyUnavailable: the key could not be checked.
    """
    context = context_of(scope)
    if context.auth_disabled:
        return ANONYMOUS
    key = context.key
    if key is None:
        if context.key_error is not None:
            raise context.key_error
        raise Unauthenticated(
            "this route needs a valid API key: Authorization: Bearer <key>"
        )
    if not any(key.allows(s) for s in scopes):
        needed = " or ".join(s.value for s in scopes)
        raise Forbidden(f"this API key lacks the scope {needed}")
    return actor_of(key)
