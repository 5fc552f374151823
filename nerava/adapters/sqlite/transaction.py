"""What the SQLite adapters share: the unit of work they run jobs in, and time.

Times are stored as integer microseconds since the Unix epoch, UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from nerava.adapters.sqlite.connection import Job

__all__ = [
    "Row",
    "Store",
    "Transaction",
    "instant",
    "micros",
    "optional_instant",
    "optional_micros",
]

T = TypeVar("T")
Row = tuple[Any, ...]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class Transaction(Protocol):
    """What the adapters need from a unit of work: run jobs inside it."""

    async def read(self, job: Job[T]) -> T:
        """Run a job that only reads."""
        ...

    async def write(self, job: Job[T]) -> T:
        """Run a job that writes; refused in a read-only unit of work."""
        ...

    def hold(self) -> None:
        """Hold the file's write lock until the unit of work ends."""
        ...


def micros(at: datetime) -> int:
    """Return an aware instant as integer microseconds since the Unix epoch."""
    return (at - _EPOCH) // _MICROSECOND


def optional_micros(at: datetime | None) -> int | None:
    """Return an optional instant as microseconds, None as None."""
    return None if at is None else micros(at)


def optional_instant(value: int | None) -> datetime | None:
    """Return stored microseconds as an instant in UTC, None as None."""
    return None if value is None else _EPOCH + timedelta(microseconds=value)


def instant(value: int) -> datetime:
    """Return stored microseconds as an instant in UTC."""
    return _EPOCH + timedelta(microseconds=value)


class Store:
    """What every adapter holds: the unit of work it runs in."""

    def __init__(self, transaction: Transaction) -> None:
        self._tx = transaction
