"""SQLite connections, each owned by one thread so that the event loop never blocks.

A job is a plain function of the connection; the thread runs jobs one at a
time in the order they were sent and hands each result back to the loop that
awaits it. A job costs one queue put and one loop wake-up, whatever it does,
so callers make each job do as much as it can.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
)

from nerava.domain.errors import DependencyUnavailable

__all__ = [
    "Job",
    "SqliteConnection",
    "UnavailableAsDependency",
    "connect",
    "is_busy",
    "rollback",
    "unavailable_as_dependency",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], T]
_Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]"]
_Item = tuple[Job[Any], _Waiter | None]


# Failures of the file or of other processes' locks, not of our SQL.
_UNAVAILABLE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_PROTOCOL,
        sqlite3.SQLITE_NOTADB,
    }
)


def _is_unavailable(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _UNAVAILABLE_CODES


class UnavailableAsDependency:
    """Turn a failure of the file or of a lock into ``DependencyUnavailable``.

    A context manager with no state of its own, so one is kept and entered
    again for every statement.
    """

    def __init__(self, path: str) -> None:
        self._path = path

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, sqlite3.Error) and _is_unavailable(exc):
            raise DependencyUnavailable(
                f"sqlite database {self._path} failed: {exc}"
            ) from exc


def unavailable_as_dependency(path: str) -> UnavailableAsDependency:
    """Turn a failure of the file or of a lock into ``DependencyUnavailable``."""
    return UnavailableAsDependency(path)


def connect(
    path: str,
    *,
    busy_timeout_ms: int,
    synchronous: str,
    readonly: bool,
    check_same_thread: bool = True,
) -> sqlite3.Connection:
    """Open a connection set up as Nerava uses it.

    Transactions are begun and ended explicitly (``isolation_level=None``);
    the writer runs in WAL mode, a reader refuses to write.
    ``check_same_thread=False`` lets one thread at a time, not always the
    same, use it.
    """
    db = sqlite3.connect(
        path,
        isolation_level=None,
        cached_statements=256,
        check_same_thread=check_same_thread,
    )
    db.execute(f"PRAGMA busy_timeout = {busy_timeout_ms:d}")
    db.execute("PRAGMA foreign_keys = ON")
    if readonly:
        db.execute("PRAGMA query_only = ON")
    else:
        _switch_to_wal(db, busy_timeout_ms)
        db.execute(f"PRAGMA synchronous = {synchronous}")
    return db


def _switch_to_wal(db: sqlite3.Connection, busy_timeout_ms: int) -> None:
    # Switching a new file to WAL needs it to itself, and SQLite answers
    # "locked" at once, without its busy handler, while another connection
    # is doing the same: tried again within the busy timeout.
    for attempt in Retrying(
        retry=retry_if_exception(is_busy),
        wait=wait_exponential(multiplier=0.001, max=0.05),
        stop=stop_after_delay(busy_timeout_ms / 1000),
        reraise=True,
    ):
        with attempt:
            db.execute("PRAGMA journal_mode = WAL")


def is_busy(exc: BaseException) -> bool:
    """Whether a failure is another connection's lock."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY


def rollback(db: sqlite3.Connection) -> None:
    """End the open transaction, if any, keeping none of it."""
    if db.in_transaction:
        db.execute("ROLLBACK")


class SqliteConnection:
    """One sqlite3 connection and the thread that alone uses it.

    Args:
        connect: opens the connection; it runs on the thread itself.
        name: names the thread, for debugging.
    """

    def __init__(self, connect: Callable[[], sqlite3.Connection], name: str) -> None:
        self._connect = connect
        self._jobs: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._stopped = False

    @property
    def stopped(self) -> bool:
        """Whether ``stop`` was called; jobs are refused from then on."""
        return self._stopped

    async def start(self) -> None:
        """Start the thread and open the connection on it."""
        self._thread.start()
        await self.run(lambda connection: None)

    async def run(self, job: Job[T]) -> T:
        """Run ``job`` on the connection's thread and return what it returns.

        Raises:
            RuntimeError: the connection was stopped.
        """
        if self._stopped:
            raise RuntimeError("sqlite connection is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((job, (loop, future)))
        return await future

    def send(self, job: Job[object]) -> None:
        """Queue ``job`` without waiting for it; a failure is only logged."""
        if not self._stopped:
            self._jobs.put((job, None))

    async def stop(self) -> None:
        """Let the jobs already sent finish, then close the connection."""
        if self._stopped:
            return
        self._stopped = True
        self._jobs.put(None)
        if self._thread.is_alive():
            await asyncio.to_thread(self._thread.join)

    def _serve(self) -> None:
        connection: sqlite3.Connection | None = None
        while (item := self._jobs.get()) is not None:
            job, waiter = item
            try:
                if connection is None:
                    connection = self._connect()
                result = job(connection)
            except Exception as exc:
                if waiter is None:
                    logger.warning("sqlite job failed unawaited", exc_info=True)
                else:
                    _hand_back(*waiter, _fail, exc)
            else:
                if waiter is not None:
                    _hand_back(*waiter, _succeed, result)
        if connection is not None:
            connection.close()


def _hand_back(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    settle: Callable[[asyncio.Future[Any], Any], None],
    value: Any,
) -> None:
    try:
        loop.call_soon_threadsafe(settle, future, value)
    except RuntimeError:
        # The loop closed while its job ran; nobody is left to tell.
        logger.debug("sqlite job finished after its event loop closed")


def _succeed(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
