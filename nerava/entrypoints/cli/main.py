"""The ``nerava`` command line."""

from __future__ import annotations

import click

__all__ = ["cli", "main"]


@click.group()
@click.version_option(package_name="nerava")
def cli() -> None:
    """Nerava: rewards for charging when the grid wants it."""


def _register() -> None:
    from nerava.entrypoints.cli import replay

    cli.add_command(replay.replay)


def main() -> None:
    """Run the command line."""
    _register()
    cli()
