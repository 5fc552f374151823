"""The ASGI app for servers that import it by name, once per process."""

from __future__ import annotations

import ctypes
import logging
import os
import re
import signal
import sys
from pathlib import Path

from litestar import Litestar
from prometheus_client import multiprocess

from nerava.config import Settings
from nerava.container import build_container
from nerava.entrypoints.http.app import create_app

__all__ = ["app_factory", "forget_dead_processes", "stop_with_parent"]

logger = logging.getLogger(__name__)

METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
_PR_SET_PDEATHSIG = 1
_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+_(\d+)\.db")


def app_factory() -> Litestar:
    """Build the app from the settings in the environment.

    ``nerava serve --workers N`` names it for uvicorn, which calls it in each
    worker process; the parent has validated the settings already.
    """
    stop_with_parent()
    directory = os.environ.get(METRICS_DIR_VARIABLE)
    if directory:
        forget_dead_processes(directory)
    return create_app(build_container(Settings.from_env()))


def stop_with_parent() -> None:
    """Have this worker told to stop (SIGTERM) when its supervisor dies.

    Without it, a supervisor killed outright leaves its workers serving on
    the port, and a restart cannot bind it. Linux only; elsewhere a no-op.
    """
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        logger.warning("could not tie this worker to its supervisor's life")
        return
    # The supervisor may have died before the call: then nobody will signal.
    if parent == 1 or os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


def forget_dead_processes(directory: str) -> list[int]:
    """Drop the live gauges of processes that died, as a replacement starts.

    A worker that dies with requests in flight would otherwise keep counting
    them in ``http_active_requests`` for as long as the server runs.

    Returns:
        The process ids whose gauges were dropped.
    """
    dead = set()
    for path in Path(directory).glob("gauge_live*_*.db"):
        match = _LIVE_GAUGE_FILE.fullmatch(path.name)
        if match is not None and not _alive(int(match.group(1))):
            dead.add(int(match.group(1)))
    for pid in sorted(dead):
        multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
        logger.info("dropped the live metrics of process %d, which died", pid)
    return sorted(dead)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
