"""Taking turns at one SQLite file's write lock between processes.

SQLite's write lock has no queue: a process that finds it taken can only try
again later. A process whose writes come back to back takes the lock again
microseconds after each commit, so another process trying now and then may
miss every gap for as long as it is willing to wait. So a process that found
the lock taken posts a claim beside the database file, renewed at each try;
before it begins a write transaction, a process that has been writing for a
while checks the claim and, while another process's claim stands, leaves the
lock alone. The claimant gets the lock at its next try and withdraws its
claim.

The claim lives in ``<database>-claim``, 16 bytes read and written with
``pread`` and ``pwrite`` (a file shortened under a running process reads as
no claim): who claims (a token drawn by each process, not its pid, which two
containers sharing the file may both have) and until when (on
``time.monotonic()``, the same clock for every process of the machine, as
SQLite's WAL itself needs every process on one machine). A claim not renewed
lapses within ``CLAIM_FOR_S``, so a process that died waiting holds nobody
up for long. The file takes the database file's mode, and its owner when
made by root, as SQLite's own ``-wal`` and ``-shm`` files do.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import struct
import time
from typing import Final

__all__ = ["CLAIM_FOR_S", "WriteClaims"]

# How long a claim stands unless renewed; a claimant renews it at every try,
# and tries at least this often.
CLAIM_FOR_S: Final = 0.05

_LAYOUT = struct.Struct("<qd")  # the claimant's token, and until when
_NO_CLAIM = _LAYOUT.pack(0, 0.0)


class WriteClaims:
    """The claim on one database file's write lock, as one process sees it.

    Args:
        database_path: the SQLite file, which must exist; the claim is kept
            beside it.

    Raises:
        OSError: the claim's file cannot be opened for writing.
    """

    def __init__(self, database_path: str) -> None:
        database = os.stat(database_path)
        mode = database.st_mode & 0o666
        self._fd = os.open(f"{database_path}-claim", os.O_RDWR | os.O_CREAT, mode)
        if os.fstat(self._fd).st_uid == os.geteuid():
            # The process's umask may have narrowed the mode just given.
            with contextlib.suppress(OSError):
                os.fchmod(self._fd, mode)
                if os.geteuid() == 0:
                    os.fchown(self._fd, database.st_uid, database.st_gid)
        self._token = secrets.randbits(62) + 1  # never 0, which means "no claim"

    def claim(self) -> None:
        """Post or renew this process's claim."""
        self._write(_LAYOUT.pack(self._token, time.monotonic() + CLAIM_FOR_S))

    def withdraw(self) -> None:
        """Take back this process's claim, if it is the one posted."""
        if self._read()[0] == self._token:
            self._write(_NO_CLAIM)

    def claimant(self) -> int | None:
        """Return the token of another process whose claim stands now, if any."""
        token, until = self._read()
        if token in (0, self._token) or until <= time.monotonic():
            return None
        return token

    def close(self) -> None:
        """Withdraw any claim of this process and close the file."""
        try:
            self.withdraw()
        finally:
            os.close(self._fd)

    # A claim that cannot be read or written leaves the processes to take
    # the lock as SQLite alone would let them: slower for some, never a
    # failed write.

    def _read(self) -> tuple[int, float]:
        try:
            data = os.pread(self._fd, _LAYOUT.size, 0)
        except OSError:
            return 0, 0.0
        if len(data) < _LAYOUT.size:
            return 0, 0.0
        token, until = _LAYOUT.unpack(data)
        return token, until

    def _write(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            os.pwrite(self._fd, data, 0)
