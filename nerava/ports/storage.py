"""Durable state behind a unit of work: windows, sessions, ledger and the rest.

A unit of work is one transaction. Leaving its ``async with`` block without
``commit()`` rolls everything back. Adapters turn a database that is down or
too slow into ``DependencyUnavailable``; they never leave a partial write.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from nerava.domain.access import ApiKey, IdempotencyRecord, StoredResponse
from nerava.domain.events import DomainEvent
from nerava.domain.sessions import Session
from nerava.domain.wallet import Entry, PendingCredit
from nerava.domain.windows import Window
from nerava.ports.events import OutboxRecord

__all__ = [
    "ApiKeys",
    "Database",
    "IdempotencyStore",
    "Ledger",
    "Outbox",
    "PendingCredits",
    "SessionRepository",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "WindowCatalog",
]


class WindowCatalog(Protocol):
    """The windows the grid operator has published."""

    async def list(self) -> list[Window]:
        """Return every window, ordered by id."""
        ...

    async def get(self, window_id: str) -> Window | None:
        """Return one window, or None."""
        ...

    async def put(self, window: Window) -> bool:
        """Create or replace a window; return True when it was created."""
        ...

    async def delete(self, window_id: str) -> bool:
        """Delete a window; return False when there was none."""
        ...

    async def version(self) -> int:
        """Return a number that grows with every change to the catalog."""
        ...


class SessionRepository(Protocol):
    """Charging sessions; at most one active per user, enforced by the store."""

    async def add(self, session: Session) -> str | None:
        """Insert a new active session unless its user already has one.

        Returns:
            None when inserted; otherwise the id of the user's active session,
            and nothing is written.
        """
        ...

    async def get(self, session_id: str, *, for_update: bool = False) -> Session | None:
        """Return a session, locking it until the unit of work ends if asked."""
        ...

    async def active_for_user(self, user_id: str) -> Session | None:
        """Return the user's active session, if any."""
        ...

    async def update(self, session: Session) -> None:
        """Store the new state of an existing session."""
        ...


class Ledger(Protocol):
    """Append-only wallet entries; one ``charge_reward`` per session."""

    async def lock_wallet(self, user_id: str) -> None:
        """Hold the user's wallet against other writers until the unit of work ends."""
        ...

    async def balance(self, user_id: str) -> int:
        """Return the sum of the user's entries, in cents."""
        ...

    async def append(self, entry: Entry) -> bool:
        """Append an entry; return False, writing nothing, when the session already
        has a ``charge_reward``.

        Raises:
            InsufficientFunds: the entry would take the balance below zero;
                nothing is written.
        """
        ...

    async def entries(
        self, user_id: str, *, limit: int, cursor: str | None = None
    ) -> tuple[list[Entry], str | None]:
        """Return up to ``limit`` entries, newest first, and the next page's cursor.

        Raises:
            ValidationFailed: on field ``cursor`` when it is not one this ledger made.
        """
        ...

    async def reward_for(self, session_id: str) -> Entry | None:
        """Return the ``charge_reward`` entry of a session, if credited."""
        ...

    async def entry(self, entry_id: str) -> Entry | None:
        """Return one entry by its id, or None."""
        ...


class PendingCredits(Protocol):
    """Rewards accepted at a stop and waiting to be credited (async mode)."""

    async def add(self, credit: PendingCredit) -> None:
        """Queue a credit; one per session: a second one is ignored."""
        ...

    async def due(self, now: datetime, limit: int) -> list[PendingCredit]:
        """Return up to ``limit`` credits whose next attempt is due, oldest first."""
        ...

    async def take(self, session_id: str) -> PendingCredit | None:
        """Remove and return a session's credit, locking it; None if already taken."""
        ...

    async def reschedule(
        self, session_id: str, next_attempt_at: datetime, error: str
    ) -> None:
        """Count a failed attempt and set when to try again."""
        ...

    async def pending_cents(self, user_id: str) -> int:
        """Return the sum of the user's pending credits, in cents."""
        ...

    async def count(self) -> int:
        """Return how many credits are pending in all."""
        ...


class Outbox(Protocol):
    """Events stored in the same transaction as the change that caused them."""

    async def append(self, events: Sequence[DomainEvent]) -> None:
        """Store events for delivery after commit."""
        ...

    async def unpublished(self, limit: int) -> list[OutboxRecord]:
        """Return up to ``limit`` undelivered events in the order they were stored."""
        ...

    async def mark_published(self, positions: Sequence[int], at: datetime) -> None:
        """Record that these events were delivered."""
        ...

    async def purge_delivered(self, delivered_before: datetime, *, limit: int) -> int:
        """Delete, of the ``limit`` oldest events, those delivered before a time.

        Positions are never given again after a purge.

        Returns:
            How many were deleted; ``limit`` when older ones may be left.
        """
        ...


class IdempotencyStore(Protocol):
    """Responses kept per (scope, idempotency key) so that repeats replay them."""

    async def claim(
        self, record: IdempotencyRecord, *, now: datetime, expired_before: datetime
    ) -> IdempotencyRecord | None:
        """Claim a key for a new request, atomically.

        A record older than ``expired_before``, or an unfinished one whose
        lock has lapsed at ``now``, counts as absent and is replaced.

        Returns:
            None when the claim is ours; otherwise the record that holds the key.
        """
        ...

    async def complete(self, scope: str, key: str, response: StoredResponse) -> None:
        """Store the response of a claimed key."""
        ...

    async def release(self, scope: str, key: str) -> None:
        """Drop an unfinished claim so that the request may be sent again."""
        ...

    async def purge(self, expired_before: datetime, *, limit: int) -> int:
        """Delete up to ``limit`` records created before ``expired_before``.

        Returns:
            How many were deleted; ``limit`` when more may be left.
        """
        ...


class ApiKeys(Protocol):
    """API keys, stored as digests."""

    async def add(self, key: ApiKey) -> None:
        """Store a new key."""
        ...

    async def by_digest(self, digest: str) -> ApiKey | None:
        """Return the key with this SHA-256 digest, revoked or not."""
        ...

    async def list(self) -> list[ApiKey]:
        """Return every key, oldest first."""
        ...

    async def revoke(self, key_id: str, at: datetime) -> bool:
        """Revoke a key; return False when there is no such key."""
        ...


class UnitOfWork(Protocol):
    """One transaction over every store."""

    @property
    def windows(self) -> WindowCatalog:
        """The window catalog."""
        ...

    @property
    def sessions(self) -> SessionRepository:
        """The charging sessions."""
        ...

    @property
    def ledger(self) -> Ledger:
        """The wallet ledger."""
        ...

    @property
    def credits(self) -> PendingCredits:
        """The pending credits."""
        ...

    @property
    def outbox(self) -> Outbox:
        """The event outbox."""
        ...

    @property
    def idempotency(self) -> IdempotencyStore:
        """The idempotency records."""
        ...

    @property
    def api_keys(self) -> ApiKeys:
        """The API keys."""
        ...

    async def __aenter__(self) -> Self:
        """Begin the transaction."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """End the transaction, rolling back whatever was not committed."""
        ...

    async def commit(self) -> None:
        """Make every change of this unit of work durable, at once."""
        ...


class UnitOfWorkFactory(Protocol):
    """Begins units of work."""

    def __call__(self, *, readonly: bool = False) -> UnitOfWork:
        """Return a new unit of work; a read-only one may not write."""
        ...


class Database(Protocol):
    """A store's lifecycle: open its connections, check it, close it."""

    async def open(self) -> None:
        """Connect; the schema must already be migrated."""
        ...

    async def close(self) -> None:
        """Release every connection."""
        ...

    async def ping(self) -> None:
        """Raise ``DependencyUnavailable`` unless the store answers a trivial query."""
        ...

    def unit_of_work(self, *, readonly: bool = False) -> UnitOfWork:
        """Return a new unit of work."""
        ...
