"""The window catalog on PostgreSQL: a row per window, a counter row for its version."""

from __future__ import annotations

from nerava.adapters.postgres.transaction import Row, Store, Transaction
from nerava.domain.windows import Window

__all__ = ["CatalogCache", "PostgresWindowCatalog"]


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


class CatalogCache:
    """The newest committed catalog read, with its version, shared by units of work.

    Every change bumps the version in the change's own transaction, so a
    version names one committed catalog: a unit of work that reads the
    version it holds may use the windows it holds. Versions only grow, so a
    read that finishes late never puts an older catalog back.
    """

    def __init__(self) -> None:
        self.latest: tuple[int, tuple[Window, ...]] = (-1, ())

    def keep(self, version: int, windows: tuple[Window, ...]) -> None:
        """Hold the catalog read at ``version``, unless a newer one is held."""
        if version > self.latest[0]:
            self.latest = (version, windows)


class PostgresWindowCatalog(Store):
    """The window catalog in the ``windows`` table; a counter row versions it."""

    def __init__(self, transaction: Transaction, cache: CatalogCache) -> None:
        super().__init__(transaction)
        self._cache = cache
        self._changed = False

    async def list(self) -> list[Window]:
        """Return every window, ordered by id."""
        if self._changed:
            # Not committed yet, and perhaps never: kept out of the cache.
            rows = await self._tx.fetch_all(
                f"SELECT {_WINDOW_COLUMNS} FROM windows ORDER BY id"
            )
            return [_window(row) for row in rows]

        # One statement reads the version, and the windows only when they
        # are not the ones cached: both from the same snapshot. The cached
        # pair is taken before the statement, which others may overtake.
        cached, cached_windows = self._cache.latest
        rows = await self._tx.fetch_all(
            f"SELECT v.version, {_WINDOW_COLUMNS} "
            "FROM (SELECT version FROM catalog_version LIMIT 1) AS v "
            "LEFT JOIN windows ON v.version <> %s ORDER BY id",
            (cached,),
        )
        version = int(rows[0][0])
        if version == cached:
            return list(cached_windows)
        windows = tuple(_window(row[1:]) for row in rows if row[1] is not None)
        self._cache.keep(version, windows)
        return list(windows)

    async def get(self, window_id: str) -> Window | None:
        """Return one window, or None."""
        row = await self._tx.fetch_one(
            f"SELECT {_WINDOW_COLUMNS} FROM windows WHERE id = %s", (window_id,)
        )
        return None if row is None else _window(row)

    async def put(self, window: Window) -> bool:
        """Create or replace a window; return True when it was created."""
        self._changed = True
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
        self._bump()
        return created == 1

    async def delete(self, window_id: str) -> bool:
        """Delete a window; return False when there was none."""
        self._changed = True
        deleted = await self._tx.execute(
            "DELETE FROM windows WHERE id = %s", (window_id,)
        )
        if deleted:
            self._bump()
        return deleted == 1

    async def version(self) -> int:
        """Return the catalog's version, bumped by every put and delete."""
        row = await self._tx.fetch_one("SELECT version FROM catalog_version")
        assert row is not None, "the first migration writes the catalog version"
        return int(row[0])

    def _bump(self) -> None:
        # Never the same version twice, even after the database is restored
        # from an older copy: it jumps to the time in microseconds when that
        # is ahead, so a cached catalog of the same number is never taken
        # for another one.
        self._tx.defer(
            "UPDATE catalog_version SET version = GREATEST(version + 1, "
            "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint)"
        )
