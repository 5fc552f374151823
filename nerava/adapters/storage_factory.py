"""Choose the durable store from ``DATABASE_URL``.

``sqlite:///relative/path`` and ``sqlite:////absolute/path`` open an SQLite
file; ``postgresql://...`` (or ``postgres://...``) a PostgreSQL server.
"""

from __future__ import annotations

from typing import Any, Protocol

from nerava.ports.storage import Database

__all__ = ["MigratableDatabase", "database_from_url"]

SQLITE_PREFIX = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class MigratableDatabase(Database, Protocol):
    """A database that can bring its own schema up to date."""

    async def migrate(self) -> list[str]:
        """Apply the pending migrations; return the names applied, in order."""
        ...


def database_from_url(url: str, **options: Any) -> MigratableDatabase:
    """Return the database ``url`` names, not yet opened.

    Args:
        url: ``sqlite:///PATH`` or a PostgreSQL URL.
        options: keyword arguments for the database's constructor
            (``synchronous``, ``busy_timeout_ms`` for SQLite; ``min_size``,
            ``max_size``, ``timeout_s``, ``statement_timeout_ms`` for
            PostgreSQL).

    Raises:
        ValueError: an unsupported scheme, or no SQLite path.
    """
    # Each driver is imported only when its store is chosen.
    if url.startswith(SQLITE_PREFIX):
        from nerava.adapters.sqlite import SqliteDatabase

        path = url.removeprefix(SQLITE_PREFIX)
        if not path or path == ":memory:":
            raise ValueError(f"database url {url!r} names no file: use sqlite:///PATH")
        return SqliteDatabase(path, **options)
    if url.startswith(POSTGRES_SCHEMES):
        from nerava.adapters.postgres import PostgresDatabase

        return PostgresDatabase(url, **options)
    raise ValueError(f"database url {url!r} is not sqlite:///PATH or postgresql://...")
