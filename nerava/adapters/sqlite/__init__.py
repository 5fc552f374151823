"""The storage ports on an SQLite file: the embedded default."""

from nerava.adapters.sqlite.database import SqliteDatabase, SqliteUnitOfWork

__all__ = ["SqliteDatabase", "SqliteUnitOfWork"]
