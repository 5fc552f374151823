"""The event outbox on PostgreSQL, in order of position."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from nerava.adapters.postgres.transaction import Store
from nerava.adapters.sqlcolumns import decode_event
from nerava.domain.events import DomainEvent, encode_event
from nerava.ports.events import OutboxRecord

__all__ = ["PostgresOutbox"]


_INSERT_ONE = "INSERT INTO outbox (event_id, event, created_at) VALUES (%s, %s, %s)"
_INSERT_TWO = _INSERT_ONE + ", (%s, %s, %s)"


class PostgresOutbox(Store):
    """Events stored with the change that caused them, in order of position."""

    async def append(self, events: Sequence[DomainEvent]) -> None:
        """Store events for delivery after commit."""
        rows = [(e.event_id, encode_event(e).decode(), e.occurred_at) for e in events]
        # A change brings one or two events. Two go in one statement, whose
        # rows take their positions in the order given.
        if len(rows) == 2:
            self._tx.defer(_INSERT_TWO, (*rows[0], *rows[1]))
        else:
            for row in rows:
                self._tx.defer(_INSERT_ONE, row)

    async def unpublished(self, limit: int) -> list[OutboxRecord]:
        """Return up to ``limit`` undelivered events in the order they were stored."""
        rows = await self._tx.fetch_all(
            "SELECT position, event, created_at FROM outbox "
            "WHERE published_at IS NULL ORDER BY position LIMIT %s",
            (limit,),
        )
        return [
            OutboxRecord(position=r[0], event=decode_event(r[1]), created_at=r[2])
            for r in rows
        ]

    async def mark_published(self, positions: Sequence[int], at: datetime) -> None:
        """Record that these events were delivered."""
        if positions:
            self._tx.defer(
                "UPDATE outbox SET published_at = %s WHERE position = ANY(%s)",
                (at, list(positions)),
            )

    async def purge_delivered(self, delivered_before: datetime, *, limit: int) -> int:
        """Delete, of the ``limit`` oldest events, those delivered before a time."""
        # Only the oldest rows are looked at, through the primary key; the
        # table has no index on delivery time.
        return await self._tx.execute(
            "DELETE FROM outbox WHERE position IN ("
            "SELECT position FROM outbox ORDER BY position LIMIT %s) "
            "AND published_at < %s",
            (limit, delivered_before),
        )
