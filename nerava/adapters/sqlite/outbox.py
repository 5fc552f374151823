"""The event outbox on SQLite, in order of position."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from nerava.adapters.sqlcolumns import decode_event
from nerava.adapters.sqlite.transaction import Store, instant, micros
from nerava.domain.events import DomainEvent, encode_event
from nerava.ports.events import OutboxRecord

__all__ = ["SqliteOutbox"]


def _append_events(db: sqlite3.Connection, events: Sequence[DomainEvent]) -> None:
    db.executemany(
        "INSERT INTO outbox (event_id, event, created_at) VALUES (?, ?, ?)",
        [
            (event.event_id, encode_event(event).decode(), micros(event.occurred_at))
            for event in events
        ],
    )


def _unpublished(db: sqlite3.Connection, limit: int) -> list[OutboxRecord]:
    rows = db.execute(
        "SELECT position, event, created_at FROM outbox "
        "WHERE published_at IS NULL ORDER BY position LIMIT ?",
        (limit,),
    )
    return [
        OutboxRecord(
            position=row[0], event=decode_event(row[1]), created_at=instant(row[2])
        )
        for row in rows
    ]


def _mark_published(db: sqlite3.Connection, positions: Sequence[int], at: int) -> None:
    db.executemany(
        "UPDATE outbox SET published_at = ? WHERE position = ?",
        [(at, position) for position in positions],
    )


def _purge_delivered(db: sqlite3.Connection, delivered_before: int, limit: int) -> int:
    return db.execute(
        "DELETE FROM outbox WHERE position IN ("
        "SELECT position FROM outbox ORDER BY position LIMIT ?) "
        "AND published_at < ?",
        (limit, delivered_before),
    ).rowcount


class SqliteOutbox(Store):
    """Events stored with the change that caused them, in order of position."""

    async def append(self, events: Sequence[DomainEvent]) -> None:
        """Store events for delivery after commit."""
        batch = list(events)
        if batch:
            await self._tx.write(lambda db: _append_events(db, batch))

    async def unpublished(self, limit: int) -> list[OutboxRecord]:
        """Return up to ``limit`` undelivered events in the order they were stored."""
        return await self._tx.read(lambda db: _unpublished(db, limit))

    async def mark_published(self, positions: Sequence[int], at: datetime) -> None:
        """Record that these events were delivered."""
        batch, when = list(positions), micros(at)
        await self._tx.write(lambda db: _mark_published(db, batch, when))

    async def purge_delivered(self, delivered_before: datetime, *, limit: int) -> int:
        """Delete, of the ``limit`` oldest events, those delivered before a time."""
        # Only the oldest rows are looked at, through the primary key; the
        # table has no index on delivery time. AUTOINCREMENT keeps a
        # deleted position from being given again.
        before = micros(delivered_before)
        return await self._tx.write(lambda db: _purge_delivered(db, before, limit))
