"""The window catalog on PostgreSQL: a row per window, a counter row for its version."""

from __future__ import annotations

from nerava.adapters.postgres.transaction import Row, Store
from nerava.domain.windows import Window

__all__ = ["PostgresWindowCatalog"]


_WINDOW_COLUMNS = (
    "id, label, timezone, start_local, end_local, price_per_kwh, multiplier, "
    "days, start_date, end_date, hub_ids"
)


def _window_row(window: Window) -> Row:
    return (
        window.id,
        window.label,
        window.timezone,
        window.start_local,
        window.end_local,
        window.price_per_kwh,
        window.multiplier,
        list(window.days),
        window.start_date,
        window.end_date,
        list(window.hub_ids),
    )


def _window(row: Row) -> Window:
    return Window(
        id=row[0],
        label=row[1],
        timezone=row[2],
        start_local=row[3],
        end_local=row[4],
        price_per_kwh=row[5],
        multiplier=row[6],
        days=tuple(row[7]),
        start_date=row[8],
        end_date=row[9],
        hub_ids=tuple(row[10]),
    )


class PostgresWindowCatalog(Store):
    """The window catalog in the ``windows`` table; a counter row versions it."""

    async def list(self) -> list[Window]:
        """Return every window, ordered by id."""
        rows = await self._tx.fetch_all(
            f"SELECT {_WINDOW_COLUMNS} FROM windows ORDER BY id"
        )
        return [_window(row) for row in rows]

    async def get(self, window_id: str) -> Window | None:
        """Return one window, or None."""
        row = await self._tx.fetch_one(
            f"SELECT {_WINDOW_COLUMNS} FROM windows WHERE id = %s", (window_id,)
        )
        return None if row is None else _window(row)

    async def put(self, window: Window) -> bool:
        """Create or replace a window; return True when it was created."""
        row = _window_row(window)
        created = await self._tx.execute(
            f"INSERT INTO windows ({_WINDOW_COLUMNS}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (id) DO NOTHING",
            row,
        )
        if not created:
            await self._tx.execute(
                "UPDATE windows SET label = %s, timezone = %s, start_local = %s, "
                "end_local = %s, price_per_kwh = %s, multiplier = %s, days = %s, "
                "start_date = %s, end_date = %s, hub_ids = %s WHERE id = %s",
                (*row[1:], row[0]),
            )
        await self._bump()
        return created == 1

    async def delete(self, window_id: str) -> bool:
        """Delete a window; return False when there was none."""
        deleted = await self._tx.execute(
            "DELETE FROM windows WHERE id = %s", (window_id,)
        )
        if deleted:
            await self._bump()
        return deleted == 1

    async def version(self) -> int:
        """Return the catalog's version, bumped by every put and delete."""
        row = await self._tx.fetch_one("SELECT version FROM catalog_version")
        assert row is not None, "the first migration writes the catalog version"
        return int(row[0])

    async def _bump(self) -> None:
        await self._tx.execute("UPDATE catalog_version SET version = version + 1")
