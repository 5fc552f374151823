"""API keys and idempotency records: who may act, and what was already answered."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import msgspec

__all__ = [
    "ApiKey",
    "IdempotencyRecord",
    "Scope",
    "StoredResponse",
]


class Scope(StrEnum):
    """What a key may do."""

    EVENTS_WRITE = "events:write"
    WALLET_READ = "wallet:read"
    WALLET_WRITE = "wallet:write"
    ADMIN = "admin"


class ApiKey(msgspec.Struct, frozen=True, kw_only=True):
    """A key as stored: its SHA-256 digest, never the key itself."""

    key_id: str
    name: str
    digest: str
    scopes: tuple[Scope, ...]
    hub_ids: tuple[str, ...] = ()
    created_at: datetime
    revoked_at: datetime | None = None

    def allows(self, scope: Scope) -> bool:
        """Whether the key holds ``scope`` (admin holds every scope)."""
        return Scope.ADMIN in self.scopes or scope in self.scopes

    def allows_hub(self, hub_id: str) -> bool:
        """Whether the key may act for ``hub_id``."""
        return Scope.ADMIN in self.scopes or not self.hub_ids or hub_id in self.hub_ids


class StoredResponse(msgspec.Struct, frozen=True):
    """A response kept to replay: status and exact body bytes."""

    status: int
    body: bytes


class IdempotencyRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An idempotency key's claim, and once done, the response it produced."""

    scope: str
    key: str
    fingerprint: str
    created_at: datetime
    locked_until: datetime
    response: StoredResponse | None = None

    def in_progress(self, now: datetime) -> bool:
        """Whether the first request still holds the key."""
        return self.response is None and now < self.locked_until
