"""The HTTP app in process, over the memory store or a migrated SQLite file.

Each test gets an ``Api``: a client of a fresh app, its container, a fixed
clock (Monday 1 June 2026, 12:00 UTC) and helpers that make keys and run
the common requests. The ``api`` fixture runs every test on both stores.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from nerava.adapters.memory import FixedClock, MemoryDatabase
from nerava.config import Settings
from nerava.container import Container, build_container
from nerava.domain.access import Scope
from nerava.entrypoints.http.app import create_app
from nerava.entrypoints.http.logs import ACCESS_LOGGER

MONDAY_NOON = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
STORES = ("memory", "sqlite")


class Api:
    """A client of one app, with the container behind it."""

    def __init__(
        self, client: AsyncTestClient[Any], container: Container, clock: FixedClock
    ) -> None:
        self.client = client
        self.container = container
        self.clock = clock

    async def headers(
        self, *scopes: Scope | str, hubs: tuple[str, ...] = ()
    ) -> dict[str, str]:
        """Create a key with ``scopes`` and return its Authorization header."""
        _, secret = await self.container.keys().create(
            [Scope(s) for s in scopes], hub_ids=hubs
        )
        return {"Authorization": f"Bearer {secret}"}

    async def admin(self) -> dict[str, str]:
        """Return the header of a new admin key."""
        return await self.headers(Scope.ADMIN)

    async def start(
        self,
        headers: dict[str, str],
        user_id: str = "driver-1",
        hub_id: str = "hub-1",
        **body: Any,
    ) -> httpx.Response:
        """Start a session."""
        return await self.client.post(
            "/v1/energyhub/events/charge-start",
            json={"user_id": user_id, "hub_id": hub_id, **body},
            headers=headers,
        )

    async def started(self, headers: dict[str, str], **kwargs: Any) -> str:
        """Start a session and return its id."""
        response = await self.start(headers, **kwargs)
        assert response.status_code == 200, response.text
        session_id: str = response.json()["session_id"]
        return session_id

    async def stop(
        self, headers: dict[str, str], session_id: str, kwh: Any, **body: Any
    ) -> httpx.Response:
        """Stop a session."""
        return await self.client.post(
            "/v1/energyhub/events/charge-stop",
            json={"session_id": session_id, "kwh_consumed": kwh, **body},
            headers=headers,
        )

    async def credit_pending(self) -> int:
        """Run the wallet processor's use case over every due credit."""
        credits = self.container.credits()
        done = 0
        for credit in await credits.due(1000):
            done += await credits.credit(credit.session_id)
        return done

    async def metric(self, name: str, **labels: str) -> float:
        """Return the value of one sample of ``/metrics`` (0 when absent)."""
        response = await self.client.get("/metrics")
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    return float(sample.value)
        return 0.0


MakeApi = Callable[..., Awaitable[Api]]


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> str:
    """The store the app runs on."""
    name: str = request.param
    return name


@pytest.fixture
async def make_api(
    store: str, request: pytest.FixtureRequest
) -> AsyncIterator[MakeApi]:
    """Make apps with settings of the test's choosing, on the test's store."""
    clients: list[AsyncTestClient[Any]] = []

    async def make(
        *, database: Any = None, container: Container | None = None, **settings: Any
    ) -> Api:
        values: dict[str, Any] = {"rate_limit_per_minute": 0, **settings}
        if store == "sqlite" and database is None:
            path = request.getfixturevalue("sqlite_path")
            values.setdefault("database_url", f"sqlite:///{path}")
        built = container or build_container(
            msgspec.convert(values, Settings, strict=False)
        )
        clock = FixedClock(MONDAY_NOON)
        built.clock.override(providers.Object(clock))
        if database is not None:
            built.database.override(providers.Object(database))
        elif store == "memory":
            built.database.override(providers.Object(MemoryDatabase()))
        client: AsyncTestClient[Any] = AsyncTestClient(
            create_app(built, background=False)
        )
        await client.__aenter__()
        clients.append(client)
        return Api(client, built, clock)

    yield make
    for client in reversed(clients):
        await client.__aexit__(None, None, None)


@pytest.fixture
async def api(make_api: MakeApi) -> Api:
    """An app with the default settings (rate limit off) on the test's store."""
    return await make_api()


class AccessLines(logging.Handler):
    """Keeps the access log's lines."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def access_lines() -> Iterator[list[str]]:
    """The access log lines written during the test."""
    logger = logging.getLogger(ACCESS_LOGGER)
    handler = AccessLines()
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)
