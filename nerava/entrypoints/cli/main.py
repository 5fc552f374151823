"""The ``nerava`` command line."""

from __future__ import annotations

from importlib import import_module

import click

__all__ = ["cli", "main"]

# Each command's module is imported only when it runs, so that a quick
# command never pays for loading the HTTP app or the replay's plotting.
COMMANDS = {
    "keys": "nerava.entrypoints.cli.keys:keys",
    "migrate": "nerava.entrypoints.cli.migrate:migrate",
    "replay": "nerava.entrypoints.cli.replay:replay",
    "serve": "nerava.entrypoints.cli.serve:serve",
    "worker": "nerava.entrypoints.cli.worker:worker",
}


class _CommandsByName(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, _, name = target.partition(":")
        command = getattr(import_module(module), name)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=_CommandsByName)
@click.version_option(package_name="nerava")
def cli() -> None:
    """Nerava: rewards for charging when the grid wants it."""


def main() -> None:
    """Run the command line."""
    cli()


if __name__ == "__main__":
    main()
