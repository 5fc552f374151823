"""``nerava keys``: create, list and revoke API keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import click

from nerava.config import Settings
from nerava.domain.access import ApiKey, Scope
from nerava.domain.usecases.keys import Keys
from nerava.entrypoints.cli.runtime import fail, opened, prepare, run

__all__ = ["keys"]

SCOPES = [scope.value for scope in Scope]


@click.group()
def keys() -> None:
    """Manage the API keys stored in DATABASE_URL."""


@keys.command()
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(SCOPES),
    help="A scope the key holds; repeat for several.",
)
@click.option(
    "--hub",
    "hub_ids",
    multiple=True,
    help="A hub the key may act for; repeat for several. None: every hub.",
)
@click.option("--name", default="", help="What the key is for.")
def create(scopes: tuple[str, ...], hub_ids: tuple[str, ...], name: str) -> None:
    """Create a key and print it, once, alone on the last line."""
    settings = prepare(quiet=True)
    key, secret = run(_create(settings, [Scope(s) for s in scopes], hub_ids, name))
    click.echo(f"created API key {key.key_id} ({_summary(key)})")
    click.echo("the key is shown only now; store it safely:")
    click.echo(secret)


@keys.command("list")
def list_keys() -> None:
    """List every key: id, name, scopes, hubs, created, revoked; never the key."""
    settings = prepare(quiet=True)
    rows = [
        (
            key.key_id,
            key.name or "-",
            ",".join(key.scopes),
            ",".join(key.hub_ids) or "*",
            _when(key.created_at),
            _when(key.revoked_at),
        )
        for key in run(_list(settings))
    ]
    header = ("ID", "NAME", "SCOPES", "HUBS", "CREATED", "REVOKED")
    for line in _table([header, *rows]):
        click.echo(line)


@keys.command()
@click.argument("key_id")
def revoke(key_id: str) -> None:
    """Revoke a key; it stops working everywhere within seconds."""
    settings = prepare(quiet=True)
    if not run(_revoke(settings, key_id)):
        fail(f"no API key with id {key_id!r}")
    click.echo(f"revoked API key {key_id}")


async def _create(
    settings: Settings, scopes: Sequence[Scope], hub_ids: Sequence[str], name: str
) -> tuple[ApiKey, str]:
    async with opened(settings) as container:
        api_keys: Keys = container.keys()
        return await api_keys.create(scopes, hub_ids, name)


async def _list(settings: Settings) -> list[ApiKey]:
    async with opened(settings) as container:
        api_keys: Keys = container.keys()
        return await api_keys.list()


async def _revoke(settings: Settings, key_id: str) -> bool:
    async with opened(settings) as container:
        api_keys: Keys = container.keys()
        return await api_keys.revoke(key_id)


def _summary(key: ApiKey) -> str:
    hubs = ", ".join(key.hub_ids) if key.hub_ids else "every hub"
    name = f"name {key.name!r}; " if key.name else ""
    return f"{name}scopes {', '.join(key.scopes)}; {hubs}"


def _when(instant: datetime | None) -> str:
    return "-" if instant is None else instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.ljust(width) for cell, width in zip(row, widths, strict=True)
        ).rstrip()
        for row in rows
    ]
