"""The wallet on PostgreSQL: ledger entries, balance rows, pending credits."""

from __future__ import annotations

from datetime import datetime

from nerava.adapters.postgres.transaction import Row, Store, Transaction
from nerava.adapters.sqlcolumns import cursor_position
from nerava.domain.errors import InsufficientFunds
from nerava.domain.wallet import Entry, EntryKind, PendingCredit

__all__ = ["PostgresLedger", "PostgresPendingCredits"]


_ENTRY_COLUMNS = (
    "entry_id, user_id, kind, amount_cents, created_at, session_id, reason, "
    "actor, reverses_entry_id"
)


def _entry_row(entry: Entry) -> Row:
    return (
        entry.entry_id,
        entry.user_id,
        entry.kind.value,
        entry.amount_cents,
        entry.created_at,
        entry.session_id,
        entry.reason,
        entry.actor,
        entry.reverses_entry_id,
    )


def _entry(row: Row) -> Entry:
    return Entry(
        entry_id=row[0],
        user_id=row[1],
        kind=EntryKind(row[2]),
        amount_cents=row[3],
        created_at=row[4],
        session_id=row[5],
        reason=row[6],
        actor=row[7],
        reverses_entry_id=row[8],
    )


class PostgresLedger(Store):
    """Append-only entries, with a ``wallets`` row per user holding the balance.

    The balance row moves with each entry in the same transaction; its CHECK
    keeps it from going below zero, and its row lock serialises the writers
    of one wallet. A balance this transaction wrote stays locked until it
    ends, so it is remembered rather than read again.
    """

    def __init__(self, transaction: Transaction) -> None:
        super().__init__(transaction)
        self._written: dict[str, int] = {}

    def forget_balances(self) -> None:
        """Forget the balances written in a transaction that has ended."""
        self._written.clear()

    async def lock_wallet(self, user_id: str) -> None:
        """Lock the user's wallet row, creating it empty if need be."""
        # An upsert always ends holding the row: it inserts it, or updates
        # it in place when it is there or another transaction inserts it
        # first. Nothing is read back, so it goes with the next statement,
        # which runs after it on the server.
        self._tx.defer(
            "INSERT INTO wallets AS w (user_id, balance_cents) VALUES (%s, 0) "
            "ON CONFLICT (user_id) DO UPDATE SET balance_cents = w.balance_cents",
            (user_id,),
        )

    async def balance(self, user_id: str) -> int:
        """Return the user's balance in cents; 0 for an unknown user."""
        if user_id in self._written:
            return self._written[user_id]
        row = await self._tx.fetch_one(
            "SELECT balance_cents FROM wallets WHERE user_id = %s", (user_id,)
        )
        return 0 if row is None else int(row[0])

    async def append(self, entry: Entry) -> bool:
        """Append an entry; return False when the session already has a reward.

        Raises:
            InsufficientFunds: the entry would take the balance below zero.
        """
        if entry.amount_cents < 0:
            balance = await self._take(entry.user_id, -entry.amount_cents)
            await self._tx.execute(
                f"INSERT INTO ledger_entries ({_ENTRY_COLUMNS}) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                _entry_row(entry),
            )
            self._written[entry.user_id] = balance
            return True

        # One statement: the entry, unless it credits a session twice, and
        # the balance it adds to.
        row = await self._tx.fetch_one(
            f"WITH entry AS (INSERT INTO ledger_entries ({_ENTRY_COLUMNS}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (session_id) WHERE kind = 'charge_reward' DO NOTHING "
            "RETURNING user_id, amount_cents) "
            "INSERT INTO wallets AS w (user_id, balance_cents) "
            "SELECT user_id, amount_cents FROM entry "
            "ON CONFLICT (user_id) "
            "DO UPDATE SET balance_cents = w.balance_cents + EXCLUDED.balance_cents "
            "RETURNING balance_cents",
            _entry_row(entry),
            write=True,
        )
        if row is None:
            return False
        self._written[entry.user_id] = int(row[0])
        return True

    async def entries(
        self, user_id: str, *, limit: int, cursor: str | None = None
    ) -> tuple[list[Entry], str | None]:
        """Return up to ``limit`` entries, newest first, and the next page's cursor.

        Raises:
            ValidationFailed: on field ``cursor`` when it is not a cursor.
        """
        if cursor is None:
            rows = await self._tx.fetch_all(
                f"SELECT seq, {_ENTRY_COLUMNS} FROM ledger_entries "
                "WHERE user_id = %s ORDER BY seq DESC LIMIT %s",
                (user_id, limit + 1),
            )
        else:
            rows = await self._tx.fetch_all(
                f"SELECT seq, {_ENTRY_COLUMNS} FROM ledger_entries "
                "WHERE user_id = %s AND seq < %s ORDER BY seq DESC LIMIT %s",
                (user_id, cursor_position(cursor), limit + 1),
            )
        page = rows[:limit]
        next_cursor = str(page[-1][0]) if len(rows) > limit and page else None
        return [_entry(row[1:]) for row in page], next_cursor

    async def reward_for(self, session_id: str) -> Entry | None:
        """Return the session's ``charge_reward`` entry, if credited."""
        row = await self._tx.fetch_one(
            f"SELECT {_ENTRY_COLUMNS} FROM ledger_entries "
            "WHERE session_id = %s AND kind = 'charge_reward'",
            (session_id,),
        )
        return None if row is None else _entry(row)

    async def entry(self, entry_id: str) -> Entry | None:
        """Return one entry by its id."""
        row = await self._tx.fetch_one(
            f"SELECT {_ENTRY_COLUMNS} FROM ledger_entries WHERE entry_id = %s",
            (entry_id,),
        )
        return None if row is None else _entry(row)

    async def _take(self, user_id: str, cents: int) -> int:
        # The row lock taken by UPDATE re-checks the condition against the
        # latest balance, so two debits never both pass on the same cents.
        row = await self._tx.fetch_one(
            "UPDATE wallets SET balance_cents = balance_cents - %s "
            "WHERE user_id = %s AND balance_cents >= %s RETURNING balance_cents",
            (cents, user_id, cents),
            write=True,
        )
        if row is None:
            raise InsufficientFunds(user_id, await self.balance(user_id), cents)
        return int(row[0])


_CREDIT_COLUMNS = (
    "session_id, user_id, amount_cents, created_at, attempts, next_attempt_at, "
    "last_error"
)


def _credit(row: Row) -> PendingCredit:
    return PendingCredit(
        session_id=row[0],
        user_id=row[1],
        amount_cents=row[2],
        created_at=row[3],
        attempts=row[4],
        next_attempt_at=row[5],
        last_error=row[6],
    )


class PostgresPendingCredits(Store):
    """Credits waiting for the wallet processor; one per session."""

    async def add(self, credit: PendingCredit) -> None:
        """Queue a credit; a second one for the same session is ignored."""
        self._tx.defer(
            f"INSERT INTO pending_credits ({_CREDIT_COLUMNS}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (session_id) DO NOTHING",
            (
                credit.session_id,
                credit.user_id,
                credit.amount_cents,
                credit.created_at,
                credit.attempts,
                credit.next_attempt_at,
                credit.last_error,
            ),
        )

    async def due(self, now: datetime, limit: int) -> list[PendingCredit]:
        """Return up to ``limit`` credits due at ``now``, oldest first."""
        rows = await self._tx.fetch_all(
            f"SELECT {_CREDIT_COLUMNS} FROM pending_credits "
            "WHERE next_attempt_at IS NULL OR next_attempt_at <= %s "
            "ORDER BY created_at, seq LIMIT %s",
            (now, limit),
        )
        return [_credit(row) for row in rows]

    async def take(self, session_id: str) -> PendingCredit | None:
        """Remove and return a session's credit; None if already taken."""
        row = await self._tx.fetch_one(
            "DELETE FROM pending_credits WHERE session_id = %s "
            f"RETURNING {_CREDIT_COLUMNS}",
            (session_id,),
            write=True,
        )
        return None if row is None else _credit(row)

    async def reschedule(
        self, session_id: str, next_attempt_at: datetime, error: str
    ) -> None:
        """Count a failed attempt and set when to try again."""
        self._tx.defer(
            "UPDATE pending_credits SET attempts = attempts + 1, "
            "next_attempt_at = %s, last_error = %s WHERE session_id = %s",
            (next_attempt_at, error, session_id),
        )

    async def pending_cents(self, user_id: str) -> int:
        """Return the sum of the user's pending credits, in cents."""
        row = await self._tx.fetch_one(
            "SELECT COALESCE(SUM(amount_cents), 0) FROM pending_credits "
            "WHERE user_id = %s",
            (user_id,),
        )
        return 0 if row is None else int(row[0])

    async def count(self) -> int:
        """Return how many credits are pending in all."""
        row = await self._tx.fetch_one("SELECT COUNT(*) FROM pending_credits")
        return 0 if row is None else int(row[0])
