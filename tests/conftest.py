"""Databases for the tests: SQLite files, and PostgreSQL databases made per run.

PostgreSQL: one database named ``nerava_test_<hex>`` is created and migrated
per test run and dropped at its end; each test starts from the freshly
migrated state, restored by emptying every table (fast) rather than by
making a new database.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from nerava.adapters.migrations import load_migrations
from nerava.adapters.postgres import PostgresDatabase
from nerava.adapters.sqlite.migrate import MIGRATIONS_PACKAGE, apply_migrations
from tests import services

SEED_SCHEMA = "nerava_test_seed"

ResetPostgres = Callable[[], None]


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """The URL of a role that may create databases; skip when unreachable."""
    url = services.postgres_admin_url()
    problem = services.postgres_problem(url)
    if problem is not None:
        services.unavailable("PostgreSQL", problem)
    return url


@pytest.fixture(scope="session")
def make_postgres_database(postgres_admin_url: str) -> Iterator[Callable[[], str]]:
    """Make empty databases on demand; drop them all at the end of the run."""
    made: list[str] = []

    def make() -> str:
        name = f"nerava_test_{secrets.token_hex(6)}"
        _admin(postgres_admin_url, sql.SQL("CREATE DATABASE {}"), name)
        made.append(name)
        return services.postgres_url_for(postgres_admin_url, name)

    yield make
    for name in made:
        _admin(postgres_admin_url, sql.SQL("DROP DATABASE {} WITH (FORCE)"), name)


@pytest.fixture(scope="session")
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A migrated database for this run, with a copy of its seeded rows."""
    name = f"nerava_test_{secrets.token_hex(6)}"
    _admin(postgres_admin_url, sql.SQL("CREATE DATABASE {}"), name)
    try:
        url = services.postgres_url_for(postgres_admin_url, name)
        run_outside_test_loop(PostgresDatabase(url).migrate)
        _copy_seeded_rows(url)
        yield url
    finally:
        _admin(postgres_admin_url, sql.SQL("DROP DATABASE {} WITH (FORCE)"), name)


def _admin(url: str, statement: sql.SQL, name: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement.format(sql.Identifier(name)))


def _copy_seeded_rows(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SEED_SCHEMA)))
        for table in _tables(conn):
            conn.execute(
                sql.SQL("CREATE TABLE {}.{} AS TABLE {}").format(
                    sql.Identifier(SEED_SCHEMA),
                    sql.Identifier(table),
                    sql.Identifier(table),
                )
            )


@pytest.fixture
def empty_postgres_url(postgres_url: str) -> Iterator[str]:
    """A URL whose tables go to a new, empty schema: a database never migrated.

    A schema costs a fraction of what a database costs to make and drop.
    """
    schema = f"empty_{secrets.token_hex(6)}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield services.postgres_url_in_schema(postgres_url, schema)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema))
            )


@pytest.fixture(scope="session")
def reset_postgres(postgres_url: str) -> Iterator[ResetPostgres]:
    """Bring the run's database back to its freshly migrated state.

    Rows are deleted rather than truncated: on tables this small, TRUNCATE's
    file work costs a hundred times more.
    """
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        seed = sql.Identifier(SEED_SCHEMA)
        statements = [
            sql.SQL("DELETE FROM {}").format(sql.Identifier(t)) for t in _tables(conn)
        ]
        statements += [
            sql.SQL("SELECT setval(pg_get_serial_sequence({}, {}), 1, false)").format(
                sql.Literal(table), sql.Literal(column)
            )
            for table, column in _identity_columns(conn)
        ]
        statements += [
            sql.SQL(
                "INSERT INTO {} OVERRIDING SYSTEM VALUE SELECT * FROM {}.{}"
            ).format(sql.Identifier(t), seed, sql.Identifier(t))
            for t in _tables(conn)
            if _has_rows(conn, sql.SQL("{}.{}").format(seed, sql.Identifier(t)))
        ]

        def reset() -> None:
            with conn.transaction():
                for statement in statements:
                    conn.execute(statement)

        yield reset


def _identity_columns(
    conn: psycopg.Connection[tuple[Any, ...]],
) -> list[tuple[str, str]]:
    rows = conn.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND is_identity = 'YES'"
    ).fetchall()
    return [(row[0], row[1]) for row in rows]


def _has_rows(conn: psycopg.Connection[tuple[Any, ...]], table: sql.Composed) -> bool:
    row = conn.execute(
        sql.SQL("SELECT EXISTS (SELECT FROM {})").format(table)
    ).fetchone()
    return bool(row and row[0])


def _tables(conn: psycopg.Connection[tuple[str]]) -> list[str]:
    rows = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
        "AND tablename <> 'schema_migrations' ORDER BY tablename"
    ).fetchall()
    return [row[0] for row in rows]


@pytest.fixture
def sqlite_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The path of a new, migrated SQLite file."""
    template = tmp_path_factory.getbasetemp() / "migrated.db"
    if not template.exists():
        apply_migrations(str(template), load_migrations(MIGRATIONS_PACKAGE))
    path = tmp_path_factory.mktemp("sqlite") / "nerava.db"
    path.write_bytes(template.read_bytes())
    return str(path)


def run_outside_test_loop(main: Callable[[], Coroutine[Any, Any, object]]) -> None:
    """Run a coroutine to its end on a loop of its own, in another thread.

    The test's own event loop is left alone, whether it runs or not.
    """
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
