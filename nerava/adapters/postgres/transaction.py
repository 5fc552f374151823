"""What the PostgreSQL adapters share: the unit of work they run statements in.

Times are ``timestamptz``; money ``bigint`` cents; energy ``bigint``
watt-hours; structured values ``jsonb`` written and read with msgspec. Unique
indexes, not checks in Python, make "at most once" hold when replicas race:
``INSERT ... ON CONFLICT DO NOTHING`` tells who won.
"""

from __future__ import annotations

from typing import Any, LiteralString, Protocol

from psycopg.abc import Params

__all__ = ["Row", "Store", "Transaction"]

Row = tuple[Any, ...]


class Transaction(Protocol):
    """What the adapters need from a unit of work: statements inside it."""

    @property
    def readonly(self) -> bool:
        """Whether the transaction may only read."""
        ...

    async def fetch_one(
        self, query: LiteralString, params: Params = (), *, write: bool = False
    ) -> Row | None:
        """Run a statement and return its first row."""
        ...

    async def fetch_all(self, query: LiteralString, params: Params = ()) -> list[Row]:
        """Run a query and return every row."""
        ...

    async def execute(self, query: LiteralString, params: Params = ()) -> int:
        """Run a writing statement and return how many rows it touched."""
        ...

    def defer(self, query: LiteralString, params: Params = ()) -> None:
        """Queue a writing statement whose outcome no caller reads.

        It runs, in order, before the next statement or the commit, in the
        same round trip; if it fails, that statement or the commit fails.
        """
        ...


class Store:
    """What every adapter holds: the unit of work it runs statements in."""

    def __init__(self, transaction: Transaction) -> None:
        self._tx = transaction
