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
        # A change brings one or two events; one statement costs far less
        # than a pipelined executemany for so few rows.
        if len(rows) == 1:
            await self._tx.execute(_INSERT_ONE, rows[0])
        elif len(rows) == 2:
            await self._tx.execute(_INSERT_TWO, (*rows[0], *rows[1]))
        elif rows:
            await self._tx.execute_many(_INSERT_ONE, rows)

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
            await self._tx.execute(
                "UPDATE outbox SET published_at = %s WHERE position = ANY(%s)",
                (at, list(positions)),
            )
