"""The ``nerava`` commands that manage a store: migrate and keys."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from nerava.config import Settings
from nerava.domain.access import ApiKey, Scope
from nerava.entrypoints.cli.main import cli
from nerava.entrypoints.cli.runtime import bootstrap_admin_key, opened


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'nerava.db'}"


@pytest.fixture
def nerava(database_url: str) -> CliRunnerCall:
    return CliRunnerCall({"DATABASE_URL": database_url, "LOG_LEVEL": "INFO"})


class CliRunnerCall:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(self, *args: str, **env: str) -> Result:
        return CliRunner().invoke(cli, list(args), env={**self.env, **env})


def stored_keys(database_url: str) -> list[ApiKey]:
    async def read() -> list[ApiKey]:
        async with opened(Settings(database_url=database_url)) as container:
            keys: list[ApiKey] = await container.keys().list()
            return keys

    return asyncio.run(read())


def authenticated(database_url: str, secret: str) -> ApiKey | None:
    async def check() -> ApiKey | None:
        async with opened(Settings(database_url=database_url)) as container:
            key: ApiKey | None = await container.keys().authenticate(secret)
            return key

    return asyncio.run(check())


def test_migrate_applies_the_first_migration_then_has_nothing_to_apply(
    nerava: CliRunnerCall, tmp_path: Path
) -> None:
    first = nerava("migrate")
    second = nerava("migrate")

    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == ["applied 0001_initial"]
    assert second.exit_code == 0, second.output
    assert second.stdout.startswith("nothing to apply")
    assert (tmp_path / "nerava.db").exists()


def test_a_created_key_is_alone_on_the_last_line_and_authenticates(
    nerava: CliRunnerCall, database_url: str
) -> None:
    result = nerava(
        "keys",
        "create",
        "--scope",
        "events:write",
        "--scope",
        "wallet:read",
        "--hub",
        "hub-1",
        "--hub",
        "hub-2",
        "--name",
        "depot",
    )

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    secret = lines[-1]
    assert secret.strip() == secret
    assert " " not in secret
    assert len(lines) > 1
    key = authenticated(database_url, secret)
    assert key is not None
    assert key.scopes == (Scope.EVENTS_WRITE, Scope.WALLET_READ)
    assert key.hub_ids == ("hub-1", "hub-2")
    assert key.name == "depot"
    assert key.key_id in result.stdout


def test_keys_work_on_a_fresh_embedded_database_without_migrating_first(
    nerava: CliRunnerCall, database_url: str
) -> None:
    result = nerava("keys", "create", "--scope", "admin")

    assert result.exit_code == 0, result.output
    assert [k.scopes for k in stored_keys(database_url)] == [(Scope.ADMIN,)]


def test_keys_list_shows_every_key_without_its_secret(nerava: CliRunnerCall) -> None:
    created = nerava("keys", "create", "--scope", "admin", "--name", "ops")
    other = nerava("keys", "create", "--scope", "wallet:read", "--hub", "hub-9")
    secret = created.stdout.splitlines()[-1]

    listing = nerava("keys", "list")

    assert listing.exit_code == 0, listing.output
    header, *rows = listing.stdout.splitlines()
    assert header.split() == ["ID", "NAME", "SCOPES", "HUBS", "CREATED", "REVOKED"]
    assert len(rows) == 2
    assert rows[0].split()[1:4] == ["ops", "admin", "*"]
    assert rows[1].split()[1:4] == ["-", "wallet:read", "hub-9"]
    assert rows[0].split()[-1] == "-"
    assert secret not in listing.output
    assert other.stdout.splitlines()[-1] not in listing.output


def test_a_revoked_key_stops_authenticating_and_lists_when_it_was_revoked(
    nerava: CliRunnerCall, database_url: str
) -> None:
    created = nerava("keys", "create", "--scope", "admin")
    secret = created.stdout.splitlines()[-1]
    [key] = stored_keys(database_url)

    revoked = nerava("keys", "revoke", key.key_id)

    assert revoked.exit_code == 0, revoked.output
    assert authenticated(database_url, secret) is None
    row = nerava("keys", "list").stdout.splitlines()[1]
    assert row.split()[-1] != "-"


def test_revoking_an_unknown_key_exits_1_with_a_message(nerava: CliRunnerCall) -> None:
    result = nerava("keys", "revoke", "key_nothing")

    assert result.exit_code == 1
    assert "no API key with id 'key_nothing'" in result.stderr


def test_an_unknown_scope_is_refused_before_anything_is_written(
    nerava: CliRunnerCall, database_url: str
) -> None:
    result = nerava("keys", "create", "--scope", "everything")

    assert result.exit_code == 2
    assert "everything" in result.stderr
    assert stored_keys(database_url) == []


def test_a_refused_key_field_exits_1_naming_it(nerava: CliRunnerCall) -> None:
    result = nerava("keys", "create", "--scope", "admin", "--name", "bad\x07name")

    assert result.exit_code == 1
    assert "name" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [("RATE_LIMIT_PER_MINUTE", "lots"), ("DATABASE_URL", "mysql://db/nerava")],
)
@pytest.mark.parametrize("command", [["migrate"], ["keys", "list"], ["serve"]])
def test_a_bad_setting_exits_2_with_one_line_naming_the_variable(
    nerava: CliRunnerCall, command: list[str], variable: str, value: str
) -> None:
    result = nerava(*command, **{variable: value})

    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1
    assert variable in result.stderr
    assert result.stdout == ""


def test_the_bootstrap_admin_key_is_made_only_while_no_live_admin_key_exists(
    database_url: str,
) -> None:
    async def bootstrap_twice_then_after_revoking() -> list[str | None]:
        settings = Settings(database_url=database_url)
        async with opened(settings) as container:
            keys = container.keys()
            first = await bootstrap_admin_key(keys)
            second = await bootstrap_admin_key(keys)
            [made] = await keys.list()
            await keys.revoke(made.key_id)
            third = await bootstrap_admin_key(keys)
        return [first, second, third]

    first, second, third = asyncio.run(bootstrap_twice_then_after_revoking())

    assert first is not None
    assert second is None
    assert third is not None
    assert third != first
