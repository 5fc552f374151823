"""The SQLite database: one writer connection, a few readers, WAL, migrations.

Write units of work take turns on the one writer connection (an
``asyncio.Lock`` in the process, ``BEGIN IMMEDIATE`` between processes);
read-only ones run on reader connections, each in a snapshot of its own.
Every connection has its own thread, so the event loop never waits on disk.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from functools import partial
from types import TracebackType
from typing import Self, TypeVar

from nerava.adapters.migrations import load_migrations, pending_migrations
from nerava.adapters.sqlite.access import SqliteApiKeys, SqliteIdempotencyStore
from nerava.adapters.sqlite.connection import (
    Job,
    SqliteConnection,
    connect,
    rollback,
    unavailable_as_dependency,
)
from nerava.adapters.sqlite.migrate import (
    MIGRATIONS_PACKAGE,
    applied_names,
    apply_migrations,
)
from nerava.adapters.sqlite.outbox import SqliteOutbox
from nerava.adapters.sqlite.sessions import SqliteSessionRepository
from nerava.adapters.sqlite.wallet import SqliteLedger, SqlitePendingCredits
from nerava.adapters.sqlite.windows import SqliteWindowCatalog
from nerava.domain.errors import DependencyUnavailable

__all__ = ["SqliteDatabase", "SqliteUnitOfWork"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")


def _in_order(begin: str | None, deferred: list[Job[None]], job: Job[T]) -> Job[T]:
    def run(db: sqlite3.Connection) -> T:
        if begin is not None:
            db.execute(begin)
        for write in deferred:
            write(db)
        return job(db)

    return run


def _commit(db: sqlite3.Connection) -> None:
    db.execute("COMMIT")


class SqliteUnitOfWork:
    """One SQLite transaction, begun by its first statement.

    A write unit of work begins with ``BEGIN IMMEDIATE``, taking the file's
    write lock before anything it reads; a read-only one with a deferred
    ``BEGIN``, which fixes its snapshot at its first read.

    Each trip to the connection's thread costs a wake-up of the event loop,
    so writes that return nothing wait and go with the next statement that
    does, or with the commit; an error in one of them surfaces there.
    """

    def __init__(self, database: SqliteDatabase, *, readonly: bool) -> None:
        self._database = database
        self._readonly = readonly
        self._begin = "BEGIN" if readonly else "BEGIN IMMEDIATE"
        self._connection: SqliteConnection | None = None
        self._begun = False
        self._deferred: list[Job[None]] = []
        self.windows = SqliteWindowCatalog(self)
        self.sessions = SqliteSessionRepository(self)
        self.ledger = SqliteLedger(self)
        self.credits = SqlitePendingCredits(self)
        self.outbox = SqliteOutbox(self)
        self.idempotency = SqliteIdempotencyStore(self)
        self.api_keys = SqliteApiKeys(self)

    async def __aenter__(self) -> Self:
        """Take a connection: the writer, or a free reader."""
        self._connection = await self._database.acquire(readonly=self._readonly)
        self._begun = False
        self._deferred = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back what was not committed and give the connection back."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        self._deferred = []
        self.ledger.forget_balances()
        if self._begun:
            # Nobody waits for the rollback: whoever takes the connection
            # next has its statements queued behind it.
            connection.send(rollback)
            self._begun = False
        self._database.release(connection, readonly=self._readonly)

    async def commit(self) -> None:
        """Make every change so far durable, at once."""
        if self._begun or self._deferred:
            await self._run(_commit)
            self._begun = False
            self.ledger.forget_balances()

    async def read(self, job: Job[T]) -> T:
        """Run a job that only reads, inside the transaction."""
        return await self._run(job)

    async def write(self, job: Job[T]) -> T:
        """Run a job that writes, inside the transaction.

        Raises:
            RuntimeError: the unit of work is read-only.
        """
        self._require_writable()
        return await self._run(job)

    def defer(self, job: Job[None]) -> None:
        """Queue a write that returns nothing for the next trip to the connection.

        Raises:
            RuntimeError: the unit of work is read-only.
        """
        self._require_writable()
        self._deferred.append(job)

    def hold(self) -> None:
        """Hold the file's write lock until the unit ends.

        Nothing to do: the first statement of a write unit takes it, before
        anything the unit reads, and this process's other writers wait for
        the unit to end.

        Raises:
            RuntimeError: the unit of work is read-only.
        """
        self._require_writable()

    async def _run(self, job: Job[T]) -> T:
        connection = self._active()
        begin = None
        if not self._begun:
            # Set first: if BEGIN itself fails, the rollback finds no transaction.
            self._begun = True
            begin = self._begin
        deferred, self._deferred = self._deferred, []
        if begin is not None or deferred:
            job = _in_order(begin, deferred, job)
        with unavailable_as_dependency(self._database.path):
            try:
                return await connection.run(job)
            except RuntimeError as exc:
                if connection.stopped:
                    raise DependencyUnavailable(
                        f"sqlite database {self._database.path} is closed"
                    ) from exc
                raise

    def _require_writable(self) -> None:
        self._active()
        if self._readonly:
            raise RuntimeError("write outside a write unit of work")

    def _active(self) -> SqliteConnection:
        if self._connection is None:
            raise RuntimeError("unit of work used outside its 'async with' block")
        return self._connection


class SqliteDatabase:
    """An SQLite file in WAL mode, with its connections and migrations.

    Args:
        path: the database file.
        synchronous: ``NORMAL`` loses no committed transaction when the
            process dies (an operating-system crash may lose the last ones);
            ``FULL`` loses none either way.
        busy_timeout_ms: how long to wait for a lock (another process's
            writer, or a free connection) before ``DependencyUnavailable``.
        readers: how many connections serve read-only units of work.
    """

    def __init__(
        self,
        path: str,
        *,
        synchronous: str = "NORMAL",
        busy_timeout_ms: int = 5000,
        readers: int = 2,
    ) -> None:
        if synchronous.upper() not in SYNCHRONOUS_MODES:
            raise ValueError(
                f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}, "
                f"not {synchronous!r}"
            )
        if busy_timeout_ms < 0 or readers < 1:
            raise ValueError("busy_timeout_ms must be >= 0 and readers >= 1")
        self.path = path
        self._synchronous = synchronous.upper()
        self._busy_timeout_ms = busy_timeout_ms
        self._reader_count = readers
        self._writer: SqliteConnection | None = None
        self._readers: list[SqliteConnection] = []
        self._free_readers: asyncio.Queue[SqliteConnection] | None = None
        self._write_lock = asyncio.Lock()

    async def migrate(self) -> list[str]:
        """Apply the pending migrations; return the names applied, in order."""
        migrations = load_migrations(MIGRATIONS_PACKAGE)
        return await asyncio.to_thread(
            apply_migrations, self.path, migrations, self._busy_timeout_ms
        )

    async def open(self) -> None:
        """Connect the writer and the readers.

        Raises:
            DependencyUnavailable: the file cannot be opened, or its schema
                lacks migrations (run ``nerava migrate``).
        """
        if self._writer is not None:
            return
        writer = self._connection(readonly=False, name="nerava-sqlite-writer")
        readers = [
            self._connection(readonly=True, name=f"nerava-sqlite-reader-{i}")
            for i in range(self._reader_count)
        ]
        try:
            await self._start([writer, *readers])
        except BaseException:
            await _stop_all([writer, *readers])
            raise

        self._writer, self._readers = writer, readers
        self._free_readers = asyncio.Queue()
        for reader in readers:
            self._free_readers.put_nowait(reader)
        logger.info("sqlite database %s opened", self.path)

    async def close(self) -> None:
        """Let running jobs finish, then close every connection."""
        connections = [c for c in (self._writer, *self._readers) if c is not None]
        self._writer, self._readers, self._free_readers = None, [], None
        await _stop_all(connections)

    async def ping(self) -> None:
        """Raise ``DependencyUnavailable`` unless the file answers a query."""
        async with self.unit_of_work(readonly=True) as uow:
            await uow.read(lambda db: db.execute("SELECT 1 FROM catalog_version"))

    def unit_of_work(self, *, readonly: bool = False) -> SqliteUnitOfWork:
        """Return a new unit of work; a read-only one may not write."""
        return SqliteUnitOfWork(self, readonly=readonly)

    __call__ = unit_of_work

    async def acquire(self, *, readonly: bool) -> SqliteConnection:
        """Wait for the writer, or a free reader, at most the busy timeout.

        Raises:
            DependencyUnavailable: the database is closed, or none was free.
        """
        if self._writer is None or self._free_readers is None:
            raise DependencyUnavailable(f"sqlite database {self.path} is not open")
        try:
            async with asyncio.timeout(self._busy_timeout_ms / 1000):
                if readonly:
                    return await self._free_readers.get()
                await self._write_lock.acquire()
                return self._writer
        except TimeoutError as exc:
            role = "reader" if readonly else "writer"
            raise DependencyUnavailable(
                f"no sqlite {role} free after {self._busy_timeout_ms} ms"
            ) from exc

    def release(self, connection: SqliteConnection, *, readonly: bool) -> None:
        """Give back a connection taken with ``acquire``."""
        if not readonly:
            self._write_lock.release()
        elif self._free_readers is not None and connection in self._readers:
            self._free_readers.put_nowait(connection)

    def _connection(self, *, readonly: bool, name: str) -> SqliteConnection:
        opener = partial(
            connect,
            self.path,
            busy_timeout_ms=self._busy_timeout_ms,
            synchronous=self._synchronous,
            readonly=readonly,
        )
        return SqliteConnection(opener, name)

    async def _start(self, connections: list[SqliteConnection]) -> None:
        with unavailable_as_dependency(self.path):
            for connection in connections:
                await connection.start()
            applied = await connections[0].run(applied_names)
        missing = pending_migrations(load_migrations(MIGRATIONS_PACKAGE), applied)
        if missing:
            names = ", ".join(m.name for m in missing)
            raise DependencyUnavailable(
                f"sqlite database {self.path} lacks migrations {names}: "
                "run nerava migrate"
            )


async def _stop_all(connections: list[SqliteConnection]) -> None:
    for connection in connections:
        await connection.stop()
