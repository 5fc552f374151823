"""Charging sessions on PostgreSQL; a partial unique index keeps one active per user."""

from __future__ import annotations

from nerava.adapters.postgres.transaction import Row, Store
from nerava.adapters.sqlcolumns import (
    decode_meter_values,
    decode_reward,
    decode_terms,
    to_json,
)
from nerava.domain.sessions import CreditStatus, Session, SessionState

__all__ = ["PostgresSessionRepository"]


_SESSION_COLUMNS = (
    "session_id, user_id, hub_id, state, started_at, active_window_id, terms, "
    "stopped_at, wh, meter_values, reward, credit_status_at_stop, "
    "balance_at_stop_cents, cancelled_at, cancel_reason"
)


def _session(row: Row) -> Session:
    return Session(
        session_id=row[0],
        user_id=row[1],
        hub_id=row[2],
        state=SessionState(row[3]),
        started_at=row[4],
        active_window_id=row[5],
        terms=decode_terms(row[6]),
        stopped_at=row[7],
        wh=row[8],
        meter_values=decode_meter_values(row[9]),
        reward=None if row[10] is None else decode_reward(row[10]),
        credit_status_at_stop=None if row[11] is None else CreditStatus(row[11]),
        balance_at_stop_cents=row[12],
        cancelled_at=row[13],
        cancel_reason=row[14],
    )


def _session_changes(session: Session) -> Row:
    return (
        session.state.value,
        session.stopped_at,
        session.wh,
        to_json(session.meter_values),
        None if session.reward is None else to_json(session.reward),
        None
        if session.credit_status_at_stop is None
        else session.credit_status_at_stop.value,
        session.balance_at_stop_cents,
        session.cancelled_at,
        session.cancel_reason,
    )


class PostgresSessionRepository(Store):
    """Sessions; a partial unique index allows one active session per user."""

    async def add(self, session: Session) -> str | None:
        """Insert an active session unless the user has one; else return its id."""
        while True:
            inserted = await self._tx.execute(
                f"INSERT INTO sessions ({_SESSION_COLUMNS}) VALUES "
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (user_id) WHERE state = 'active' DO NOTHING",
                (
                    session.session_id,
                    session.user_id,
                    session.hub_id,
                    session.state.value,
                    session.started_at,
                    session.active_window_id,
                    to_json(session.terms),
                    *_session_changes(session)[1:],
                ),
            )
            if inserted:
                return None
            row = await self._tx.fetch_one(
                "SELECT session_id FROM sessions "
                "WHERE user_id = %s AND state = 'active'",
                (session.user_id,),
            )
            # None: the holder stopped between the two statements; try again.
            if row is not None:
                return str(row[0])

    async def get(self, session_id: str, *, for_update: bool = False) -> Session | None:
        """Return a session, locking its row until the unit ends if asked.

        A read-only unit of work changes nothing, so it locks nothing.
        """
        lock = for_update and not self._tx.readonly
        row = await self._tx.fetch_one(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE session_id = %s"
            + (" FOR UPDATE" if lock else ""),
            (session_id,),
            write=lock,
        )
        return None if row is None else _session(row)

    async def active_for_user(self, user_id: str) -> Session | None:
        """Return the user's active session, if any."""
        row = await self._tx.fetch_one(
            f"SELECT {_SESSION_COLUMNS} FROM sessions "
            "WHERE user_id = %s AND state = 'active'",
            (user_id,),
        )
        return None if row is None else _session(row)

    async def update(self, session: Session) -> None:
        """Store the new state of an existing session."""
        # What a session captured at its start never changes: not rewritten.
        self._tx.defer(
            "UPDATE sessions SET state = %s, stopped_at = %s, wh = %s, "
            "meter_values = %s, reward = %s, credit_status_at_stop = %s, "
            "balance_at_stop_cents = %s, cancelled_at = %s, cancel_reason = %s "
            "WHERE session_id = %s",
            (*_session_changes(session), session.session_id),
        )
