"""Idempotency records and API keys on SQLite."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from nerava.adapters.sqlcolumns import decode_scopes, decode_strings, to_json
from nerava.adapters.sqlite.transaction import (
    Row,
    Store,
    instant,
    micros,
    optional_instant,
    optional_micros,
)
from nerava.domain.access import ApiKey, IdempotencyRecord, StoredResponse

__all__ = ["SqliteApiKeys", "SqliteIdempotencyStore"]


_RECORD_COLUMNS = (
    "scope, key, fingerprint, created_at, locked_until, response_status, response_body"
)


def _record(row: Row) -> IdempotencyRecord:
    return IdempotencyRecord(
        scope=row[0],
        key=row[1],
        fingerprint=row[2],
        created_at=instant(row[3]),
        locked_until=instant(row[4]),
        response=None if row[5] is None else StoredResponse(row[5], bytes(row[6])),
    )


def _claim(
    db: sqlite3.Connection, record: IdempotencyRecord, now: int, expired_before: int
) -> IdempotencyRecord | None:
    claimed = db.execute(
        f"INSERT INTO idempotency_keys ({_RECORD_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, NULL, NULL) "
        "ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, "
        "created_at = excluded.created_at, locked_until = excluded.locked_until, "
        "response_status = NULL, response_body = NULL "
        "WHERE created_at < ? OR (response_status IS NULL AND locked_until <= ?)",
        (
            record.scope,
            record.key,
            record.fingerprint,
            micros(record.created_at),
            micros(record.locked_until),
            expired_before,
            now,
        ),
    ).rowcount
    if claimed:
        return None
    row = db.execute(
        f"SELECT {_RECORD_COLUMNS} FROM idempotency_keys WHERE scope = ? AND key = ?",
        (record.scope, record.key),
    ).fetchone()
    return _record(row)


def _complete(
    db: sqlite3.Connection, scope: str, key: str, response: StoredResponse
) -> None:
    db.execute(
        "UPDATE idempotency_keys SET response_status = ?, response_body = ? "
        "WHERE scope = ? AND key = ?",
        (response.status, response.body, scope, key),
    )


def _release(db: sqlite3.Connection, scope: str, key: str) -> None:
    db.execute(
        "DELETE FROM idempotency_keys "
        "WHERE scope = ? AND key = ? AND response_status IS NULL",
        (scope, key),
    )


def _purge(db: sqlite3.Connection, expired_before: int, limit: int) -> int:
    return db.execute(
        "DELETE FROM idempotency_keys WHERE rowid IN ("
        "SELECT rowid FROM idempotency_keys WHERE created_at < ? LIMIT ?)",
        (expired_before, limit),
    ).rowcount


class SqliteIdempotencyStore(Store):
    """Idempotency records, unique per (scope, key)."""

    async def claim(
        self, record: IdempotencyRecord, *, now: datetime, expired_before: datetime
    ) -> IdempotencyRecord | None:
        """Claim a key, replacing a stale record; else return the live holder."""
        at, expired = micros(now), micros(expired_before)
        return await self._tx.write(lambda db: _claim(db, record, at, expired))

    async def complete(self, scope: str, key: str, response: StoredResponse) -> None:
        """Store the response of a claimed key."""
        await self._tx.write(lambda db: _complete(db, scope, key, response))

    async def release(self, scope: str, key: str) -> None:
        """Drop an unfinished claim so that the request may be sent again."""
        await self._tx.write(lambda db: _release(db, scope, key))

    async def purge(self, expired_before: datetime, *, limit: int) -> int:
        """Delete up to ``limit`` records created before ``expired_before``."""
        expired = micros(expired_before)
        return await self._tx.write(lambda db: _purge(db, expired, limit))


_KEY_COLUMNS = "key_id, name, digest, scopes, hub_ids, created_at, revoked_at"


def _api_key(row: Row) -> ApiKey:
    return ApiKey(
        key_id=row[0],
        name=row[1],
        digest=row[2],
        scopes=decode_scopes(row[3]),
        hub_ids=decode_strings(row[4]),
        created_at=instant(row[5]),
        revoked_at=optional_instant(row[6]),
    )


def _add_key(db: sqlite3.Connection, key: ApiKey) -> None:
    db.execute(
        f"INSERT INTO api_keys ({_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            key.key_id,
            key.name,
            key.digest,
            to_json(key.scopes),
            to_json(key.hub_ids),
            micros(key.created_at),
            optional_micros(key.revoked_at),
        ),
    )


def _key_by_digest(db: sqlite3.Connection, digest: str) -> ApiKey | None:
    row = db.execute(
        f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE digest = ?", (digest,)
    ).fetchone()
    return None if row is None else _api_key(row)


def _list_keys(db: sqlite3.Connection) -> list[ApiKey]:
    rows = db.execute(
        f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_at, key_id"
    )
    return [_api_key(row) for row in rows]


def _revoke_key(db: sqlite3.Connection, key_id: str, at: int) -> bool:
    return (
        db.execute(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE key_id = ?",
            (at, key_id),
        ).rowcount
        == 1
    )


class SqliteApiKeys(Store):
    """API keys by id, found by their unique digest."""

    async def add(self, key: ApiKey) -> None:
        """Store a new key."""
        await self._tx.write(lambda db: _add_key(db, key))

    async def by_digest(self, digest: str) -> ApiKey | None:
        """Return the key with this SHA-256 digest, revoked or not."""
        return await self._tx.read(lambda db: _key_by_digest(db, digest))

    async def list(self) -> list[ApiKey]:
        """Return every key, oldest first."""
        return await self._tx.read(_list_keys)

    async def revoke(self, key_id: str, at: datetime) -> bool:
        """Revoke a key, keeping the first revocation; False when there is none."""
        when = micros(at)
        return await self._tx.write(lambda db: _revoke_key(db, key_id, when))
