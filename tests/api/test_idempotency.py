"""``Idempotency-Key`` on charge events and debits."""

from __future__ import annotations

import asyncio

from nerava.domain.access import Scope
from tests.api.conftest import Api

STOP = "/v1/energyhub/events/charge-stop"
START = "/v1/energyhub/events/charge-start"


async def _key_id(api: Api, headers: dict[str, str]) -> str:
    secret = headers["Authorization"].removeprefix("Bearer ")
    key = await api.container.keys().authenticate(secret)
    assert key is not None
    return key.key_id


async def test_a_repeat_with_the_key_replays_status_and_body(api: Api) -> None:
    headers = await api.headers("events:write")
    session_id = await api.started(headers)
    keyed = {**headers, "Idempotency-Key": "stop-1"}
    first = await api.client.post(
        STOP, json={"session_id": session_id, "kwh_consumed": 8.5}, headers=keyed
    )

    again = await api.client.post(
        STOP, json={"kwh_consumed": 8.50, "session_id": session_id}, headers=keyed
    )

    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers


async def test_a_replayed_start_creates_no_second_session(api: Api) -> None:
    headers = {**await api.headers("events:write"), "Idempotency-Key": "start-1"}
    body = {"user_id": "driver-1", "hub_id": "hub-1"}
    first = await api.client.post(START, json=body, headers=headers)

    again = await api.client.post(START, json=body, headers=headers)

    assert again.status_code == 200
    assert again.json()["session_id"] == first.json()["session_id"]


async def test_the_key_with_another_body_is_refused(api: Api) -> None:
    headers = await api.headers("events:write")
    session_id = await api.started(headers)
    keyed = {**headers, "Idempotency-Key": "stop-1"}
    await api.client.post(
        STOP, json={"session_id": session_id, "kwh_consumed": 8.5}, headers=keyed
    )

    response = await api.client.post(
        STOP, json={"session_id": session_id, "kwh_consumed": 9}, headers=keyed
    )

    assert response.status_code == 422
    assert response.json()["detail"] == "idempotency_key_reused"


async def test_the_key_with_another_query_is_refused(api: Api) -> None:
    headers = {**await api.headers("events:write"), "Idempotency-Key": "k"}
    body = {"user_id": "driver-1", "hub_id": "hub-1"}
    await api.client.post(START, json=body, headers=headers)

    response = await api.client.post(f"{START}?x=1", json=body, headers=headers)

    assert response.json()["detail"] == "idempotency_key_reused"


async def test_the_key_while_the_first_request_runs_is_in_progress(api: Api) -> None:
    headers = await api.headers("events:write")
    scope = f"{await _key_id(api, headers)} POST {START}"
    await api.container.idempotency().begin(scope, "busy", "fingerprint")

    response = await api.client.post(
        START,
        json={"user_id": "driver-1", "hub_id": "hub-1"},
        headers={**headers, "Idempotency-Key": "busy"},
    )

    assert response.status_code == 409
    assert response.json()["detail"] == "request_in_progress"


async def test_a_failed_request_releases_its_key(api: Api) -> None:
    headers = {**await api.headers("events:write"), "Idempotency-Key": "retry"}
    body = {"session_id": "ses_unknown", "kwh_consumed": 1}
    failed = await api.client.post(STOP, json=body, headers=headers)

    again = await api.client.post(STOP, json=body, headers=headers)

    assert failed.status_code == again.status_code == 404
    assert again.json()["detail"] == "session_not_found"


async def test_keys_are_scoped_per_api_key(api: Api) -> None:
    body = {"user_id": "driver-1", "hub_id": "hub-1"}
    first = {**await api.headers("events:write"), "Idempotency-Key": "same"}
    second = {**await api.headers("events:write"), "Idempotency-Key": "same"}
    await api.client.post(START, json=body, headers=first)

    response = await api.client.post(
        START, json={**body, "user_id": "driver-2"}, headers=second
    )

    assert response.status_code == 200
    assert "Idempotent-Replayed" not in response.headers


async def test_keys_are_scoped_per_route(api: Api) -> None:
    headers = {
        **await api.headers(Scope.EVENTS_WRITE, Scope.WALLET_WRITE),
        "Idempotency-Key": "shared",
    }
    await api.client.post(
        START, json={"user_id": "driver-1", "hub_id": "hub-1"}, headers=headers
    )

    response = await api.client.post(
        "/v1/wallet/driver-1/debits",
        json={"amount_cents": 1, "reason": "coffee"},
        headers=headers,
    )

    assert response.json()["detail"] == "insufficient_funds"


async def test_a_key_longer_than_255_characters_is_refused(api: Api) -> None:
    headers = {**await api.headers("events:write"), "Idempotency-Key": "k" * 256}

    response = await api.client.post(
        START, json={"user_id": "driver-1", "hub_id": "hub-1"}, headers=headers
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"


async def test_a_key_of_255_characters_is_accepted(api: Api) -> None:
    headers = {**await api.headers("events:write"), "Idempotency-Key": "k" * 255}

    response = await api.client.post(
        START, json={"user_id": "driver-1", "hub_id": "hub-1"}, headers=headers
    )

    assert response.status_code == 200


async def test_a_debit_with_a_key_moves_money_once(api: Api) -> None:
    admin = await api.admin()
    await api.client.post(
        "/v1/wallet/driver-1/adjustments",
        json={"amount_cents": 500, "reason": "welcome"},
        headers=admin,
    )
    headers = {**admin, "Idempotency-Key": "debit-1"}
    body = {"amount_cents": 200, "reason": "coffee"}

    responses = [
        await api.client.post("/v1/wallet/driver-1/debits", json=body, headers=headers)
        for _ in range(3)
    ]

    assert [r.status_code for r in responses] == [201, 201, 201]
    assert len({r.content for r in responses}) == 1
    wallet = await api.client.get("/v1/wallet/driver-1", headers=admin)
    assert wallet.json()["balance_cents"] == 300


async def test_concurrent_requests_with_one_key_run_once(api: Api) -> None:
    headers = {**await api.headers("events:write"), "Idempotency-Key": "race"}
    body = {"user_id": "driver-1", "hub_id": "hub-1"}

    responses = await asyncio.gather(
        *(api.client.post(START, json=body, headers=headers) for _ in range(10))
    )

    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {200, 409}
    ids = {r.json()["session_id"] for r in responses if r.status_code == 200}
    assert len(ids) == 1
    conflicts = {r.json()["detail"] for r in responses if r.status_code == 409}
    assert conflicts <= {"request_in_progress", "session_already_active"}
