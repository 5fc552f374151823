"""The SQLite database: one writer connection, a few readers, WAL, migrations.

Write units of work take turns on the one writer connection (a ``Turn``
in the process, ``BEGIN IMMEDIATE`` between processes),
which runs on the event loop's thread (see ``SqliteWriter`` for why the loop
still never waits on the disk); read-only ones run on reader connections,
each on a thread of its own and in a snapshot of its own.
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
from nerava.adapters.sqlite.claims import WriteClaims
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
from nerava.adapters.sqlite.writer import SqliteWriter
from nerava.domain.errors import DependencyUnavailable

__all__ = ["SqliteDatabase", "SqliteUnitOfWork"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")

# How long a checkpoint waits for readers of an older snapshot; reads take
# well under a millisecond. It holds the file's write lock meanwhile, so the
# writers of other processes wait as long: kept short.
CHECKPOINT_WAIT_MS = 10

# A log that grew while a long read held it is cut back to this size once it
# starts over, instead of keeping its largest size on disk.
LOG_SIZE_LIMIT_BYTES = 64 * 1024 * 1024


def _in_snapshot(job: Job[T]) -> Job[T]:
    def run(db: sqlite3.Connection) -> T:
        db.execute("BEGIN")
        return job(db)

    return run


class SqliteUnitOfWork:
    """One SQLite transaction, begun by its first statement.

    A write unit of work runs on the writer, on the event loop's thread (see
    ``SqliteWriter``): ``BEGIN IMMEDIATE`` takes the file's write lock before
    anything it reads. A read-only one runs on a free reader, on the reader's
    own thread, in a snapshot fixed by its first read.
    """

    def __init__(self, database: SqliteDatabase, *, readonly: bool) -> None:
        self._database = database
        self._readonly = readonly
        self._writer: SqliteWriter | None = None
        self._reader: SqliteConnection | None = None
        self._begun = False
        self.windows = SqliteWindowCatalog(self)
        self.sessions = SqliteSessionRepository(self)
        self.ledger = SqliteLedger(self)
        self.credits = SqlitePendingCredits(self)
        self.outbox = SqliteOutbox(self)
        self.idempotency = SqliteIdempotencyStore(self)
        self.api_keys = SqliteApiKeys(self)

    async def __aenter__(self) -> Self:
        """Take a connection: the writer, or a free reader."""
        self._begun = False
        if self._readonly:
            self._reader = await self._database.acquire_reader()
        else:
            self._writer = await self._database.acquire_writer()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back what was not committed and give the connection back."""
        writer, self._writer = self._writer, None
        reader, self._reader = self._reader, None
        begun, self._begun = self._begun, False
        self.ledger.forget_balances()
        if writer is not None:
            writer.release()
        elif reader is not None:
            if begun:
                # Nobody waits for the rollback: whoever takes the reader
                # next has its statements queued behind it.
                reader.send(rollback)
            self._database.release_reader(reader)

    async def commit(self) -> None:
        """Make every change so far durable, at once."""
        if not self._begun:
            return
        if self._writer is not None:
            await self._writer.commit()
        else:
            await self._on_reader(rollback)
        self._begun = False
        self.ledger.forget_balances()

    async def read(self, job: Job[T]) -> T:
        """Run a job that only reads, inside the transaction."""
        if self._writer is not None:
            return await self._on_writer(job)
        return await self._on_reader(job)

    async def write(self, job: Job[T]) -> T:
        """Run a job that writes, inside the transaction.

        Raises:
            RuntimeError: the unit of work is read-only.
        """
        self._require_writable()
        return await self._on_writer(job)

    def hold(self) -> None:
        """Hold the file's write lock until the unit ends.

        Nothing to do: the first statement of a write unit takes it, before
        anything the unit reads, and this process's other writers wait for
        the unit to end.

        Raises:
            RuntimeError: the unit of work is read-only.
        """
        self._require_writable()

    async def _on_writer(self, job: Job[T]) -> T:
        writer = self._writer
        if writer is None:
            raise RuntimeError("unit of work used outside its 'async with' block")
        if not self._begun:
            await writer.begin()
            self._begun = True
        return writer.run(job)

    async def _on_reader(self, job: Job[T]) -> T:
        reader = self._reader
        if reader is None:
            raise RuntimeError("unit of work used outside its 'async with' block")
        if not self._begun:
            # Set first: if BEGIN itself fails, the rollback finds no transaction.
            self._begun = True
            job = _in_snapshot(job)
        with unavailable_as_dependency(self._database.path):
            try:
                return await reader.run(job)
            except RuntimeError as exc:
                if reader.stopped:
                    raise DependencyUnavailable(
                        f"sqlite database {self._database.path} is closed"
                    ) from exc
                raise

    def _require_writable(self) -> None:
        if self._writer is None and self._reader is None:
            raise RuntimeError("unit of work used outside its 'async with' block")
        if self._readonly:
            raise RuntimeError("write outside a write unit of work")


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
        self._writer: SqliteWriter | None = None
        self._readers: list[SqliteConnection] = []
        self._free_readers: asyncio.Queue[SqliteConnection] | None = None

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
        readers = [
            self._reader(name=f"nerava-sqlite-reader-{i}")
            for i in range(self._reader_count)
        ]
        checkpointer = self._checkpointer()
        db: sqlite3.Connection | None = None
        claims: WriteClaims | None = None
        try:
            with unavailable_as_dependency(self.path):
                for reader in readers:
                    await reader.start()
                applied = await readers[0].run(applied_names)
                db = await asyncio.to_thread(self._open_writer)
                claims = await asyncio.to_thread(WriteClaims, self.path)
                await checkpointer.start()
        except OSError as exc:
            await _close_writer(db, claims, [*readers, checkpointer])
            raise DependencyUnavailable(
                f"sqlite database {self.path} failed: {exc}"
            ) from exc
        except BaseException:
            await _close_writer(db, claims, [*readers, checkpointer])
            raise
        missing = pending_migrations(load_migrations(MIGRATIONS_PACKAGE), applied)
        if missing:
            await _close_writer(db, claims, [*readers, checkpointer])
            names = ", ".join(m.name for m in missing)
            raise DependencyUnavailable(
                f"sqlite database {self.path} lacks migrations {names}: "
                "run nerava migrate"
            )

        self._writer = SqliteWriter(
            db,
            checkpointer=checkpointer,
            claims=claims,
            path=self.path,
            synchronous=self._synchronous,
            busy_timeout_ms=self._busy_timeout_ms,
        )
        self._readers = readers
        self._free_readers = asyncio.Queue()
        for reader in readers:
            self._free_readers.put_nowait(reader)
        logger.info("sqlite database %s opened", self.path)

    async def close(self) -> None:
        """Let running units of work finish, then close every connection."""
        writer, self._writer = self._writer, None
        readers, self._readers = self._readers, []
        self._free_readers = None
        if writer is not None:
            await writer.close()
        await _stop_all(readers)

    async def ping(self) -> None:
        """Raise ``DependencyUnavailable`` unless the file answers a query."""
        async with self.unit_of_work(readonly=True) as uow:
            await uow.read(lambda db: db.execute("SELECT 1 FROM catalog_version"))

    def unit_of_work(self, *, readonly: bool = False) -> SqliteUnitOfWork:
        """Return a new unit of work; a read-only one may not write."""
        return SqliteUnitOfWork(self, readonly=readonly)

    __call__ = unit_of_work

    async def acquire_writer(self) -> SqliteWriter:
        """Wait for the writer, at most the busy timeout.

        Raises:
            DependencyUnavailable: the database is closed, or the writer
                stayed taken.
        """
        writer = self._writer
        if writer is None:
            raise DependencyUnavailable(f"sqlite database {self.path} is not open")
        await writer.acquire()
        return writer

    async def acquire_reader(self) -> SqliteConnection:
        """Wait for a free reader, at most the busy timeout.

        Raises:
            DependencyUnavailable: the database is closed, or none was free.
        """
        free = self._free_readers
        if free is None:
            raise DependencyUnavailable(f"sqlite database {self.path} is not open")
        if not free.empty():
            # Taken at once, without the cost of a timer.
            return free.get_nowait()
        try:
            async with asyncio.timeout(self._busy_timeout_ms / 1000):
                return await free.get()
        except TimeoutError as exc:
            raise DependencyUnavailable(
                f"no sqlite reader free after {self._busy_timeout_ms} ms"
            ) from exc

    def release_reader(self, reader: SqliteConnection) -> None:
        """Give back a reader taken with ``acquire_reader``."""
        if self._free_readers is not None and reader in self._readers:
            self._free_readers.put_nowait(reader)

    def _open_writer(self) -> sqlite3.Connection:
        db = connect(
            self.path,
            busy_timeout_ms=self._busy_timeout_ms,
            synchronous=self._synchronous,
            readonly=False,
            check_same_thread=False,
        )
        # From here on the writer waits for locks, and checkpoints, without
        # holding up the event loop (see SqliteWriter).
        db.execute("PRAGMA busy_timeout = 0")
        db.execute("PRAGMA wal_autocheckpoint = 0")
        db.execute(f"PRAGMA journal_size_limit = {LOG_SIZE_LIMIT_BYTES:d}")
        return db

    def _checkpointer(self) -> SqliteConnection:
        opener = partial(
            connect,
            self.path,
            busy_timeout_ms=min(self._busy_timeout_ms, CHECKPOINT_WAIT_MS),
            synchronous=self._synchronous,
            readonly=False,
        )
        return SqliteConnection(opener, "nerava-sqlite-checkpoint")

    def _reader(self, *, name: str) -> SqliteConnection:
        opener = partial(
            connect,
            self.path,
            busy_timeout_ms=self._busy_timeout_ms,
            synchronous=self._synchronous,
            readonly=True,
        )
        return SqliteConnection(opener, name)


async def _close_writer(
    db: sqlite3.Connection | None,
    claims: WriteClaims | None,
    connections: list[SqliteConnection],
) -> None:
    if claims is not None:
        claims.close()
    if db is not None:
        await asyncio.to_thread(db.close)
    await _stop_all(connections)


async def _stop_all(connections: list[SqliteConnection]) -> None:
    for connection in connections:
        await connection.stop()
