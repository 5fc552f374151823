"""The wallet on SQLite: ledger entries, balance rows, pending credits."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from nerava.adapters.sqlcolumns import cursor_position
from nerava.adapters.sqlite.transaction import (
    Row,
    Store,
    Transaction,
    instant,
    micros,
    optional_instant,
    optional_micros,
)
from nerava.domain.errors import InsufficientFunds
from nerava.domain.wallet import Entry, EntryKind, PendingCredit

__all__ = ["SqliteLedger", "SqlitePendingCredits"]


_ENTRY_COLUMNS = (
    "entry_id, user_id, kind, amount_cents, created_at, session_id, reason, "
    "actor, reverses_entry_id"
)


def _entry(row: Row) -> Entry:
    return Entry(
        entry_id=row[0],
        user_id=row[1],
        kind=EntryKind(row[2]),
        amount_cents=row[3],
        created_at=instant(row[4]),
        session_id=row[5],
        reason=row[6],
        actor=row[7],
        reverses_entry_id=row[8],
    )


def _balance(db: sqlite3.Connection, user_id: str) -> int:
    row = db.execute(
        "SELECT balance_cents FROM wallets WHERE user_id = ?", (user_id,)
    ).fetchone()
    return 0 if row is None else int(row[0])


def _append_entry(db: sqlite3.Connection, entry: Entry) -> int | None:
    """Append an entry; return the balance after it, or None for a second reward."""
    if entry.amount_cents < 0:
        balance = _balance(db, entry.user_id)
        if balance + entry.amount_cents < 0:
            raise InsufficientFunds(entry.user_id, balance, -entry.amount_cents)

    inserted = db.execute(
        f"INSERT INTO ledger_entries ({_ENTRY_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT (session_id) WHERE kind = 'charge_reward' DO NOTHING",
        (
            entry.entry_id,
            entry.user_id,
            entry.kind.value,
            entry.amount_cents,
            micros(entry.created_at),
            entry.session_id,
            entry.reason,
            entry.actor,
            entry.reverses_entry_id,
        ),
    ).rowcount
    if not inserted:
        return None

    if entry.amount_cents < 0:
        # SQLite checks the new row's CHECK before it sees the conflict, so
        # a debit, whose wallet row exists, updates it directly.
        rows = db.execute(
            "UPDATE wallets SET balance_cents = balance_cents + ? WHERE user_id = ? "
            "RETURNING balance_cents",
            (entry.amount_cents, entry.user_id),
        ).fetchall()
    else:
        rows = db.execute(
            "INSERT INTO wallets (user_id, balance_cents) VALUES (?, ?) "
            "ON CONFLICT (user_id) "
            "DO UPDATE SET balance_cents = balance_cents + excluded.balance_cents "
            "RETURNING balance_cents",
            (entry.user_id, entry.amount_cents),
        ).fetchall()
    return int(rows[0][0])


def _entries_page(
    db: sqlite3.Connection, user_id: str, limit: int, before: int | None
) -> tuple[list[Entry], str | None]:
    if before is None:
        rows = db.execute(
            f"SELECT seq, {_ENTRY_COLUMNS} FROM ledger_entries WHERE user_id = ? "
            "ORDER BY seq DESC LIMIT ?",
            (user_id, limit + 1),
        ).fetchall()
    else:
        rows = db.execute(
            f"SELECT seq, {_ENTRY_COLUMNS} FROM ledger_entries "
            "WHERE user_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
            (user_id, before, limit + 1),
        ).fetchall()
    page = rows[:limit]
    next_cursor = str(page[-1][0]) if len(rows) > limit and page else None
    return [_entry(row[1:]) for row in page], next_cursor


def _entry_by_id(db: sqlite3.Connection, entry_id: str) -> Entry | None:
    row = db.execute(
        f"SELECT {_ENTRY_COLUMNS} FROM ledger_entries WHERE entry_id = ?",
        (entry_id,),
    ).fetchone()
    return None if row is None else _entry(row)


def _reward_for(db: sqlite3.Connection, session_id: str) -> Entry | None:
    row = db.execute(
        f"SELECT {_ENTRY_COLUMNS} FROM ledger_entries "
        "WHERE session_id = ? AND kind = 'charge_reward'",
        (session_id,),
    ).fetchone()
    return None if row is None else _entry(row)


class SqliteLedger(Store):
    """Append-only entries, with a ``wallets`` row per user holding the balance.

    The balance row moves with each entry in the same transaction; its CHECK
    keeps it from going below zero. No other writer can move a balance while
    a transaction lasts, nor can a snapshot change, so balances read or
    written in one are remembered until it ends.
    """

    def __init__(self, transaction: Transaction) -> None:
        super().__init__(transaction)
        self._balances: dict[str, int] = {}

    def forget_balances(self) -> None:
        """Forget the balances known in a transaction that has ended."""
        self._balances.clear()

    async def lock_wallet(self, user_id: str) -> None:
        """Hold the wallet: a write transaction already excludes other writers."""
        self._tx.hold()

    async def balance(self, user_id: str) -> int:
        """Return the user's balance in cents; 0 for an unknown user."""
        balance = self._balances.get(user_id)
        if balance is None:
            balance = await self._tx.read(lambda db: _balance(db, user_id))
            self._balances[user_id] = balance
        return balance

    async def append(self, entry: Entry) -> bool:
        """Append an entry; return False when the session already has a reward.

        Raises:
            InsufficientFunds: the entry would take the balance below zero.
        """
        balance = await self._tx.write(lambda db: _append_entry(db, entry))
        if balance is None:
            return False
        self._balances[entry.user_id] = balance
        return True

    async def entries(
        self, user_id: str, *, limit: int, cursor: str | None = None
    ) -> tuple[list[Entry], str | None]:
        """Return up to ``limit`` entries, newest first, and the next page's cursor.

        Raises:
            ValidationFailed: on field ``cursor`` when it is not a cursor.
        """
        before = None if cursor is None else cursor_position(cursor)
        return await self._tx.read(lambda db: _entries_page(db, user_id, limit, before))

    async def reward_for(self, session_id: str) -> Entry | None:
        """Return the session's ``charge_reward`` entry, if credited."""
        return await self._tx.read(lambda db: _reward_for(db, session_id))

    async def entry(self, entry_id: str) -> Entry | None:
        """Return one entry by its id."""
        return await self._tx.read(lambda db: _entry_by_id(db, entry_id))


_CREDIT_COLUMNS = (
    "session_id, user_id, amount_cents, created_at, attempts, next_attempt_at, "
    "last_error"
)


def _credit(row: Row) -> PendingCredit:
    return PendingCredit(
        session_id=row[0],
        user_id=row[1],
        amount_cents=row[2],
        created_at=instant(row[3]),
        attempts=row[4],
        next_attempt_at=optional_instant(row[5]),
        last_error=row[6],
    )


def _add_credit(db: sqlite3.Connection, credit: PendingCredit) -> None:
    db.execute(
        f"INSERT INTO pending_credits ({_CREDIT_COLUMNS}) VALUES (?,?,?,?,?,?,?) "
        "ON CONFLICT (session_id) DO NOTHING",
        (
            credit.session_id,
            credit.user_id,
            credit.amount_cents,
            micros(credit.created_at),
            credit.attempts,
            optional_micros(credit.next_attempt_at),
            credit.last_error,
        ),
    )


def _due_credits(db: sqlite3.Connection, now: int, limit: int) -> list[PendingCredit]:
    rows = db.execute(
        f"SELECT {_CREDIT_COLUMNS} FROM pending_credits "
        "WHERE next_attempt_at IS NULL OR next_attempt_at <= ? "
        "ORDER BY created_at, seq LIMIT ?",
        (now, limit),
    )
    return [_credit(row) for row in rows]


def _take_credit(db: sqlite3.Connection, session_id: str) -> PendingCredit | None:
    rows = db.execute(
        f"DELETE FROM pending_credits WHERE session_id = ? RETURNING {_CREDIT_COLUMNS}",
        (session_id,),
    ).fetchall()
    return _credit(rows[0]) if rows else None


def _reschedule_credit(
    db: sqlite3.Connection, session_id: str, next_attempt_at: int, error: str
) -> None:
    db.execute(
        "UPDATE pending_credits SET attempts = attempts + 1, next_attempt_at = ?, "
        "last_error = ? WHERE session_id = ?",
        (next_attempt_at, error, session_id),
    )


def _pending_cents(db: sqlite3.Connection, user_id: str) -> int:
    row = db.execute(
        "SELECT COALESCE(SUM(amount_cents), 0) FROM pending_credits WHERE user_id = ?",
        (user_id,),
    ).fetchone()
    return int(row[0])


def _count_credits(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT COUNT(*) FROM pending_credits").fetchone()[0])


class SqlitePendingCredits(Store):
    """Credits waiting for the wallet processor; one per session."""

    async def add(self, credit: PendingCredit) -> None:
        """Queue a credit; a second one for the same session is ignored."""
        await self._tx.write(lambda db: _add_credit(db, credit))

    async def due(self, now: datetime, limit: int) -> list[PendingCredit]:
        """Return up to ``limit`` credits due at ``now``, oldest first."""
        at = micros(now)
        return await self._tx.read(lambda db: _due_credits(db, at, limit))

    async def take(self, session_id: str) -> PendingCredit | None:
        """Remove and return a session's credit; None if already taken."""
        return await self._tx.write(lambda db: _take_credit(db, session_id))

    async def reschedule(
        self, session_id: str, next_attempt_at: datetime, error: str
    ) -> None:
        """Count a failed attempt and set when to try again."""
        at = micros(next_attempt_at)
        await self._tx.write(lambda db: _reschedule_credit(db, session_id, at, error))

    async def pending_cents(self, user_id: str) -> int:
        """Return the sum of the user's pending credits, in cents."""
        return await self._tx.read(lambda db: _pending_cents(db, user_id))

    async def count(self) -> int:
        """Return how many credits are pending in all."""
        return await self._tx.read(_count_credits)
