"""``nerava replay``: play real charging sessions through the HTTP API."""

from __future__ import annotations

import click


@click.command()
def replay() -> None:
    """Replay a file of charging sessions."""
    raise click.ClickException("not available yet")
