"""The PostgreSQL database: a psycopg connection pool, units of work, migrations.

Each unit of work takes a pooled connection for its life and runs one
transaction on it: READ COMMITTED for writes, whose row locks and unique
indexes order them, and REPEATABLE READ READ ONLY for reads. A server that is
down or slow, or a pool with no free connection in time, surfaces as
``DependencyUnavailable``; every statement has a server-side timeout.

Round trips are what a request pays most for, so a unit of work saves them:
its ``BEGIN`` goes in one pipeline with its first statement, and writes
whose outcome no caller reads (``defer``) wait, in order, for the next
statement or the ``COMMIT`` and go in one pipeline with it. A deferred
write that fails fails that statement or the commit; the transaction is
rolled back as if it had failed on its own.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator
from types import TracebackType
from typing import LiteralString, Self

import psycopg
from psycopg import AsyncConnection, AsyncCursor
from psycopg.abc import Buffer, Params
from psycopg.adapt import Loader
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool

from nerava.adapters.migrations import Migration, load_migrations, pending_migrations
from nerava.adapters.postgres.access import PostgresApiKeys, PostgresIdempotencyStore
from nerava.adapters.postgres.outbox import PostgresOutbox
from nerava.adapters.postgres.sessions import PostgresSessionRepository
from nerava.adapters.postgres.transaction import Row
from nerava.adapters.postgres.wallet import PostgresLedger, PostgresPendingCredits
from nerava.adapters.postgres.windows import CatalogCache, PostgresWindowCatalog
from nerava.domain.errors import DependencyUnavailable

__all__ = ["PostgresDatabase", "PostgresUnitOfWork", "apply_migrations"]

logger = logging.getLogger(__name__)

MIGRATIONS_PACKAGE = "nerava.adapters.postgres"
# Every migrator takes this transaction-level lock, so they run one at a time.
MIGRATION_LOCK = "SELECT pg_advisory_xact_lock(hashtext('nerava schema migrations'))"

Connection = AsyncConnection[Row]

# Connections run in autocommit: a unit of work opens its transaction itself,
# in the same round trip as its first statement. A read-only unit reads one
# snapshot throughout, so that what it reads in several statements (a
# balance and the credits still pending) agrees; it never fails to
# serialize, since it writes nothing.
_BEGIN = "BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE"
_BEGIN_READ_ONLY = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"


class _JsonText(Loader):
    """Hand jsonb over as text, for msgspec to decode into the right type."""

    def load(self, data: Buffer) -> str:
        return bytes(data).decode()


@contextlib.contextmanager
def _unavailable_as_dependency() -> Iterator[None]:
    try:
        yield
    except psycopg.OperationalError as exc:
        # Covers refused and lost connections, pool timeouts, statement
        # timeouts, deadlocks and server shutdowns; not errors in our SQL.
        raise DependencyUnavailable(f"postgres failed: {exc}") from exc


async def _applied_names(conn: Connection) -> set[str]:
    cursor = await conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
    row = await cursor.fetchone()
    if row is None or not row[0]:
        return set()
    cursor = await conn.execute("SELECT name FROM schema_migrations")
    return {r[0] for r in await cursor.fetchall()}


class PostgresUnitOfWork:
    """One transaction on a pooled connection, held from enter to exit."""

    def __init__(self, database: PostgresDatabase, *, readonly: bool) -> None:
        self._database = database
        self._readonly = readonly
        self._begin: LiteralString = _BEGIN_READ_ONLY if readonly else _BEGIN
        # One cursor serves every statement of the unit (each result is read
        # before the next statement is sent); its connection is the unit's.
        self._cursor: AsyncCursor[Row] | None = None
        self._begun = False
        self._deferred: list[tuple[LiteralString, Params]] = []
        self.windows = PostgresWindowCatalog(self, database.catalog_cache)
        self.sessions = PostgresSessionRepository(self)
        self.ledger = PostgresLedger(self)
        self.credits = PostgresPendingCredits(self)
        self.outbox = PostgresOutbox(self)
        self.idempotency = PostgresIdempotencyStore(self)
        self.api_keys = PostgresApiKeys(self)

    async def __aenter__(self) -> Self:
        """Take a connection from the pool; the transaction begins with a statement."""
        self._cursor = (await self._database.acquire()).cursor()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back what was not committed and give the connection back."""
        cursor, self._cursor = self._cursor, None
        if cursor is None:
            return
        conn = cursor.connection
        self._begun = False
        self._deferred.clear()
        self.ledger.forget_balances()
        try:
            status = conn.info.transaction_status
            # A read-only transaction has nothing to undo. Ending it with
            # COMMIT keeps the connection's prepared statements, which
            # psycopg drops on every ROLLBACK.
            if status == TransactionStatus.INTRANS and self._readonly:
                await conn.commit()
            elif status != TransactionStatus.IDLE:
                await conn.rollback()
        except psycopg.Error as exc:
            # The server ends the transaction of a lost connection itself;
            # the pool throws such a connection away. One line: a lost
            # server makes one for every unit of work in flight.
            logger.warning("postgres rollback failed: %s", exc)
        finally:
            await self._database.release(conn)

    async def commit(self) -> None:
        """Make every change so far durable, at once."""
        # A connection lost during COMMIT leaves its outcome unknown to us;
        # idempotency keys let the client repeat the request safely.
        self.ledger.forget_balances()
        self._active()
        if not (self._begun or self._deferred):
            return
        with _unavailable_as_dependency():
            await self._run("COMMIT", prepare=False)
        self._begun = False

    async def fetch_one(
        self, query: LiteralString, params: Params = (), *, write: bool = False
    ) -> Row | None:
        """Run a statement and return its first row, or None."""
        if write:
            self._writable()
        with _unavailable_as_dependency():
            cursor = await self._run(query, params)
            return await cursor.fetchone()

    async def fetch_all(self, query: LiteralString, params: Params = ()) -> list[Row]:
        """Run a query and return every row."""
        with _unavailable_as_dependency():
            cursor = await self._run(query, params)
            return await cursor.fetchall()

    async def execute(self, query: LiteralString, params: Params = ()) -> int:
        """Run a writing statement and return how many rows it touched."""
        self._writable()
        with _unavailable_as_dependency():
            cursor = await self._run(query, params)
            return cursor.rowcount

    def defer(self, query: LiteralString, params: Params = ()) -> None:
        """Queue a writing statement to run before the next statement or commit."""
        self._writable()
        self._deferred.append((query, params))

    @property
    def readonly(self) -> bool:
        """Whether the transaction may only read."""
        return self._readonly

    async def _run(
        self, query: LiteralString, params: Params = (), *, prepare: bool | None = None
    ) -> AsyncCursor[Row]:
        cursor = self._active()
        begin = not self._begun
        deferred, self._deferred = self._deferred, []
        self._begun = True
        if not (begin or deferred):
            return await cursor.execute(query, params, prepare=prepare)

        # One round trip for all: the cursor holds the last statement's
        # result when the pipeline ends; the first error skips the rest and
        # is raised.
        async with cursor.connection.pipeline():
            if begin:
                await cursor.execute(self._begin, prepare=False)
            for statement, values in deferred:
                await cursor.execute(statement, values)
            return await cursor.execute(query, params, prepare=prepare)

    def _active(self) -> AsyncCursor[Row]:
        if self._cursor is None:
            raise RuntimeError("unit of work used outside its 'async with' block")
        return self._cursor

    def _writable(self) -> None:
        if self._readonly:
            raise RuntimeError("write outside a write unit of work")
        self._active()


class PostgresDatabase:
    """A PostgreSQL database behind a psycopg pool.

    Args:
        url: a libpq connection string or ``postgresql://`` URL.
        min_size: connections kept open.
        max_size: connections at most.
        timeout_s: how long to wait for a connection, from the server or
            the pool, before ``DependencyUnavailable``.
        statement_timeout_ms: the server cancels a statement that runs
            (or waits for a lock) longer than this.
    """

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        timeout_s: float = 5.0,
        statement_timeout_ms: int = 5000,
    ) -> None:
        if not 0 <= min_size <= max_size or max_size < 1:
            raise ValueError("pool sizes must satisfy 0 <= min_size <= max_size >= 1")
        self.url = url
        self._min_size = min_size
        self._max_size = max_size
        self._timeout_s = timeout_s
        self._statement_timeout_ms = statement_timeout_ms
        self._connect_timeout = _whole_seconds(timeout_s)
        self._pool: AsyncConnectionPool[Connection] | None = None
        self.catalog_cache = CatalogCache()

    async def migrate(self) -> list[str]:
        """Apply the pending migrations; return the names applied, in order."""
        return await apply_migrations(
            self.url, load_migrations(MIGRATIONS_PACKAGE), self._timeout_s
        )

    async def open(self) -> None:
        """Open the pool, waiting for its first connections.

        Raises:
            DependencyUnavailable: the server did not answer within the
                timeout, or its schema lacks migrations (run ``nerava migrate``).
        """
        if self._pool is not None:
            return
        pool = AsyncConnectionPool(
            self.url,
            kwargs={"autocommit": True, "connect_timeout": self._connect_timeout},
            min_size=self._min_size,
            max_size=self._max_size,
            timeout=self._timeout_s,
            configure=self._configure,
            open=False,
            name="nerava",
        )
        try:
            with _unavailable_as_dependency():
                await pool.open(wait=True, timeout=self._timeout_s)
                await self._require_migrated(pool)
        except BaseException:
            await pool.close()
            raise
        self._pool = pool
        logger.info(
            "postgres pool opened with %d to %d connections",
            self._min_size,
            self._max_size,
        )

    async def close(self) -> None:
        """Close the pool and every connection in it."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def ping(self) -> None:
        """Raise ``DependencyUnavailable`` unless the server answers a query."""
        async with self.unit_of_work(readonly=True) as uow:
            await uow.fetch_one("SELECT 1")

    def unit_of_work(self, *, readonly: bool = False) -> PostgresUnitOfWork:
        """Return a new unit of work; a read-only one may not write."""
        return PostgresUnitOfWork(self, readonly=readonly)

    __call__ = unit_of_work

    async def acquire(self) -> Connection:
        """Take a connection from the pool, outside any transaction.

        Raises:
            DependencyUnavailable: the pool is closed, or no connection came
                within the timeout.
        """
        if self._pool is None:
            raise DependencyUnavailable("postgres database is not open")
        with _unavailable_as_dependency():
            return await self._pool.getconn()

    async def release(self, conn: Connection) -> None:
        """Give a connection back to the pool it came from."""
        pool = self._pool
        if pool is None:
            await conn.close()
        else:
            await pool.putconn(conn)

    async def _configure(self, conn: Connection) -> None:
        conn.adapters.register_loader("jsonb", _JsonText)
        # JIT is off: every statement here touches a few rows, and a planner
        # estimating from unanalyzed tables can start milliseconds of
        # compilation for a statement that runs in microseconds.
        await conn.execute(
            "SELECT set_config('TimeZone', 'UTC', false), "
            "set_config('statement_timeout', %s, false), "
            "set_config('synchronous_commit', 'on', false), "
            "set_config('jit', 'off', false)",
            (str(self._statement_timeout_ms),),
        )

    async def _require_migrated(self, pool: AsyncConnectionPool[Connection]) -> None:
        async with pool.connection() as conn:
            applied = await _applied_names(conn)
        missing = pending_migrations(load_migrations(MIGRATIONS_PACKAGE), applied)
        if missing:
            names = ", ".join(m.name for m in missing)
            raise DependencyUnavailable(
                f"postgres database lacks migrations {names}: run nerava migrate"
            )


def _whole_seconds(timeout_s: float) -> int:
    # libpq's connect_timeout counts whole seconds and takes less than 2 as 2.
    return max(2, math.ceil(timeout_s))


async def apply_migrations(
    url: str, migrations: list[Migration], timeout_s: float = 5.0
) -> list[str]:
    """Apply the migrations not yet recorded in the database; return their names.

    Each migration runs in a transaction of its own under an advisory lock,
    so concurrent runners take turns and a failing one leaves no trace.

    Raises:
        DependencyUnavailable: the server cannot be reached.
    """
    with _unavailable_as_dependency():
        conn = await AsyncConnection.connect(
            url, autocommit=True, connect_timeout=_whole_seconds(timeout_s)
        )
    async with conn:
        applied: list[str] = []
        for migration in migrations:
            with _unavailable_as_dependency():
                if await _apply_one(conn, migration):
                    applied.append(migration.name)
        return applied


async def _apply_one(conn: AsyncConnection[Row], migration: Migration) -> bool:
    async with conn.transaction():
        await conn.execute(MIGRATION_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        if migration.name in await _applied_names(conn):
            return False
        await conn.execute(migration.sql.encode())
        await conn.execute(
            "INSERT INTO schema_migrations (name) VALUES (%s)", (migration.name,)
        )
    logger.info("postgres migration %s applied", migration.name)
    return True
