"""Apply the SQLite migrations, each in a ``BEGIN IMMEDIATE`` transaction."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator

from nerava.adapters.migrations import Migration
from nerava.adapters.sqlite.connection import (
    connect,
    rollback,
    unavailable_as_dependency,
)

__all__ = ["MIGRATIONS_PACKAGE", "applied_names", "apply_migrations"]

logger = logging.getLogger(__name__)

MIGRATIONS_PACKAGE = "nerava.adapters.sqlite"


def applied_names(db: sqlite3.Connection) -> set[str]:
    """Return the names of the migrations recorded in the file."""
    exists = db.execute(
        "SELECT 1 FROM sqlite_schema "
        "WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if exists is None:
        return set()
    return {row[0] for row in db.execute("SELECT name FROM schema_migrations")}


def apply_migrations(
    path: str, migrations: list[Migration], busy_timeout_ms: int = 5000
) -> list[str]:
    """Apply the migrations not yet recorded in ``path``; return their names.

    Each migration runs in a ``BEGIN IMMEDIATE`` transaction of its own, so
    concurrent runners take turns and a failing one leaves no trace.

    Raises:
        DependencyUnavailable: the file is locked or cannot be opened.
    """
    with unavailable_as_dependency(path):
        db = connect(
            path, busy_timeout_ms=busy_timeout_ms, synchronous="FULL", readonly=False
        )
        try:
            return [m.name for m in migrations if _apply_one(db, m)]
        finally:
            db.close()


def _apply_one(db: sqlite3.Connection, migration: Migration) -> bool:
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT"
        )
        if migration.name in applied_names(db):
            db.execute("COMMIT")
            return False
        for statement in _statements(migration.sql):
            db.execute(statement)
        db.execute(
            "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
            (migration.name, time.time_ns() // 1000),
        )
        db.execute("COMMIT")
    except BaseException:
        rollback(db)
        raise
    logger.info("sqlite migration %s applied", migration.name)
    return True


def _statements(script: str) -> Iterator[str]:
    """Split a script into statements, one ``execute`` each.

    ``executescript`` would commit the open transaction first.
    """
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""
    if _without_comments(pending).strip():
        raise ValueError(f"migration ends with an incomplete statement: {pending!r}")


def _without_comments(text: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in text.splitlines())
