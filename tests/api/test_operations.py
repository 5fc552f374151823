"""What operators rely on: health, metrics, request ids, logs, limits, CORS."""

from __future__ import annotations

import json
import logging

import pytest

from nerava.entrypoints.http.schemas import (
    json_schema_components,
)
from tests.api.conftest import Api, MakeApi

START = "/v1/energyhub/events/charge-start"


async def test_healthz_answers_ok(api: Api) -> None:
    response = await api.client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_answers_ready_with_its_checks(api: Api) -> None:
    response = await api.client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok"}}


async def test_requests_are_counted_by_route_template_and_status(api: Api) -> None:
    labels = {"method": "GET", "path": "/v1/energyhub/windows/{window_id}"}
    before = await api.metric("http_requests_total", status="404", **labels)

    await api.client.get("/v1/energyhub/windows/moonlight")

    after = await api.metric("http_requests_total", status="404", **labels)
    assert after == before + 1
    assert await api.metric("http_request_duration_seconds_count", **labels) >= 1


async def test_a_request_no_route_matched_is_counted_as_unmatched(api: Api) -> None:
    before = await api.metric(
        "http_requests_total", method="GET", path="unmatched", status="404"
    )

    await api.client.get("/v1/energyhub/sessions/a/b/c")

    after = await api.metric(
        "http_requests_total", method="GET", path="unmatched", status="404"
    )
    assert after == before + 1


async def test_active_requests_are_back_to_zero_after_errors(api: Api) -> None:
    await api.client.get("/nowhere")
    await api.client.post(START, content=b"{")

    response = await api.client.get("/metrics")

    line = next(
        line
        for line in response.text.splitlines()
        if line.startswith("http_active_requests ")
    )
    # The request reading the metrics is the only one in flight.
    assert float(line.split()[1]) == 1.0


async def test_sessions_and_sync_credits_are_counted_once(make_api: MakeApi) -> None:
    api = await make_api(enable_sync_credit=True)
    headers = await api.headers("events:write")
    started = await api.metric("charging_sessions_total", event="started")
    stopped = await api.metric("charging_sessions_total", event="stopped")
    credited = await api.metric("wallet_credits_total", mode="sync", outcome="credited")

    session_id = await api.started(headers)
    await api.stop(headers, session_id, 8.5)
    await api.stop(headers, session_id, 8.5)

    assert await api.metric("charging_sessions_total", event="started") == started + 1
    assert await api.metric("charging_sessions_total", event="stopped") == stopped + 1
    assert (
        await api.metric("wallet_credits_total", mode="sync", outcome="credited")
        == credited + 1
    )


async def test_every_response_carries_a_request_id(api: Api) -> None:
    answers = [
        await api.client.get("/healthz"),
        await api.client.get("/nowhere"),
        await api.client.delete("/healthz"),
        await api.client.post(START, json={}),
    ]

    ids = [r.headers["X-Request-ID"] for r in answers]
    assert all(ids)
    assert len(set(ids)) == len(ids)


async def test_a_given_request_id_is_echoed(api: Api) -> None:
    response = await api.client.get("/nowhere", headers={"X-Request-ID": "abc-123"})

    assert response.headers["X-Request-ID"] == "abc-123"


async def test_each_request_writes_one_json_access_line(
    api: Api, access_lines: list[str]
) -> None:
    await api.client.get(
        "/nowhere", headers={"X-Request-ID": "trace-1", "Authorization": "Bearer s3"}
    )

    lines = [json.loads(line) for line in access_lines]
    assert lines == [
        {
            "method": "GET",
            "route": "unmatched",
            "status": 404,
            "duration_ms": lines[0]["duration_ms"],
            "request_id": "trace-1",
            "client": "testclient",
        }
    ]
    assert "s3" not in access_lines[0]


async def test_log_level_warning_silences_the_access_log(
    make_api: MakeApi, access_lines: list[str]
) -> None:
    api = await make_api(log_level="WARNING")

    await api.client.get("/healthz")

    assert access_lines == []


async def test_counted_responses_carry_the_rate_limit_headers(
    make_api: MakeApi,
) -> None:
    api = await make_api(rate_limit_per_minute=5)

    response = await api.client.get("/v1/energyhub/windows")

    assert response.headers["RateLimit-Limit"] == "5"
    assert response.headers["RateLimit-Remaining"] == "4"
    assert 1 <= int(response.headers["RateLimit-Reset"]) <= 60


async def test_over_the_limit_is_429_with_retry_after_and_a_log_line(
    make_api: MakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    api = await make_api(rate_limit_per_minute=2)
    for _ in range(2):
        await api.client.get("/v1/energyhub/windows")

    with caplog.at_level(logging.WARNING):
        response = await api.client.get("/v1/energyhub/windows")

    assert response.status_code == 429
    assert response.json()["detail"] == "rate_limited"
    assert response.headers["RateLimit-Remaining"] == "0"
    assert response.headers["Retry-After"] == response.headers["RateLimit-Reset"]
    assert "X-Request-ID" in response.headers
    assert "Rate limit exceeded" in caplog.text


async def test_health_readiness_and_metrics_are_not_limited(
    make_api: MakeApi,
) -> None:
    api = await make_api(rate_limit_per_minute=1)
    await api.client.get("/v1/energyhub/windows")

    answers = [await api.client.get(p) for p in ("/healthz", "/readyz", "/metrics") * 3]

    assert {r.status_code for r in answers} == {200}
    assert all("RateLimit-Limit" not in r.headers for r in answers)


async def test_a_valid_key_has_a_limit_of_its_own(make_api: MakeApi) -> None:
    api = await make_api(rate_limit_per_minute=2)
    first = await api.headers("wallet:read")
    second = await api.headers("wallet:read")
    for _ in range(2):
        await api.client.get("/v1/wallet/driver-1", headers=first)

    refused = await api.client.get("/v1/wallet/driver-1", headers=first)
    other_key = await api.client.get("/v1/wallet/driver-1", headers=second)
    anonymous = await api.client.get("/v1/energyhub/windows")

    assert refused.status_code == 429
    assert other_key.status_code == 200
    assert anonymous.status_code == 200


async def test_unknown_keys_count_against_the_client_address(
    make_api: MakeApi,
) -> None:
    api = await make_api(rate_limit_per_minute=2)
    for n in range(2):
        await api.client.get("/nowhere", headers={"Authorization": f"Bearer bad{n}"})

    response = await api.client.get("/v1/energyhub/windows")

    assert response.status_code == 429


async def test_forwarded_for_is_believed_only_from_trusted_proxies(
    make_api: MakeApi,
) -> None:
    # The test client connects from "testclient", which is never a proxy.
    untrusted = await make_api(rate_limit_per_minute=1, trusted_proxies=["10.0.0.0/8"])
    await untrusted.client.get("/healthz")
    await untrusted.client.get("/nowhere", headers={"X-Forwarded-For": "1.1.1.1"})

    spoofed = await untrusted.client.get(
        "/nowhere", headers={"X-Forwarded-For": "2.2.2.2"}
    )

    assert spoofed.status_code == 429


def test_a_trusted_proxy_names_the_nearest_untrusted_client() -> None:
    from nerava.entrypoints.http.ratelimit import ClientAddresses

    addresses = ClientAddresses(["10.0.0.0/8", "192.168.1.1"])

    assert addresses.client("10.1.2.3", "7.7.7.7, 8.8.8.8, 10.9.9.9") == "8.8.8.8"
    assert addresses.client("192.168.1.1", "8.8.8.8") == "8.8.8.8"
    assert addresses.client("172.16.0.1", "8.8.8.8") == "172.16.0.1"
    assert addresses.client("10.1.2.3", "garbage") == "10.1.2.3"
    assert addresses.client("10.1.2.3", None) == "10.1.2.3"


async def test_a_listed_origin_is_echoed_and_others_are_not(
    make_api: MakeApi,
) -> None:
    api = await make_api(cors_allow_origins=["https://app.example.com"])

    listed = await api.client.get(
        "/v1/energyhub/windows", headers={"Origin": "https://app.example.com"}
    )
    unlisted = await api.client.get(
        "/v1/energyhub/windows", headers={"Origin": "https://evil.example.com"}
    )

    assert listed.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "Access-Control-Allow-Origin" not in unlisted.headers


async def test_a_preflight_from_a_listed_origin_is_answered(
    make_api: MakeApi,
) -> None:
    api = await make_api(cors_allow_origins=["https://app.example.com"])

    response = await api.client.options(
        START,
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, idempotency-key",
        },
    )

    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Idempotency-Key" in response.headers["Access-Control-Allow-Headers"]


async def test_any_origin_never_allows_credentials(make_api: MakeApi) -> None:
    api = await make_api(cors_allow_origins=["*"])

    response = await api.client.get(
        "/v1/energyhub/windows", headers={"Origin": "https://x.example"}
    )

    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers


async def test_without_origins_no_cors_header_is_sent(api: Api) -> None:
    response = await api.client.get(
        "/v1/energyhub/windows", headers={"Origin": "https://app.example.com"}
    )

    assert not [h for h in response.headers if h.lower().startswith("access-control")]


async def test_auth_disabled_opens_every_route_and_warns(
    make_api: MakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        api = await make_api(auth_disabled=True)

    start = await api.client.post(START, json={"user_id": "d", "hub_id": "h"})
    adjust = await api.client.post(
        "/v1/wallet/d/adjustments", json={"amount_cents": 5, "reason": "demo"}
    )

    assert "authentication is disabled" in caplog.text
    assert start.status_code == 200
    assert adjust.status_code == 201
    assert adjust.json()["entry"]["actor"] == "anonymous"


async def test_the_openapi_schema_documents_every_route_and_error(api: Api) -> None:
    response = await api.client.get("/schema/openapi.json")

    document = response.json()
    assert document["openapi"].startswith("3.1")
    stop = document["paths"]["/v1/energyhub/events/charge-stop"]["post"]
    assert {"200", "401", "409", "413", "422", "429", "503"} <= set(stop["responses"])
    assert stop["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ChargeStopIn"
    }
    kwh = document["components"]["schemas"]["ChargeStopIn"]["properties"][
        "kwh_consumed"
    ]
    assert kwh["type"] == "number"
    assert document["paths"]["/v1/energyhub/windows/{window_id}"]["put"]["security"]
    assert "/healthz" in document["paths"]


async def test_the_docs_are_served_under_schema(api: Api) -> None:
    response = await api.client.get("/schema")

    assert response.status_code == 200
    assert "openapi.json" in response.text


def test_no_documented_number_is_a_string() -> None:
    from nerava.entrypoints.http.openapi import _STRUCTS, _as_numbers

    text = json.dumps(_as_numbers(json_schema_components(_STRUCTS)))

    assert '"format": "decimal"' not in text


async def test_a_trusted_proxy_gives_each_forwarded_client_a_limit(
    make_api: MakeApi,
) -> None:
    import httpx

    api = await make_api(rate_limit_per_minute=1, trusted_proxies=["10.0.0.0/8"])
    transport = httpx.ASGITransport(app=api.client.app, client=("10.0.0.5", 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as proxy:
        first = await proxy.get("/nowhere", headers={"X-Forwarded-For": "1.1.1.1"})
        second = await proxy.get("/nowhere", headers={"X-Forwarded-For": "2.2.2.2"})
        again = await proxy.get("/nowhere", headers={"X-Forwarded-For": "1.1.1.1"})

    assert (first.status_code, second.status_code, again.status_code) == (404, 404, 429)


async def test_a_stop_repeated_on_another_replica_is_counted_once(
    make_api: MakeApi,
) -> None:
    from nerava.adapters.memory import MemoryDatabase

    database = MemoryDatabase()
    first = await make_api(database=database)
    second = await make_api(database=database)
    headers = await first.headers("events:write")
    session_id = await first.started(headers)
    before = await first.metric("charging_sessions_total", event="stopped")

    await first.stop(headers, session_id, 8.5)
    await second.stop(headers, session_id, 8.5)

    assert await first.metric("charging_sessions_total", event="stopped") == before + 1


async def test_a_throttled_request_is_counted_under_its_route_template(
    make_api: MakeApi,
) -> None:
    api = await make_api(rate_limit_per_minute=1)
    labels = {
        "method": "GET",
        "path": "/v1/energyhub/windows/{window_id}",
        "status": "429",
    }
    await api.client.get("/v1/energyhub/windows/solar_surplus")
    before = await api.metric("http_requests_total", **labels)

    throttled = await api.client.get("/v1/energyhub/windows/green_hour")

    assert throttled.status_code == 429
    assert await api.metric("http_requests_total", **labels) == before + 1


async def test_another_method_on_a_known_path_is_counted_under_its_template(
    api: Api,
) -> None:
    labels = {
        "method": "DELETE",
        "path": "/v1/energyhub/events/charge-start",
        "status": "405",
    }
    before = await api.metric("http_requests_total", **labels)

    refused = await api.client.delete("/v1/energyhub/events/charge-start")

    assert refused.status_code == 405
    assert await api.metric("http_requests_total", **labels) == before + 1


async def test_metrics_are_served_as_prometheus_text_with_one_charset(api: Api) -> None:
    response = await api.client.get("/metrics")

    assert response.headers["content-type"].startswith("text/plain; version=")
    assert response.headers["content-type"].count("charset") == 1
