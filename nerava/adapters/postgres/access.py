"""Idempotency records and API keys on PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from nerava.adapters.postgres.transaction import Row, Store
from nerava.domain.access import ApiKey, IdempotencyRecord, Scope, StoredResponse

__all__ = ["PostgresApiKeys", "PostgresIdempotencyStore"]


_RECORD_COLUMNS = (
    "scope, key, fingerprint, created_at, locked_until, response_status, response_body"
)


def _record(row: Row) -> IdempotencyRecord:
    return IdempotencyRecord(
        scope=row[0],
        key=row[1],
        fingerprint=row[2],
        created_at=row[3],
        locked_until=row[4],
        response=None if row[5] is None else StoredResponse(row[5], bytes(row[6])),
    )


class PostgresIdempotencyStore(Store):
    """Idempotency records, unique per (scope, key)."""

    async def claim(
        self, record: IdempotencyRecord, *, now: datetime, expired_before: datetime
    ) -> IdempotencyRecord | None:
        """Claim a key, replacing a stale record; else return the live holder."""
        # A racing claim waits on the unique index, then sees the winner's row.
        claimed = await self._tx.execute(
            "INSERT INTO idempotency_keys AS k "
            "(scope, key, fingerprint, created_at, locked_until) "
            "VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (scope, key) DO UPDATE SET "
            "fingerprint = EXCLUDED.fingerprint, created_at = EXCLUDED.created_at, "
            "locked_until = EXCLUDED.locked_until, response_status = NULL, "
            "response_body = NULL "
            "WHERE k.created_at < %s "
            "OR (k.response_status IS NULL AND k.locked_until <= %s)",
            (
                record.scope,
                record.key,
                record.fingerprint,
                record.created_at,
                record.locked_until,
                expired_before,
                now,
            ),
        )
        if claimed:
            return None
        row = await self._tx.fetch_one(
            f"SELECT {_RECORD_COLUMNS} FROM idempotency_keys "
            "WHERE scope = %s AND key = %s",
            (record.scope, record.key),
        )
        assert row is not None, "a refused claim leaves the holder's row locked"
        return _record(row)

    async def complete(self, scope: str, key: str, response: StoredResponse) -> None:
        """Store the response of a claimed key."""
        self._tx.defer(
            "UPDATE idempotency_keys SET response_status = %s, response_body = %s "
            "WHERE scope = %s AND key = %s",
            (response.status, response.body, scope, key),
        )

    async def release(self, scope: str, key: str) -> None:
        """Drop an unfinished claim so that the request may be sent again."""
        await self._tx.execute(
            "DELETE FROM idempotency_keys "
            "WHERE scope = %s AND key = %s AND response_status IS NULL",
            (scope, key),
        )

    async def purge(self, expired_before: datetime, *, limit: int) -> int:
        """Delete up to ``limit`` records created before ``expired_before``."""
        return await self._tx.execute(
            "DELETE FROM idempotency_keys WHERE (scope, key) IN ("
            "SELECT scope, key FROM idempotency_keys WHERE created_at < %s LIMIT %s)",
            (expired_before, limit),
        )


_KEY_COLUMNS = "key_id, name, digest, scopes, hub_ids, created_at, revoked_at"


def _api_key(row: Row) -> ApiKey:
    return ApiKey(
        key_id=row[0],
        name=row[1],
        digest=row[2],
        scopes=tuple(Scope(s) for s in row[3]),
        hub_ids=tuple(row[4]),
        created_at=row[5],
        revoked_at=row[6],
    )


class PostgresApiKeys(Store):
    """API keys by id, found by their unique digest."""

    async def add(self, key: ApiKey) -> None:
        """Store a new key."""
        await self._tx.execute(
            f"INSERT INTO api_keys ({_KEY_COLUMNS}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                key.key_id,
                key.name,
                key.digest,
                [s.value for s in key.scopes],
                list(key.hub_ids),
                key.created_at,
                key.revoked_at,
            ),
        )

    async def by_digest(self, digest: str) -> ApiKey | None:
        """Return the key with this SHA-256 digest, revoked or not."""
        row = await self._tx.fetch_one(
            f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE digest = %s", (digest,)
        )
        return None if row is None else _api_key(row)

    async def list(self) -> list[ApiKey]:
        """Return every key, oldest first."""
        rows = await self._tx.fetch_all(
            f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_at, key_id"
        )
        return [_api_key(row) for row in rows]

    async def revoke(self, key_id: str, at: datetime) -> bool:
        """Revoke a key, keeping the first revocation; False when there is none."""
        revoked = await self._tx.execute(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, %s) "
            "WHERE key_id = %s",
            (at, key_id),
        )
        return revoked == 1
