"""The one SQLite connection that writes, used on the event loop's own thread.

In WAL mode with ``synchronous=NORMAL`` a commit appends to the log without
waiting for the disk, so a write statement costs microseconds: less than a
trip to another thread and back, which under load waits for a turn of a busy
event loop while every other writer waits behind it. So writes run inline,
and nothing on the loop waits for the disk or for another process:

- another process's write lock is waited out by retrying ``BEGIN IMMEDIATE``
  with asyncio sleeps (the connection's own busy handler is off), with a
  claim posted meanwhile so that the holder lets go (``claims``);
- checkpoints, which copy the log into the file and wait for the disk, run
  on a connection and thread of their own every ``CHECKPOINT_EVERY``
  commits. The bulk of the log is copied beside the writes going on; then,
  with the writer held, the little committed meanwhile, waiting briefly for
  readers of older snapshots to finish (``RESTART``). The next transaction
  then starts the log over, so it does not grow while writes and reads go
  on (a checkpoint beside a running writer, or beside readers that always
  overlap, never catches up) and no write waits for more than that last
  short copy;
- with ``synchronous=FULL`` or ``EXTRA`` a commit waits for the disk, so it
  runs on a worker thread.

One unit of work at a time holds the writer (its ``Turn``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sqlite3
import time
from typing import Final, TypeVar

from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
)

from nerava.adapters.sqlite.claims import CLAIM_FOR_S, WriteClaims
from nerava.adapters.sqlite.connection import (
    Job,
    SqliteConnection,
    UnavailableAsDependency,
    is_busy,
    rollback,
)
from nerava.adapters.sqlite.turn import Turn
from nerava.domain.errors import DependencyUnavailable

__all__ = ["CHECKPOINT_EVERY", "SqliteWriter"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# The cost of a checkpoint grows with the log it copies (its first step
# flushes the log to disk); the writer waits only for the part committed
# while that ran. A thousand commits make a log of some tens of megabytes.
CHECKPOINT_EVERY: Final = 1000
# A log that readers kept in use is tried again soon, a few times, rather
# than left to grow for another period; the pause lets other processes'
# writers in between.
CHECKPOINT_ATTEMPTS: Final = 5
CHECKPOINT_PAUSE_S: Final = 0.01
# Waiting for another process's write lock, a writer tries again soon and
# often (renewing its claim, which must not lapse between tries); a writer
# leaving the lock to another process looks as often whether it got it.
CLAIM_RETRY_FIRST_S: Final = 0.0005
CLAIM_RETRY_MAX_S: Final = min(0.005, CLAIM_FOR_S / 2)
# When processes contend for the file, each writes for this long before it
# leaves the lock to a claimant: a hand-over costs a try's wait or two. Only
# writes back to back count: a pause longer than the gap starts a new share,
# so a process that writes now and then never gives way.
WRITE_SHARE_S: Final = 0.01
STREAK_GAP_S: Final = 0.002
_COMMITS_WAITING_FOR_DISK: Final = frozenset({"FULL", "EXTRA"})


def _execute(db: sqlite3.Connection, statement: str) -> None:
    db.execute(statement).fetchall()


def _copy_beside_writes(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def _copy_all_for_restart(db: sqlite3.Connection) -> bool:
    # Waits at most the checkpointer's busy timeout for readers of older
    # snapshots; says whether the log was wholly copied.
    busy, _, _ = db.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
    return not busy


class SqliteWriter:
    """The writer connection, its turn-taking and its checkpoints.

    Args:
        db: the writer connection, opened with ``check_same_thread=False``
            and its busy handler and automatic checkpoints off.
        checkpointer: a started connection to the same file that only
            checkpoints, with a busy timeout of a few milliseconds; the
            writer stops it when it closes.
        path: the database file, for messages.
        synchronous: the connection's ``synchronous`` mode.
        busy_timeout_ms: how long to wait for this process's other writers,
            or another process's write lock.
    """

    def __init__(
        self,
        db: sqlite3.Connection,
        *,
        checkpointer: SqliteConnection,
        claims: WriteClaims,
        path: str,
        synchronous: str,
        busy_timeout_ms: int,
    ) -> None:
        self._db = db
        self._checkpointer = checkpointer
        self._claims = claims
        # Since when this process has been writing back to back, and when
        # it last began a transaction.
        self._share_began = 0.0
        self._last_begin = 0.0
        self._path = path
        self._unavailable = UnavailableAsDependency(path)
        self._timeout_s = busy_timeout_ms / 1000
        self._commit_off_loop = synchronous in _COMMITS_WAITING_FOR_DISK
        self._disk = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="nerava-sqlite-commit"
        )
        self._turn = Turn()
        self._commits = 0
        self._checkpoint: asyncio.Task[None] | None = None
        self._closed = False

    async def acquire(self) -> None:
        """Wait for this process's writer, at most the busy timeout.

        Raises:
            DependencyUnavailable: the writer is closed, or stayed taken.
        """
        if not self._turn.try_take():
            try:
                await self._turn.take(self._timeout_s)
            except TimeoutError as exc:
                raise DependencyUnavailable(
                    f"no sqlite writer free after {self._timeout_s * 1000:.0f} ms"
                ) from exc
        if self._closed:
            self._turn.give_back()
            raise DependencyUnavailable(f"sqlite database {self._path} is closed")

    def release(self) -> None:
        """End the open transaction, keeping none of it, and free the writer."""
        try:
            with self._unavailable:
                rollback(self._db)
        finally:
            self._turn.give_back()

    async def begin(self) -> None:
        """Begin a write transaction, taking the file's write lock first.

        Raises:
            DependencyUnavailable: another process held the lock for longer
                than the busy timeout, or the file failed.
        """
        deadline = time.monotonic() + self._timeout_s
        with self._unavailable:
            await self._leave_to_claimant(deadline)
            try:
                self._db.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
            try:
                async for attempt in AsyncRetrying(
                    retry=retry_if_exception(is_busy),
                    wait=wait_exponential(
                        multiplier=CLAIM_RETRY_FIRST_S, max=CLAIM_RETRY_MAX_S
                    ),
                    stop=stop_after_delay(max(0.0, deadline - time.monotonic())),
                    reraise=True,
                ):
                    with attempt:
                        self._claims.claim()
                        self._db.execute("BEGIN IMMEDIATE")
            finally:
                self._claims.withdraw()
            self._share_began = time.monotonic()

    async def _leave_to_claimant(self, deadline: float) -> None:
        # Another process is waiting for the file's write lock: once this
        # process has been writing back to back for its share, leave the
        # lock free until that process got it (its claim is withdrawn, or
        # another's took its place), or until the deadline. The claim is in
        # a shared file, with no event to wait on: polled.
        now = time.monotonic()
        if now - self._last_begin > STREAK_GAP_S:
            self._share_began = now
        self._last_begin = now
        if now - self._share_began < WRITE_SHARE_S:
            return
        claimant = self._claims.claimant()
        if claimant is None:
            return
        while self._claims.claimant() == claimant:
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(CLAIM_RETRY_FIRST_S)
        self._share_began = self._last_begin = time.monotonic()

    def run(self, job: Job[T]) -> T:
        """Run ``job`` on the writer, here and now."""
        with self._unavailable:
            return job(self._db)

    async def commit(self) -> None:
        """Commit the open transaction; start a checkpoint if one is due."""
        with self._unavailable:
            if self._commit_off_loop:
                await self._off_loop("COMMIT")
            else:
                self._db.execute("COMMIT")
        self._commits += 1
        if self._commits % CHECKPOINT_EVERY == 0 and self._checkpoint is None:
            self._checkpoint = asyncio.create_task(
                self._copy_log(), name="nerava-sqlite-checkpoint"
            )

    async def close(self) -> None:
        """Wait for the unit of work holding the writer, then close it."""
        await self._turn.take(None)
        try:
            if self._closed:
                return
            self._closed = True
        finally:
            self._turn.give_back()
        if self._checkpoint is not None:
            await asyncio.wait([self._checkpoint])
        await self._checkpointer.stop()
        self._claims.close()
        await asyncio.to_thread(self._db.close)
        self._disk.shutdown(wait=True)

    async def _copy_log(self) -> None:
        try:
            for _ in range(CHECKPOINT_ATTEMPTS):
                await self._checkpointer.run(_copy_beside_writes)
                await self.acquire()
                try:
                    copied = await self._checkpointer.run(_copy_all_for_restart)
                finally:
                    self._turn.give_back()
                if copied or self._closed:
                    return
                # Readers kept the log; let them finish and the writes go
                # on before the writer is held again.
                await asyncio.sleep(CHECKPOINT_PAUSE_S)
            logger.info(
                "sqlite log of %s stays in use by readers; copied at the "
                "next checkpoint",
                self._path,
            )
        except Exception:
            # The log is copied by the next checkpoint, or when the file is
            # next opened; nothing committed is at risk meanwhile.
            if not self._closed:
                logger.warning(
                    "sqlite checkpoint of %s failed", self._path, exc_info=True
                )
        finally:
            self._checkpoint = None

    async def _off_loop(self, statement: str) -> None:
        future = self._disk.submit(_execute, self._db, statement)
        try:
            await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            # A statement that already began runs on: the connection is not
            # free for the next unit of work until it has ended.
            concurrent.futures.wait([future])
            raise
