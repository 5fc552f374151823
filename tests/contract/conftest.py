"""The ``database`` fixture: every contract test runs once per storage backend.

Another backend joins by adding its name to ``BACKENDS`` and a branch to
``_open``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from nerava.adapters.memory import MemoryDatabase
from nerava.adapters.postgres import PostgresDatabase
from nerava.adapters.sqlite import SqliteDatabase
from nerava.ports.storage import Database

BACKENDS = [
    "memory",
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
async def database(request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    """An open database in its freshly migrated state."""
    db = _open(request, request.param)
    await db.open()
    try:
        yield db
    finally:
        await db.close()


def _open(request: pytest.FixtureRequest, backend: str) -> Database:
    if backend == "memory":
        return MemoryDatabase()
    if backend == "sqlite":
        return SqliteDatabase(request.getfixturevalue("sqlite_path"))
    if backend == "postgres":
        request.getfixturevalue("reset_postgres")()
        return PostgresDatabase(request.getfixturevalue("postgres_url"))
    raise AssertionError(f"no such backend {backend!r}")
