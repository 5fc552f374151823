"""``nerava serve``: the HTTP API on uvicorn, one or several processes.

Each process is a replica: it serves the app and runs its own wallet
processor, outbox relay and purges, which are safe side by side.
Everything that must happen once per start (migrating the embedded database,
the bootstrap admin key) happens here in the parent, before any replica is
started, so that replicas never race for it.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from types import FrameType
from typing import TYPE_CHECKING

import click
import uvicorn
from uvicorn.supervisors import Multiprocess

from nerava.config import Settings
from nerava.container import build_container
from nerava.entrypoints.cli.runtime import (
    bootstrap_admin_key,
    describe_database,
    fail,
    is_embedded,
    logging_config,
    opened,
    prepare,
    run,
)

if TYPE_CHECKING:
    from litestar import Litestar

__all__ = ["serve", "shared_metrics"]

logger = logging.getLogger(__name__)

APP_FACTORY = "nerava.entrypoints.http.asgi:app_factory"
METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
GRACEFUL_SHUTDOWN_SECONDS = 20
STARTUP_FAILURE = 3


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes, each a replica of the API.",
)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the HTTP API until SIGTERM or SIGINT.

    On the embedded default (a SQLite DATABASE_URL) the database file is
    created and migrated first, and when it holds no admin key one is made
    and printed, once.
    """
    settings = prepare()
    secret = run(_prepare_store(settings))
    if secret is not None:
        click.echo(f"bootstrap admin API key (shown only now): {secret}")

    logger.info(
        "nerava %s serving on http://%s:%d with %d process(es), database %s",
        version("nerava"),
        host,
        port,
        workers,
        describe_database(settings),
    )
    with shared_metrics(workers), _quiet_exit() as signals:
        if workers == 1:
            started = _serve_in_process(settings, host, port)
        else:
            started = _serve_in_processes(settings, host, port, workers)
    if not started:
        fail("nerava could not start; see the log above", STARTUP_FAILURE)
    logger.info("nerava stopped%s", f" on {signals[-1].name}" if signals else "")


async def _prepare_store(settings: Settings) -> str | None:
    """Make the embedded store ready, or check that another one is reachable.

    A store that is down or not migrated stops the start here with one line,
    before any process serves.
    """
    async with opened(settings, migrate_embedded=True) as container:
        if not is_embedded(settings):
            return None
        return await bootstrap_admin_key(container.keys())


def _server_config(
    settings: Settings, app: Litestar | str, host: str, port: int, workers: int
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        factory=isinstance(app, str),
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_config=logging_config(settings.log_level),
        # The app writes one structured line per request and judges
        # X-Forwarded-For by TRUSTED_PROXIES itself.
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


def _serve_in_process(settings: Settings, host: str, port: int) -> bool:
    # Imported here so that the other commands start without loading the app.
    from nerava.entrypoints.http.app import create_app

    app = create_app(build_container(settings))
    server = uvicorn.Server(_server_config(settings, app, host, port, 1))
    server.run()
    return bool(server.started)


def _serve_in_processes(settings: Settings, host: str, port: int, workers: int) -> bool:
    config = _server_config(settings, APP_FACTORY, host, port, workers)
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    return all(p.exitcode != STARTUP_FAILURE for p in supervisor.processes)


@contextmanager
def shared_metrics(workers: int) -> Iterator[None]:
    """Give several processes one fresh directory to aggregate metrics in."""
    if workers == 1 or os.environ.get(METRICS_DIR_VARIABLE):
        yield
        return
    directory = tempfile.mkdtemp(prefix="nerava-metrics-")
    os.environ[METRICS_DIR_VARIABLE] = directory
    try:
        yield
    finally:
        del os.environ[METRICS_DIR_VARIABLE]
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def _quiet_exit() -> Iterator[list[signal.Signals]]:
    """Note SIGTERM and SIGINT instead of dying of them.

    uvicorn shuts down gracefully on these signals and then raises them again
    against the handlers it found; noting them here lets a graceful stop end
    with status 0.
    """
    received: list[signal.Signals] = []

    def note(signum: int, frame: FrameType | None) -> None:
        received.append(signal.Signals(signum))

    previous = {
        sig: signal.signal(sig, note) for sig in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
