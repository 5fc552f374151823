"""The order of checks: each earlier check wins over every later one.

rate limit, route, authentication, scope, body size, JSON, ``at`` gating,
``at`` syntax, fields, idempotency, then the rules.
"""

from __future__ import annotations

from nerava.entrypoints.http.idempotency import fingerprint
from tests.api.conftest import Api, MakeApi

START = "/v1/energyhub/events/charge-start"
STOP = "/v1/energyhub/events/charge-stop"
HUGE = b'{"user_id": "' + b"u" * 70_000 + b'"}'


async def test_the_rate_limit_comes_before_the_route(make_api: MakeApi) -> None:
    api = await make_api(rate_limit_per_minute=1)
    await api.client.get("/nowhere")

    response = await api.client.get("/nowhere")

    assert response.status_code == 429


async def test_the_route_comes_before_authentication(api: Api) -> None:
    unknown = await api.client.post("/v1/energyhub/events/charge-pause", content=HUGE)
    wrong_method = await api.client.get(START)

    assert unknown.status_code == 404
    assert wrong_method.status_code == 405


async def test_authentication_comes_before_the_body(api: Api) -> None:
    response = await api.client.post(START, content=HUGE)

    assert response.status_code == 401


async def test_the_scope_comes_before_the_body(api: Api) -> None:
    response = await api.client.post(
        START, content=HUGE, headers=await api.headers("wallet:read")
    )

    assert response.status_code == 403
    assert response.json()["detail"] == "forbidden"


async def test_the_body_size_comes_before_json_and_at(api: Api) -> None:
    response = await api.client.post(
        f"{START}?at=2026-06-01",
        content=HUGE,
        headers=await api.headers("events:write"),
    )

    assert response.status_code == 413


async def test_json_comes_before_at(api: Api) -> None:
    response = await api.client.post(
        f"{START}?at=2026-06-01T14:00:00Z",
        content=b"{",
        headers=await api.headers("events:write"),
    )

    assert response.status_code == 400
    assert response.json()["detail"] == "malformed_json"


async def test_at_gating_comes_before_at_syntax_and_fields(api: Api) -> None:
    response = await api.client.post(
        f"{START}?at=garbage",
        json={"user_id": ""},
        headers=await api.headers("events:write"),
    )

    assert response.status_code == 403
    assert response.json()["detail"] == "demo_at_disabled"


async def test_at_syntax_comes_before_fields(make_api: MakeApi) -> None:
    api = await make_api(allow_demo_at=True)

    response = await api.client.post(
        f"{START}?at=2026-06-01",
        json={"user_id": ""},
        headers=await api.headers("events:write"),
    )

    assert response.status_code == 400
    assert response.json()["detail"] == "invalid_at_param"


async def test_fields_come_before_idempotency(api: Api) -> None:
    headers = await api.headers("events:write")
    first = {**headers, "Idempotency-Key": "k"}
    await api.client.post(
        START, json={"user_id": "driver-1", "hub_id": "hub-1"}, headers=first
    )

    response = await api.client.post(
        START, json={"user_id": "", "hub_id": "hub-1"}, headers=first
    )

    assert response.status_code == 422
    assert response.json()["detail"] == "validation_error"


async def test_idempotency_comes_before_the_rules(api: Api) -> None:
    headers = {**await api.headers("events:write"), "Idempotency-Key": "k"}
    await api.client.post(
        STOP, json={"session_id": "ses_a", "kwh_consumed": 1}, headers=headers
    )
    key = await api.container.keys().authenticate(
        headers["Authorization"].removeprefix("Bearer ")
    )
    assert key is not None
    await api.container.idempotency().begin(
        f"{key.key_id} POST {STOP}", "k2", fingerprint("POST", STOP, "", {})
    )

    in_progress = await api.client.post(
        STOP,
        json={"session_id": "ses_unknown", "kwh_consumed": 1},
        headers={**headers, "Idempotency-Key": "k2"},
    )

    assert in_progress.status_code == 409
    assert in_progress.json()["detail"] == "request_in_progress"


async def test_a_path_id_is_a_field_checked_after_the_scope(api: Api) -> None:
    unauthorized = await api.client.get("/v1/wallet/bad%20id")
    forbidden = await api.client.get(
        "/v1/wallet/bad%20id", headers=await api.headers("events:write")
    )

    assert (unauthorized.status_code, forbidden.status_code) == (401, 403)
