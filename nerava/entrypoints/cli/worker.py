"""``nerava worker``: the background work without HTTP, until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal

import click

from nerava.config import Settings
from nerava.entrypoints.cli.runtime import describe_database, opened, prepare, run
from nerava.entrypoints.workers import background_loops

__all__ = ["worker"]

logger = logging.getLogger(__name__)


@click.command()
def worker() -> None:
    """Run the wallet processor, the outbox relay and the purges."""
    settings = prepare()
    run(_work(settings))


async def _work(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async with opened(settings) as container:
        logger.info("nerava worker started on %s", describe_database(settings))
        await background_loops(container).run(stop)
    logger.info("nerava worker stopped")
