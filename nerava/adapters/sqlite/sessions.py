"""Charging sessions on SQLite; a partial unique index keeps one active per user."""

from __future__ import annotations

import sqlite3

from nerava.adapters.sqlcolumns import (
    decode_meter_values,
    decode_reward,
    decode_terms,
    to_json,
)
from nerava.adapters.sqlite.transaction import (
    Row,
    Store,
    instant,
    micros,
    optional_instant,
    optional_micros,
)
from nerava.domain.sessions import CreditStatus, Session, SessionState

__all__ = ["SqliteSessionRepository"]


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
        started_at=instant(row[4]),
        active_window_id=row[5],
        terms=decode_terms(row[6]),
        stopped_at=optional_instant(row[7]),
        wh=row[8],
        meter_values=decode_meter_values(row[9]),
        reward=None if row[10] is None else decode_reward(row[10]),
        credit_status_at_stop=None if row[11] is None else CreditStatus(row[11]),
        balance_at_stop_cents=row[12],
        cancelled_at=optional_instant(row[13]),
        cancel_reason=row[14],
    )


def _session_changes(session: Session) -> Row:
    return (
        session.state.value,
        optional_micros(session.stopped_at),
        session.wh,
        to_json(session.meter_values),
        None if session.reward is None else to_json(session.reward),
        None
        if session.credit_status_at_stop is None
        else session.credit_status_at_stop.value,
        session.balance_at_stop_cents,
        optional_micros(session.cancelled_at),
        session.cancel_reason,
    )


def _add_session(db: sqlite3.Connection, session: Session) -> str | None:
    inserted = db.execute(
        f"INSERT INTO sessions ({_SESSION_COLUMNS}) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT (user_id) WHERE state = 'active' DO NOTHING",
        (
            session.session_id,
            session.user_id,
            session.hub_id,
            session.state.value,
            micros(session.started_at),
            session.active_window_id,
            to_json(session.terms),
            *_session_changes(session)[1:],
        ),
    ).rowcount
    if inserted:
        return None
    row = db.execute(
        "SELECT session_id FROM sessions WHERE user_id = ? AND state = 'active'",
        (session.user_id,),
    ).fetchone()
    return str(row[0])


def _get_session(db: sqlite3.Connection, session_id: str) -> Session | None:
    row = db.execute(
        f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE session_id = ?", (session_id,)
    ).fetchone()
    return None if row is None else _session(row)


def _active_session(db: sqlite3.Connection, user_id: str) -> Session | None:
    row = db.execute(
        f"SELECT {_SESSION_COLUMNS} FROM sessions "
        "WHERE user_id = ? AND state = 'active'",
        (user_id,),
    ).fetchone()
    return None if row is None else _session(row)


def _update_session(db: sqlite3.Connection, session: Session) -> None:
    # What a session captured at its start never changes, so it is not rewritten.
    db.execute(
        "UPDATE sessions SET state = ?, stopped_at = ?, wh = ?, meter_values = ?, "
        "reward = ?, credit_status_at_stop = ?, balance_at_stop_cents = ?, "
        "cancelled_at = ?, cancel_reason = ? WHERE session_id = ?",
        (*_session_changes(session), session.session_id),
    )


class SqliteSessionRepository(Store):
    """Sessions; a partial unique index allows one active session per user."""

    async def add(self, session: Session) -> str | None:
        """Insert an active session unless the user has one; else return its id."""
        return await self._tx.write(lambda db: _add_session(db, session))

    async def get(self, session_id: str, *, for_update: bool = False) -> Session | None:
        """Return a session; the unit's write lock already holds it for update."""
        return await self._tx.read(lambda db: _get_session(db, session_id))

    async def active_for_user(self, user_id: str) -> Session | None:
        """Return the user's active session, if any."""
        return await self._tx.read(lambda db: _active_session(db, user_id))

    async def update(self, session: Session) -> None:
        """Store the new state of an existing session."""
        await self._tx.write(lambda db: _update_session(db, session))
