"""The window catalog on SQLite: one row per window, a counter row for its version."""

from __future__ import annotations

import sqlite3
from datetime import date, time
from decimal import Decimal

from nerava.adapters.sqlcolumns import decode_days, decode_strings, to_json
from nerava.adapters.sqlite.transaction import Row, Store
from nerava.domain.windows import Window

__all__ = ["SqliteWindowCatalog"]


def _date_text(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


_WINDOW_COLUMNS = (
    "id, label, timezone, start_local, end_local, price_per_kwh, multiplier, "
    "days, start_date, end_date, hub_ids"
)


def _window_row(window: Window) -> Row:
    return (
        window.id,
        window.label,
        window.timezone,
        window.start_local.isoformat(),
        window.end_local.isoformat(),
        str(window.price_per_kwh),
        str(window.multiplier),
        to_json(window.days),
        _date_text(window.start_date),
        _date_text(window.end_date),
        to_json(window.hub_ids),
    )


def _window(row: Row) -> Window:
    return Window(
        id=row[0],
        label=row[1],
        timezone=row[2],
        start_local=time.fromisoformat(row[3]),
        end_local=time.fromisoformat(row[4]),
        price_per_kwh=Decimal(row[5]),
        multiplier=Decimal(row[6]),
        days=decode_days(row[7]),
        start_date=_date(row[8]),
        end_date=_date(row[9]),
        hub_ids=decode_strings(row[10]),
    )


def _list_windows(db: sqlite3.Connection) -> list[Window]:
    rows = db.execute(f"SELECT {_WINDOW_COLUMNS} FROM windows ORDER BY id")
    return [_window(row) for row in rows]


def _get_window(db: sqlite3.Connection, window_id: str) -> Window | None:
    row = db.execute(
        f"SELECT {_WINDOW_COLUMNS} FROM windows WHERE id = ?", (window_id,)
    ).fetchone()
    return None if row is None else _window(row)


def _put_window(db: sqlite3.Connection, window: Window) -> bool:
    row = _window_row(window)
    created = db.execute(
        f"INSERT INTO windows ({_WINDOW_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT (id) DO NOTHING",
        row,
    ).rowcount
    if not created:
        db.execute(
            "UPDATE windows SET label = ?, timezone = ?, start_local = ?, "
            "end_local = ?, price_per_kwh = ?, multiplier = ?, days = ?, "
            "start_date = ?, end_date = ?, hub_ids = ? WHERE id = ?",
            (*row[1:], row[0]),
        )
    _bump_catalog(db)
    return created == 1


def _delete_window(db: sqlite3.Connection, window_id: str) -> bool:
    deleted = db.execute("DELETE FROM windows WHERE id = ?", (window_id,)).rowcount
    if deleted:
        _bump_catalog(db)
    return deleted == 1


def _bump_catalog(db: sqlite3.Connection) -> None:
    # Never the same version twice, even after the file is put back from an
    # older copy: it jumps to the time in microseconds when that is ahead.
    db.execute(
        "UPDATE catalog_version SET version = max(version + 1, "
        "CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER))"
    )


def _catalog_version(db: sqlite3.Connection) -> int:
    row = db.execute("SELECT version FROM catalog_version").fetchone()
    return int(row[0])


class SqliteWindowCatalog(Store):
    """The window catalog in the ``windows`` table; a counter row versions it."""

    async def list(self) -> list[Window]:
        """Return every window, ordered by id."""
        return await self._tx.read(_list_windows)

    async def get(self, window_id: str) -> Window | None:
        """Return one window, or None."""
        return await self._tx.read(lambda db: _get_window(db, window_id))

    async def put(self, window: Window) -> bool:
        """Create or replace a window; return True when it was created."""
        return await self._tx.write(lambda db: _put_window(db, window))

    async def delete(self, window_id: str) -> bool:
        """Delete a window; return False when there was none."""
        return await self._tx.write(lambda db: _delete_window(db, window_id))

    async def version(self) -> int:
        """Return the catalog's version, bumped by every put and delete."""
        return await self._tx.read(_catalog_version)
