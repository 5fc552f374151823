"""What the commands share: settings, logging, and an open database."""

from __future__ import annotations

import asyncio
import logging
import logging.config
import sys
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import click

from nerava.config import Settings, SettingsError
from nerava.container import Container, build_container
from nerava.domain.access import Scope
from nerava.domain.errors import NeravaError
from nerava.domain.usecases.keys import Keys

__all__ = [
    "StderrHandler",
    "bootstrap_admin_key",
    "configure_logging",
    "describe_database",
    "fail",
    "is_embedded",
    "load_settings",
    "logging_config",
    "opened",
    "prepare",
    "run",
]

logger = logging.getLogger(__name__)

SETTINGS_ERROR_STATUS = 2

T = TypeVar("T")


def fail(message: str, status: int = 1) -> NoReturn:
    """Print ``message`` as one line on stderr and exit with ``status``."""
    click.echo(" ".join(message.split()), err=True)
    raise SystemExit(status)


def load_settings() -> Settings:
    """Read the settings from the environment, or exit with status 2 naming the
    variable at fault.
    """
    try:
        return Settings.from_env()
    except SettingsError as exc:
        fail(str(exc), SETTINGS_ERROR_STATUS)


class StderrHandler(logging.Handler):
    """Writes each record as a line to ``sys.stderr`` as it is at that moment."""

    def emit(self, record: logging.LogRecord) -> None:
        """Write the formatted record."""
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


def prepare(*, quiet: bool = False) -> Settings:
    """Load the settings (or exit with status 2) and set up logging by them.

    Args:
        quiet: log only warnings and worse, unless ``LOG_LEVEL`` is ``DEBUG``;
            for commands whose answer is their output.
    """
    settings = load_settings()
    level = settings.log_level
    if quiet and level == "INFO":
        level = "WARNING"
    configure_logging(level)
    return settings


def run(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` to its end; a Nerava error exits with status 1 and its message."""
    try:
        return asyncio.run(work)
    except NeravaError as exc:
        fail(exc.message)


def logging_config(level: str) -> dict[str, Any]:
    """Return the ``logging.config.dictConfig`` of every Nerava process.

    One handler on the root logger, so that Nerava's, the server's and the
    libraries' records come out alike on stderr. Loggers made before it is
    applied keep working.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {
                "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
            },
        },
        "handlers": {
            "stderr": {
                "class": "nerava.entrypoints.cli.runtime.StderrHandler",
                "formatter": "plain",
            },
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": True},
        },
    }


def configure_logging(level: str) -> None:
    """Send every log record at ``level`` and above to stderr."""
    logging.config.dictConfig(logging_config(level))


def is_embedded(settings: Settings) -> bool:
    """Whether the settings name the embedded default store, a SQLite file."""
    return settings.database_url.startswith("sqlite:")


def describe_database(settings: Settings) -> str:
    """Return the database URL without its credentials, fit for a log line."""
    url = urlsplit(settings.database_url)
    if url.password is None and url.username is None:
        return settings.database_url
    host = url.hostname or ""
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{host}{port}{url.path}"


@asynccontextmanager
async def opened(
    settings: Settings, *, migrate_embedded: bool = True
) -> AsyncIterator[Container]:
    """Build the container and open its database for the block's duration.

    Args:
        settings: the validated settings.
        migrate_embedded: on the embedded default, create and migrate the
            database file first, so that nothing else needs to be run.
    """
    container = build_container(settings)
    database = container.database()
    if migrate_embedded and is_embedded(settings):
        for name in await database.migrate():
            logger.info("applied migration %s", name)
    await database.open()
    try:
        yield container
    finally:
        await database.close()


async def bootstrap_admin_key(keys: Keys) -> str | None:
    """Create an admin key when there is no live one; return its secret, or None."""
    if await keys.has_admin():
        return None
    key, secret = await keys.create([Scope.ADMIN], name="bootstrap")
    logger.info("created the bootstrap admin key %s", key.key_id)
    return secret
