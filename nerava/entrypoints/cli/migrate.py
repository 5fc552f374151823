"""``nerava migrate``: bring the database's schema up to date."""

from __future__ import annotations

import click

from nerava.config import Settings
from nerava.container import build_container
from nerava.entrypoints.cli.runtime import describe_database, prepare, run

__all__ = ["migrate"]


@click.command()
def migrate() -> None:
    """Apply the migrations DATABASE_URL lacks; safe to run again."""
    settings = prepare(quiet=True)
    applied = run(_migrate(settings))
    for name in applied:
        click.echo(f"applied {name}")
    if not applied:
        click.echo(f"nothing to apply: {describe_database(settings)} is up to date")


async def _migrate(settings: Settings) -> list[str]:
    database = build_container(settings).database()
    return list(await database.migrate())
