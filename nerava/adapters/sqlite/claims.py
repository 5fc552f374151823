"""Taking turns at one SQLite file's write lock between processes.

SQLite's write lock has no queue: a process that finds it taken can only try
again later. A process whose writes come back to back takes the lock again
microseconds after each commit, so another process trying now and then may
miss every gap for as long as it is willing to wait. So a process that found
the lock taken posts a claim beside the database file, renewed at each try;
before it begins a write transaction, every process checks the claim and,
while another process's claim stands, leaves the lock alone. The claimant
gets the lock at its next try and withdraws its claim.

The claim lives in ``<database>-claim``, 16 bytes mapped into memory, so a
check costs a memory read: who claims (a token drawn by each process, not its
pid, which two containers sharing the file may both have) and until when (on
``time.monotonic()``, the same clock for every process of the machine, as
SQLite's WAL itself needs every process on one machine). A claim not renewed
lapses within ``CLAIM_FOR_S``, so a process that died waiting holds nobody
up for long. The two fields are not written at once: a read may mix two
claims, which at worst makes a process wait for one claim's life, or makes
one try come early.
"""

from __future__ import annotations

import mmap
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


class WriteClaims:
    """The claim on one database file's write lock, as one process sees it.

    Args:
        database_path: the SQLite file; the claim is kept beside it.
    """

    def __init__(self, database_path: str) -> None:
        fd = os.open(f"{database_path}-claim", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size < _LAYOUT.size:
                os.ftruncate(fd, _LAYOUT.size)
            self._map = mmap.mmap(fd, _LAYOUT.size)
        finally:
            os.close(fd)
        self._token = secrets.randbits(62) + 1  # never 0, which means "no claim"

    def claim(self) -> None:
        """Post or renew this process's claim."""
        _LAYOUT.pack_into(self._map, 0, self._token, time.monotonic() + CLAIM_FOR_S)

    def withdraw(self) -> None:
        """Take back this process's claim, if it is the one posted."""
        token, _ = _LAYOUT.unpack_from(self._map)
        if token == self._token:
            _LAYOUT.pack_into(self._map, 0, 0, 0.0)

    def claimed_by_another(self) -> bool:
        """Whether another process's claim stands now."""
        token, until = _LAYOUT.unpack_from(self._map)
        return token not in (0, self._token) and until > time.monotonic()

    def close(self) -> None:
        """Withdraw any claim of this process and unmap the file."""
        self.withdraw()
        self._map.close()
