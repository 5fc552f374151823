"""Schema migrations: plain SQL files, applied once each, in name order.

Each backend keeps its files in ``<package>/migrations/NNNN_name.sql`` and
records the names it applied in a ``schema_migrations`` table; a backend's
runner applies each pending file in a transaction of its own, under a lock
that makes concurrent runners take turns.
"""

from __future__ import annotations

import re
from importlib import resources

import msgspec

__all__ = ["Migration", "load_migrations", "pending_migrations"]

MIGRATION_NAME = re.compile(r"(\d{4})_[a-z0-9_]+")


class Migration(msgspec.Struct, frozen=True):
    """One migration: its name (the file name without ``.sql``) and its SQL."""

    name: str
    sql: str


def load_migrations(package: str) -> list[Migration]:
    """Return the migrations shipped in ``package``'s ``migrations`` folder, in order.

    Raises:
        ValueError: a file is not named ``NNNN_name.sql``, or two share a number.
    """
    folder = resources.files(package).joinpath("migrations")
    migrations = [
        Migration(entry.name.removesuffix(".sql"), entry.read_text("utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    ]
    migrations.sort(key=lambda m: m.name)
    numbers: set[str] = set()
    for migration in migrations:
        match = MIGRATION_NAME.fullmatch(migration.name)
        if match is None:
            raise ValueError(f"migration {migration.name!r} is not named NNNN_name")
        if match.group(1) in numbers:
            raise ValueError(f"migration number {match.group(1)} is used twice")
        numbers.add(match.group(1))
    return migrations


def pending_migrations(
    migrations: list[Migration], applied: set[str]
) -> list[Migration]:
    """Return the migrations not yet applied, in order."""
    return [m for m in migrations if m.name not in applied]
