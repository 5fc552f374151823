"""Every storage port in process memory, with real transactions.

Writers take one lock, so write units of work run one at a time, as on
SQLite. Each change records how to undo itself; leaving a unit of work
without committing replays those undos in reverse.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Self

import msgspec

from nerava.domain.access import ApiKey, IdempotencyRecord, StoredResponse
from nerava.domain.errors import InsufficientFunds, ValidationFailed
from nerava.domain.events import DomainEvent
from nerava.domain.sessions import Session, SessionState
from nerava.domain.wallet import Entry, EntryKind, PendingCredit
from nerava.domain.windows import Window, default_windows
from nerava.ports.events import OutboxRecord

__all__ = ["MemoryDatabase", "MemoryUnitOfWork"]

Undo = Callable[[], object]
UndoLog = list[Undo]


@dataclass
class _State:
    windows: dict[str, Window] = field(default_factory=dict)
    catalog_version: int = 0
    sessions: dict[str, Session] = field(default_factory=dict)
    active_by_user: dict[str, str] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    entry_positions_by_user: dict[str, list[int]] = field(default_factory=dict)
    balances: dict[str, int] = field(default_factory=dict)
    rewards_by_session: dict[str, int] = field(default_factory=dict)
    credits: dict[str, PendingCredit] = field(default_factory=dict)
    outbox: dict[int, OutboxRecord] = field(default_factory=dict)
    outbox_last_position: int = 0
    idempotency: dict[tuple[str, str], IdempotencyRecord] = field(default_factory=dict)
    api_keys: dict[str, ApiKey] = field(default_factory=dict)

    def snapshot(self) -> _State:
        """Copy the containers; the values in them are never changed in place."""
        return _State(
            windows=dict(self.windows),
            catalog_version=self.catalog_version,
            sessions=dict(self.sessions),
            active_by_user=dict(self.active_by_user),
            entries=list(self.entries),
            entry_positions_by_user={
                user: list(positions)
                for user, positions in self.entry_positions_by_user.items()
            },
            balances=dict(self.balances),
            rewards_by_session=dict(self.rewards_by_session),
            credits=dict(self.credits),
            outbox=dict(self.outbox),
            outbox_last_position=self.outbox_last_position,
            idempotency=dict(self.idempotency),
            api_keys=dict(self.api_keys),
        )


def _set(mapping: dict, key: object, value: object, undo: UndoLog) -> None:  # type: ignore[type-arg]
    if key in mapping:
        old = mapping[key]
        undo.append(lambda: mapping.__setitem__(key, old))
    else:
        undo.append(lambda: mapping.pop(key, None))
    mapping[key] = value


def _pop(mapping: dict, key: object, undo: UndoLog) -> None:  # type: ignore[type-arg]
    if key in mapping:
        old = mapping.pop(key)
        undo.append(lambda: mapping.__setitem__(key, old))


class MemoryDatabase:
    """The memory store's lifecycle; ``unit_of_work`` begins transactions on it.

    Args:
        seed_default_windows: start the catalog with the two default windows,
            as the first migration of a durable store does.
    """

    def __init__(self, *, seed_default_windows: bool = True) -> None:
        self._store = _Store(_State())
        if seed_default_windows:
            for window in default_windows():
                self._store.live.windows[window.id] = window
        self._store.publish()

    async def open(self) -> None:
        """Nothing to connect."""

    async def close(self) -> None:
        """Nothing to release."""

    async def ping(self) -> None:
        """Memory always answers."""

    def unit_of_work(self, *, readonly: bool = False) -> MemoryUnitOfWork:
        """Return a new unit of work over this store."""
        return MemoryUnitOfWork(self._store, readonly=readonly)

    __call__ = unit_of_work


class _Part:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    @property
    def _s(self) -> _State:
        return self._uow.state

    def _undo(self) -> UndoLog:
        return self._uow.writable_undo()


class MemoryWindowCatalog(_Part):
    """Windows in memory."""

    async def list(self) -> list[Window]:
        """Return every window by id."""
        return [self._s.windows[k] for k in sorted(self._s.windows)]

    async def get(self, window_id: str) -> Window | None:
        """Return one window."""
        return self._s.windows.get(window_id)

    async def put(self, window: Window) -> bool:
        """Create or replace a window."""
        undo = self._undo()
        created = window.id not in self._s.windows
        _set(self._s.windows, window.id, window, undo)
        self._bump(undo)
        return created

    async def delete(self, window_id: str) -> bool:
        """Delete a window."""
        undo = self._undo()
        if window_id not in self._s.windows:
            return False
        _pop(self._s.windows, window_id, undo)
        self._bump(undo)
        return True

    async def version(self) -> int:
        """Return the catalog's version."""
        return self._s.catalog_version

    def _bump(self, undo: UndoLog) -> None:
        old = self._s.catalog_version
        self._s.catalog_version = old + 1
        undo.append(lambda: setattr(self._s, "catalog_version", old))


class MemorySessionRepository(_Part):
    """Sessions in memory; the active-per-user index plays the unique constraint."""

    async def add(self, session: Session) -> str | None:
        """Insert an active session unless the user has one."""
        undo = self._undo()
        active = self._s.active_by_user.get(session.user_id)
        if active is not None:
            return active
        _set(self._s.sessions, session.session_id, session, undo)
        _set(self._s.active_by_user, session.user_id, session.session_id, undo)
        return None

    async def get(self, session_id: str, *, for_update: bool = False) -> Session | None:
        """Return a session; the write lock already serialises writers."""
        return self._s.sessions.get(session_id)

    async def active_for_user(self, user_id: str) -> Session | None:
        """Return the user's active session."""
        session_id = self._s.active_by_user.get(user_id)
        return None if session_id is None else self._s.sessions[session_id]

    async def update(self, session: Session) -> None:
        """Store a session's new state."""
        undo = self._undo()
        _set(self._s.sessions, session.session_id, session, undo)
        holder = self._s.active_by_user.get(session.user_id)
        if session.state is not SessionState.ACTIVE and holder == session.session_id:
            _pop(self._s.active_by_user, session.user_id, undo)


class MemoryLedger(_Part):
    """Wallet entries in memory, with a running balance per user."""

    async def lock_wallet(self, user_id: str) -> None:
        """The write lock already serialises every writer."""
        self._undo()

    async def balance(self, user_id: str) -> int:
        """Return the user's balance."""
        return self._s.balances.get(user_id, 0)

    async def append(self, entry: Entry) -> bool:
        """Append an entry unless it would credit a session twice.

        Raises:
            InsufficientFunds: the entry would take the balance below zero.
        """
        undo = self._undo()
        state = self._s
        balance = state.balances.get(entry.user_id, 0)
        if balance + entry.amount_cents < 0:
            raise InsufficientFunds(entry.user_id, balance, -entry.amount_cents)
        if entry.kind is EntryKind.CHARGE_REWARD:
            if entry.session_id in state.rewards_by_session:
                return False
            _set(state.rewards_by_session, entry.session_id, len(state.entries), undo)
        position = len(state.entries)
        state.entries.append(entry)
        undo.append(state.entries.pop)
        positions = state.entry_positions_by_user.setdefault(entry.user_id, [])
        positions.append(position)
        undo.append(positions.pop)
        _set(
            state.balances,
            entry.user_id,
            state.balances.get(entry.user_id, 0) + entry.amount_cents,
            undo,
        )
        return True

    async def entries(
        self, user_id: str, *, limit: int, cursor: str | None = None
    ) -> tuple[list[Entry], str | None]:
        """Return a page of entries, newest first."""
        positions = self._s.entry_positions_by_user.get(user_id, [])
        end = len(positions)
        if cursor is not None:
            if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 18:
                raise ValidationFailed.on("cursor", "is not a cursor of this wallet")
            end = bisect.bisect_left(positions, int(cursor))
        start = max(0, end - limit)
        page = [self._s.entries[p] for p in reversed(positions[start:end])]
        next_cursor = str(positions[start]) if start > 0 else None
        return page, next_cursor

    async def entry(self, entry_id: str) -> Entry | None:
        """Return one entry by its id."""
        return next((e for e in self._s.entries if e.entry_id == entry_id), None)

    async def reward_for(self, session_id: str) -> Entry | None:
        """Return the session's reward entry."""
        position = self._s.rewards_by_session.get(session_id)
        return None if position is None else self._s.entries[position]


class MemoryPendingCredits(_Part):
    """Pending credits in memory."""

    async def add(self, credit: PendingCredit) -> None:
        """Queue a credit; a second one for the same session is ignored."""
        undo = self._undo()
        if credit.session_id not in self._s.credits:
            _set(self._s.credits, credit.session_id, credit, undo)

    async def due(self, now: datetime, limit: int) -> list[PendingCredit]:
        """Return due credits, oldest first."""
        due = [
            c
            for c in self._s.credits.values()
            if c.next_attempt_at is None or c.next_attempt_at <= now
        ]
        due.sort(key=lambda c: c.created_at)
        return due[:limit]

    async def take(self, session_id: str) -> PendingCredit | None:
        """Remove and return a credit."""
        undo = self._undo()
        credit = self._s.credits.get(session_id)
        _pop(self._s.credits, session_id, undo)
        return credit

    async def reschedule(
        self, session_id: str, next_attempt_at: datetime, error: str
    ) -> None:
        """Count a failed attempt."""
        undo = self._undo()
        credit = self._s.credits.get(session_id)
        if credit is not None:
            changed = PendingCredit(
                session_id=credit.session_id,
                user_id=credit.user_id,
                amount_cents=credit.amount_cents,
                created_at=credit.created_at,
                attempts=credit.attempts + 1,
                next_attempt_at=next_attempt_at,
                last_error=error,
            )
            _set(self._s.credits, session_id, changed, undo)

    async def pending_cents(self, user_id: str) -> int:
        """Return the user's pending total."""
        return sum(
            c.amount_cents for c in self._s.credits.values() if c.user_id == user_id
        )

    async def count(self) -> int:
        """Return how many credits are pending."""
        return len(self._s.credits)


class MemoryOutbox(_Part):
    """The outbox in memory."""

    async def append(self, events: Sequence[DomainEvent]) -> None:
        """Store events."""
        undo = self._undo()
        state = self._s
        for event in events:
            last = state.outbox_last_position
            undo.append(lambda last=last: setattr(state, "outbox_last_position", last))  # type: ignore[misc]
            state.outbox_last_position = position = last + 1
            record = OutboxRecord(
                position=position, event=event, created_at=event.occurred_at
            )
            _set(state.outbox, position, record, undo)

    async def unpublished(self, limit: int) -> list[OutboxRecord]:
        """Return undelivered events in order."""
        return [r for r in self._s.outbox.values() if r.published_at is None][:limit]

    async def mark_published(self, positions: Sequence[int], at: datetime) -> None:
        """Mark events delivered."""
        undo = self._undo()
        outbox = self._s.outbox
        for position in positions:
            old = outbox.get(position)
            if old is not None:
                published = msgspec.structs.replace(old, published_at=at)
                _set(outbox, position, published, undo)

    async def purge_delivered(self, delivered_before: datetime, *, limit: int) -> int:
        """Delete, of the oldest events, those delivered before a time."""
        undo = self._undo()
        outbox = self._s.outbox
        oldest = list(outbox.values())[:limit]
        delivered = [
            r.position
            for r in oldest
            if r.published_at is not None and r.published_at < delivered_before
        ]
        for position in delivered:
            _pop(outbox, position, undo)
        return len(delivered)


class MemoryIdempotencyStore(_Part):
    """Idempotency records in memory."""

    async def claim(
        self, record: IdempotencyRecord, *, now: datetime, expired_before: datetime
    ) -> IdempotencyRecord | None:
        """Claim a key unless a live record holds it."""
        undo = self._undo()
        slot = (record.scope, record.key)
        existing = self._s.idempotency.get(slot)
        if (
            existing is not None
            and existing.created_at >= expired_before
            and (existing.response is not None or existing.locked_until > now)
        ):
            return existing
        _set(self._s.idempotency, slot, record, undo)
        return None

    async def complete(self, scope: str, key: str, response: StoredResponse) -> None:
        """Store the response of a claimed key."""
        undo = self._undo()
        existing = self._s.idempotency.get((scope, key))
        if existing is not None:
            done = IdempotencyRecord(
                scope=scope,
                key=key,
                fingerprint=existing.fingerprint,
                created_at=existing.created_at,
                locked_until=existing.locked_until,
                response=response,
            )
            _set(self._s.idempotency, (scope, key), done, undo)

    async def release(self, scope: str, key: str) -> None:
        """Drop an unfinished claim."""
        undo = self._undo()
        existing = self._s.idempotency.get((scope, key))
        if existing is not None and existing.response is None:
            _pop(self._s.idempotency, (scope, key), undo)

    async def purge(self, expired_before: datetime, *, limit: int) -> int:
        """Delete up to ``limit`` old records."""
        undo = self._undo()
        old = [
            k for k, r in self._s.idempotency.items() if r.created_at < expired_before
        ][:limit]
        for slot in old:
            _pop(self._s.idempotency, slot, undo)
        return len(old)


class MemoryApiKeys(_Part):
    """API keys in memory."""

    async def add(self, key: ApiKey) -> None:
        """Store a key."""
        _set(self._s.api_keys, key.key_id, key, self._undo())

    async def by_digest(self, digest: str) -> ApiKey | None:
        """Find a key by digest."""
        return next((k for k in self._s.api_keys.values() if k.digest == digest), None)

    async def list(self) -> list[ApiKey]:
        """Return keys, oldest first."""
        return sorted(self._s.api_keys.values(), key=lambda k: (k.created_at, k.key_id))

    async def revoke(self, key_id: str, at: datetime) -> bool:
        """Revoke a key."""
        undo = self._undo()
        key = self._s.api_keys.get(key_id)
        if key is None:
            return False
        if key.revoked_at is None:
            revoked = ApiKey(
                key_id=key.key_id,
                name=key.name,
                digest=key.digest,
                scopes=key.scopes,
                hub_ids=key.hub_ids,
                created_at=key.created_at,
                revoked_at=at,
            )
            _set(self._s.api_keys, key_id, revoked, undo)
        return True


class _Store:
    """The live state that writers change, and the last committed copy of it."""

    def __init__(self, live: _State) -> None:
        self.live = live
        self.committed = live
        self.write_lock = asyncio.Lock()

    def publish(self) -> None:
        """Make the live state, as it is now, what read-only units begin from."""
        # Limitation: each commit copies every container, so a commit costs
        # time in proportion to all that is stored (milliseconds at tens of
        # thousands of entries): right for tests and tools, not for large
        # data; append-only containers shared with a length would lift it.
        self.committed = self.live.snapshot()


class MemoryUnitOfWork:
    """A transaction over the memory store.

    A write unit holds the store's write lock and changes the live state in
    place, with an undo log; each commit publishes a copy of it. A read-only
    unit reads the copy published last before it began: one snapshot of
    committed state, never changed while it reads.
    """

    def __init__(self, store: _Store, *, readonly: bool = False) -> None:
        self._store = store
        self.state = store.live
        self._lock = None if readonly else store.write_lock
        self._undo: UndoLog = []
        self._entered = False
        self.windows = MemoryWindowCatalog(self)
        self.sessions = MemorySessionRepository(self)
        self.ledger = MemoryLedger(self)
        self.credits = MemoryPendingCredits(self)
        self.outbox = MemoryOutbox(self)
        self.idempotency = MemoryIdempotencyStore(self)
        self.api_keys = MemoryApiKeys(self)

    def writable_undo(self) -> UndoLog:
        """Return the undo log, refusing writes outside a write transaction."""
        if self._lock is None or not self._entered:
            raise RuntimeError("write outside a write unit of work")
        return self._undo

    async def __aenter__(self) -> Self:
        """Begin: writers wait for the write lock; readers take the last commit."""
        if self._lock is not None:
            await self._lock.acquire()
        else:
            self.state = self._store.committed
        self._entered = True
        self._undo = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back what was not committed and let the next writer in."""
        try:
            self.rollback()
        finally:
            self._entered = False
            if self._lock is not None:
                self._lock.release()

    async def commit(self) -> None:
        """Keep every change made so far."""
        if self._undo:
            self._store.publish()
        self._undo = []

    def rollback(self) -> None:
        """Undo every change since the last commit."""
        while self._undo:
            self._undo.pop()()
