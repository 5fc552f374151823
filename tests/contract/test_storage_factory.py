"""Choosing the store from a database URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from nerava.adapters.postgres import PostgresDatabase
from nerava.adapters.sqlite import SqliteDatabase
from nerava.adapters.storage_factory import database_from_url


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///nerava.db", "nerava.db"),
        ("sqlite:///./data/nerava.db", "./data/nerava.db"),
        ("sqlite:////var/lib/nerava/nerava.db", "/var/lib/nerava/nerava.db"),
    ],
)
def test_a_sqlite_url_names_a_relative_or_absolute_file(url: str, path: str) -> None:
    db = database_from_url(url)

    assert isinstance(db, SqliteDatabase)
    assert db.path == path


@pytest.mark.parametrize(
    "url", ["postgresql://nerava@db:5432/nerava", "postgres://nerava@db/nerava"]
)
def test_a_postgres_url_opens_a_pool_on_that_server(url: str) -> None:
    db = database_from_url(url, max_size=3)

    assert isinstance(db, PostgresDatabase)
    assert db.url == url


@pytest.mark.parametrize(
    "url", ["mysql://db/nerava", "sqlite://", "sqlite:///", "sqlite:///:memory:", ""]
)
def test_an_unsupported_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="database url"):
        database_from_url(url)


def test_options_reach_the_database() -> None:
    with pytest.raises(ValueError, match="synchronous"):
        database_from_url("sqlite:///nerava.db", synchronous="SOMETIMES")


async def test_a_sqlite_url_gives_a_working_database(tmp_path: Path) -> None:
    db = database_from_url(f"sqlite:///{tmp_path}/nerava.db", synchronous="FULL")

    applied = await db.migrate()
    await db.open()
    await db.ping()
    await db.close()

    assert applied == ["0001_initial"]
