"""Every error of the API's table, with its status, code and body shape."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from dependency_injector import providers

from nerava.adapters.memory import MemoryDatabase
from nerava.domain.errors import DependencyUnavailable
from nerava.entrypoints.http.routes import operations
from nerava.ports.storage import UnitOfWork
from tests.api.conftest import Api, MakeApi

START = "/v1/energyhub/events/charge-start"
BODY = {"user_id": "driver-1", "hub_id": "hub-1"}


class FlakyDatabase(MemoryDatabase):
    """The memory store, with a switch that takes it down."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.slow = False

    def unit_of_work(self, *, readonly: bool = False) -> Any:
        if self.down:
            raise DependencyUnavailable("sqlite database /tmp/secret.db is down")
        uow: UnitOfWork = super().unit_of_work(readonly=readonly)
        return uow

    async def ping(self) -> None:
        if self.slow:
            await asyncio.sleep(10)
        if self.down:
            raise DependencyUnavailable("sqlite database /tmp/secret.db is down")


class BrokenCatalog:
    """A catalog with a bug."""

    async def list(self, *args: object) -> None:
        raise RuntimeError("secret internals in a stack trace")


def _is_error(response: Any, status: int, detail: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status_code"] == status
    assert body["detail"] == detail
    assert isinstance(body["message"], str)
    assert body["message"]
    assert response.headers["content-type"].startswith("application/json")


async def test_a_body_that_is_not_json_is_malformed(api: Api) -> None:
    headers = await api.headers("events:write")

    response = await api.client.post(START, content=b"{nope", headers=headers)

    _is_error(response, 400, "malformed_json")
    assert set(response.json()) == {"status_code", "detail", "message"}


@pytest.mark.parametrize(
    "body",
    [b"[1, 2]", b'"text"', b"12", b"null", b"", b"\xff\xfe", b"[" * 5000 + b"]" * 5000],
)
async def test_json_that_is_not_an_object_is_malformed(api: Api, body: bytes) -> None:
    headers = await api.headers("events:write")

    response = await api.client.post(START, content=body, headers=headers)

    _is_error(response, 400, "malformed_json")


@pytest.mark.parametrize("digits", [30, 4301, 20_000])
async def test_an_integer_too_large_for_any_field_is_a_validation_error(
    api: Api, digits: int
) -> None:
    headers = await api.admin()
    huge = b"9" * digits

    response = await api.client.post(
        "/v1/wallet/driver-1/debits",
        content=b'{"amount_cents": ' + huge + b', "reason": "big"}',
        headers=headers,
    )

    _is_error(response, 422, "validation_error")
    assert response.json()["errors"][0]["field"] == "amount_cents"


async def test_no_key_is_unauthenticated(api: Api) -> None:
    response = await api.client.post(START, json=BODY)

    _is_error(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "authorization", ["Bearer nrv_unknown", "Basic dXNlcjpwYXNz", "Bearer", "nrv_x"]
)
async def test_a_bad_key_is_unauthenticated(api: Api, authorization: str) -> None:
    response = await api.client.post(
        START, json=BODY, headers={"Authorization": authorization}
    )

    _is_error(response, 401, "unauthenticated")


async def test_a_revoked_key_stops_working_within_five_seconds(api: Api) -> None:
    _, secret = await api.container.keys().create(["events:write"])
    headers = {"Authorization": f"Bearer {secret}"}
    assert (
        await api.client.get("/v1/energyhub/sessions/x", headers=headers)
    ).status_code == 404
    key = await api.container.keys().authenticate(secret)
    assert key is not None
    await api.container.keys().revoke(key.key_id)

    await asyncio.sleep(4.1)
    response = await api.client.get("/v1/energyhub/sessions/x", headers=headers)

    _is_error(response, 401, "unauthenticated")


async def test_a_key_without_the_scope_is_forbidden(api: Api) -> None:
    response = await api.client.post(
        START, json=BODY, headers=await api.headers("wallet:read")
    )

    _is_error(response, 403, "forbidden")


async def test_an_admin_key_may_call_every_route(api: Api) -> None:
    admin = await api.admin()

    start = await api.client.post(START, json=BODY, headers=admin)
    wallet = await api.client.get("/v1/wallet/driver-1", headers=admin)

    assert (start.status_code, wallet.status_code) == (200, 200)


async def test_at_while_the_demo_override_is_off_is_refused(api: Api) -> None:
    response = await api.client.get("/v1/energyhub/windows?at=2026-06-01T14:00:00Z")

    _is_error(response, 403, "demo_at_disabled")


@pytest.mark.parametrize(
    "at",
    [
        "2026-06-01",
        "tomorrow",
        "2026-13-01T00:00:00Z",
        "2026-06-01T25:00",
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+01:00",
    ],
)
async def test_an_at_that_is_not_a_date_time_is_invalid(
    make_api: MakeApi, at: str
) -> None:
    api = await make_api(allow_demo_at=True)

    response = await api.client.get("/v1/energyhub/windows", params={"at": at})

    _is_error(response, 400, "invalid_at_param")


async def test_an_unknown_route_is_not_found(api: Api) -> None:
    response = await api.client.get("/v1/nothing/here")

    _is_error(response, 404, "not_found")


async def test_an_unknown_schema_page_is_not_found_as_json(api: Api) -> None:
    response = await api.client.get("/schema/nothing")

    _is_error(response, 404, "not_found")


async def test_another_method_on_a_known_path_is_method_not_allowed(
    api: Api,
) -> None:
    response = await api.client.delete("/v1/energyhub/windows")

    _is_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"]


async def test_a_body_over_64_kib_is_too_large(api: Api) -> None:
    headers = await api.headers("events:write")
    body = b'{"user_id": "driver-1", "hub_id": "' + b"h" * 70_000 + b'"}'

    response = await api.client.post(START, content=body, headers=headers)

    _is_error(response, 413, "payload_too_large")


async def test_a_chunked_body_over_64_kib_is_too_large(api: Api) -> None:
    headers = await api.headers("events:write")

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"user_id": "driver-1", "hub_id": "'
        for _ in range(20):
            yield b"h" * 4096
        yield b'"}'

    # httpx's own ASGI transport streams the chunks as separate messages.
    transport = httpx.ASGITransport(app=api.client.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        response = await client.post(START, content=chunks(), headers=headers)

    assert "content-length" not in response.request.headers
    _is_error(response, 413, "payload_too_large")


async def test_a_body_of_exactly_64_kib_is_read(api: Api) -> None:
    headers = await api.headers("events:write")
    prefix = b'{"user_id": "driver-1", "hub_id": "hub-1", "pad": "'
    body = prefix + b"x" * (65_536 - len(prefix) - 2) + b'"}'

    response = await api.client.post(START, content=body, headers=headers)

    assert len(body) == 65_536
    assert response.status_code == 200


async def test_a_broken_field_is_a_validation_error_listing_it(api: Api) -> None:
    response = await api.client.post(
        START,
        json={"user_id": "driver 1", "hub_id": "hub-1"},
        headers=await api.headers("events:write"),
    )

    _is_error(response, 422, "validation_error")
    assert response.json()["errors"] == [
        {"field": "user_id", "message": response.json()["errors"][0]["message"]}
    ]


async def test_the_store_down_is_dependency_unavailable_and_writes_nothing(
    make_api: MakeApi,
) -> None:
    database = FlakyDatabase()
    api = await make_api(database=database)
    headers = await api.headers("events:write")
    database.down = True

    response = await api.client.post(START, json=BODY, headers=headers)

    _is_error(response, 503, "dependency_unavailable")
    assert "sqlite" not in response.text
    assert response.headers["Retry-After"] == "1"
    database.down = False
    assert (await api.client.post(START, json=BODY, headers=headers)).status_code == 200


async def test_a_key_that_cannot_be_checked_is_dependency_unavailable(
    make_api: MakeApi,
) -> None:
    database = FlakyDatabase()
    api = await make_api(database=database)
    database.down = True

    protected = await api.client.post(
        START, json=BODY, headers={"Authorization": "Bearer nrv_any"}
    )
    public = await api.client.get(
        "/healthz", headers={"Authorization": "Bearer nrv_any"}
    )

    _is_error(protected, 503, "dependency_unavailable")
    assert public.status_code == 200


async def test_a_bug_is_an_internal_error_with_the_request_id_and_no_trace(
    make_api: MakeApi,
) -> None:
    from nerava.config import Settings
    from nerava.container import build_container

    container = build_container(Settings(rate_limit_per_minute=0))
    container.catalog.override(providers.Object(BrokenCatalog()))
    container.database.override(providers.Object(MemoryDatabase()))
    api = await make_api(container=container)

    response = await api.client.get(
        "/v1/energyhub/windows", headers={"X-Request-ID": "req-42"}
    )

    _is_error(response, 500, "internal_error")
    assert "req-42" in response.json()["message"]
    assert "secret" not in response.text
    assert "Traceback" not in response.text


async def test_readiness_names_a_failing_check(make_api: MakeApi) -> None:
    database = FlakyDatabase()
    api = await make_api(database=database)
    database.down = True

    response = await api.client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unready",
        "checks": {"database": "unavailable"},
    }


async def test_readiness_gives_up_on_a_slow_database(
    make_api: MakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(operations, "READINESS_TIMEOUT_SECONDS", 0.05)
    database = FlakyDatabase()
    api = await make_api(database=database)
    database.slow = True

    response = await api.client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "timeout"}


async def test_a_client_that_leaves_mid_body_is_logged_as_gone_not_as_a_failure(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    headers = await api.headers("events:write")
    app = api.client.app
    messages = iter(
        [
            {"type": "http.request", "body": b'{"user_id": ', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": START,
        "raw_path": START.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"authorization", headers["Authorization"].encode()),
            (b"content-type", b"application/json"),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }

    await app(scope, receive, send)

    assert sent[0]["status"] == 499
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
