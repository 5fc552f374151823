"""Charge events and sessions: rewards, receipts, replays and the rules."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.api.conftest import Api, MakeApi

GREEN = "2026-06-01T14:00:00Z"


async def _green_session(api: Api, headers: dict[str, str], **kwargs: str) -> str:
    api.clock.set(api.clock.now().replace(hour=14))
    return await api.started(headers, **kwargs)


async def test_a_start_answers_the_session_and_the_window_it_started_in(
    api: Api,
) -> None:
    headers = await api.headers("events:write")

    response = await api.start(headers)

    assert response.status_code == 200
    body = response.json()
    assert body["session_id"]
    assert body["user_id"] == "driver-1"
    assert body["hub_id"] == "hub-1"
    assert body["started_at"] == "2026-06-01T12:00:00Z"
    assert body["active_window"] == {
        "id": "solar_surplus",
        "label": "Solar Surplus",
        "price_per_kwh": 0.03,
        "multiplier": 1.0,
        "active_now": True,
    }


async def test_a_start_outside_every_window_has_no_active_window(api: Api) -> None:
    api.clock.set(api.clock.now().replace(hour=20))

    response = await api.start(await api.headers("events:write"))

    assert response.json()["active_window"] is None


async def test_green_hour_pays_15_5_kwh_248_cents_plus_the_co_fund(api: Api) -> None:
    headers = await api.headers("events:write")
    session_id = await _green_session(api, headers)
    api.clock.set(api.clock.now().replace(hour=15))

    response = await api.stop(headers, session_id, 15.5)

    assert response.status_code == 200
    body = response.json()
    assert body["window_applied"] == "green_hour"
    assert body["grid_reward_cents"] == 248
    assert body["merchant_reward_cents"] == 75
    assert body["total_reward_cents"] == 323
    assert body["grid_reward_usd"] == 2.48
    assert body["merchant_reward_usd"] == 0.75
    assert body["total_reward_usd"] == 3.23
    assert body["kwh"] == 15.5
    assert body["credit_status"] == "pending"
    assert body["wallet_balance_cents"] is None
    assert body["started_at"] == "2026-06-01T14:00:00Z"
    assert body["stopped_at"] == "2026-06-01T15:00:00Z"


async def test_solar_surplus_pays_8_5_kwh_26_cents_total_101(api: Api) -> None:
    headers = await api.headers("events:write")
    session_id = await api.started(headers)

    body = (await api.stop(headers, session_id, 8.5)).json()

    assert body["window_applied"] == "solar_surplus"
    assert body["grid_reward_cents"] == 26
    assert body["total_reward_cents"] == 101
    assert body["total_reward_usd"] == 1.01
    assert (
        b'"total_reward_usd":1.01' in json.dumps(body, separators=(",", ":")).encode()
    )


async def test_the_receipt_has_one_line_from_start_to_stop(api: Api) -> None:
    headers = await api.headers("events:write")
    session_id = await api.started(headers)
    api.clock.set(api.clock.now().replace(hour=13))

    body = (await api.stop(headers, session_id, 8.5)).json()

    assert body["breakdown"] == [
        {
            "window_id": "solar_surplus",
            "from": "2026-06-01T12:00:00Z",
            "to": "2026-06-01T13:00:00Z",
            "kwh": 8.5,
            "price_per_kwh": 0.03,
            "multiplier": 1.0,
            "grid_reward_cents": 26,
        }
    ]


async def test_the_message_names_the_window_the_amount_and_the_co_fund(
    api: Api,
) -> None:
    headers = await api.headers("events:write")
    session_id = await _green_session(api, headers)

    message = (await api.stop(headers, session_id, 15.5)).json()["message"]

    assert "Green Hour" in message
    assert "$3.23" in message
    assert "$0.75" in message
    assert "co-fund" in message


async def test_outside_every_window_only_the_co_fund_is_paid(api: Api) -> None:
    headers = await api.headers("events:write")
    api.clock.set(api.clock.now().replace(hour=20))
    session_id = await api.started(headers)

    body = (await api.stop(headers, session_id, 10)).json()

    assert body["window_applied"] is None
    assert body["grid_reward_cents"] == 0
    assert body["total_reward_cents"] == 75
    assert body["breakdown"] == []
    assert "$0.75" in body["message"]


async def test_kwh_is_rounded_half_up_to_watt_hours_before_use(api: Api) -> None:
    headers = await api.headers("events:write")
    session_id = await api.started(headers)

    body = (await api.stop(headers, session_id, 1.2345)).json()

    assert body["kwh"] == 1.235


async def test_kwh_too_small_once_rounded_is_refused(api: Api) -> None:
    headers = await api.headers("events:write")
    session_id = await api.started(headers)

    response = await api.stop(headers, session_id, 0.0004)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "kwh_consumed"


async def test_kwh_as_a_string_is_refused(api: Api) -> None:
    headers = await api.headers("events:write")
    session_id = await api.started(headers)

    response = await api.stop(headers, session_id, "12.5")

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "kwh_consumed", "message": "must be a JSON number"}
    ]


@pytest.mark.parametrize("kwh", [0, -1, 1000.0005, 1e400, True, None])
async def test_kwh_out_of_range_is_refused(api: Api, kwh: object) -> None:
    headers = await api.headers("events:write")
    session_id = await api.started(headers)

    response = await api.client.post(
        "/v1/energyhub/events/charge-stop",
        content=json.dumps({"session_id": session_id, "kwh_consumed": kwh})
        if kwh != 1e400
        else f'{{"session_id": "{session_id}", "kwh_consumed": 1e400}}',
        headers=headers,
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "kwh_consumed"


async def test_max_session_kwh_is_inclusive(make_api: MakeApi) -> None:
    api = await make_api(max_session_kwh=50)
    headers = await api.headers("events:write")
    session_id = await api.started(headers)

    too_much = await api.stop(headers, session_id, 50.001)
    exact = await api.stop(headers, session_id, 50)

    assert too_much.status_code == 422
    assert exact.status_code == 200


async def test_the_same_stop_again_answers_the_same_bytes(api: Api) -> None:
    headers = await api.headers("events:write")
    session_id = await api.started(headers)
    first = await api.stop(headers, session_id, 8.5)
    api.clock.set(api.clock.now().replace(hour=16))

    again = await api.stop(headers, session_id, 8.50)

    assert again.status_code == 200
    assert again.content == first.content


async def test_a_stop_with_other_kwh_is_already_stopped(api: Api) -> None:
    headers = await api.headers("events:write")
    session_id = await api.started(headers)
    await api.stop(headers, session_id, 8.5)

    response = await api.stop(headers, session_id, 9)

    assert response.status_code == 409
    assert response.json()["detail"] == "session_already_stopped"


async def test_thirty_identical_stops_at_once_credit_once_with_one_body(
    make_api: MakeApi,
) -> None:
    api = await make_api(enable_sync_credit=True)
    headers = await api.headers("events:write")
    wallet = await api.headers("wallet:read")
    session_id = await api.started(headers)

    responses = await asyncio.gather(
        *(api.stop(headers, session_id, 8.5) for _ in range(30))
    )

    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    view = (await api.client.get("/v1/wallet/driver-1", headers=wallet)).json()
    assert view["balance_cents"] == 101
    assert [e["kind"] for e in view["entries"]] == ["charge_reward"]


async def test_an_unknown_session_is_session_not_found(api: Api) -> None:
    response = await api.stop(await api.headers("events:write"), "ses_nope", 5)

    assert response.status_code == 404
    assert response.json()["detail"] == "session_not_found"


async def test_a_second_start_names_the_active_session(api: Api) -> None:
    headers = await api.headers("events:write")
    session_id = await api.started(headers)

    response = await api.start(headers, hub_id="hub-2")

    assert response.status_code == 409
    body = response.json()
    assert body["detail"] == "session_already_active"
    assert body["session_id"] == session_id
    assert set(body) == {"status_code", "detail", "message", "session_id"}


async def test_a_stop_before_the_start_is_refused_on_at(make_api: MakeApi) -> None:
    api = await make_api(allow_demo_at=True)
    headers = await api.headers("events:write")
    session_id = await api.started(headers)

    response = await api.client.post(
        "/v1/energyhub/events/charge-stop?at=2026-06-01T11:59:59Z",
        json={"session_id": session_id, "kwh_consumed": 1},
        headers=headers,
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "at"


async def test_a_stop_at_the_very_instant_of_the_start_is_allowed(api: Api) -> None:
    headers = await api.headers("events:write")
    session_id = await api.started(headers)

    response = await api.stop(headers, session_id, 1)

    assert response.status_code == 200
    assert response.json()["stopped_at"] == response.json()["started_at"]


async def test_at_stands_in_for_now_on_charge_events(make_api: MakeApi) -> None:
    api = await make_api(allow_demo_at=True)
    headers = await api.headers("events:write")

    start = await api.client.post(
        f"/v1/energyhub/events/charge-start?at={GREEN}",
        json={"user_id": "driver-1", "hub_id": "hub-1"},
        headers=headers,
    )
    stop = await api.client.post(
        "/v1/energyhub/events/charge-stop?at=2026-06-01T15:00:00Z",
        json={"session_id": start.json()["session_id"], "kwh_consumed": 15.5},
        headers=headers,
    )

    assert start.json()["active_window"]["id"] == "green_hour"
    assert stop.json()["grid_reward_cents"] == 248


async def test_occurred_at_sets_the_event_time(api: Api) -> None:
    headers = await api.headers("events:write")

    response = await api.start(headers, occurred_at="2026-06-01T11:00:00+01:00")

    assert response.json()["started_at"] == "2026-06-01T10:00:00Z"


@pytest.mark.parametrize(
    "occurred_at", ["2026-06-01T12:05:01Z", "2026-05-25T11:59:59Z", "yesterday"]
)
async def test_an_event_time_out_of_bounds_is_refused(
    api: Api, occurred_at: str
) -> None:
    response = await api.start(
        await api.headers("events:write"), occurred_at=occurred_at
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "occurred_at"


async def test_an_implausible_energy_is_refused(make_api: MakeApi) -> None:
    api = await make_api(max_charge_power_kw=11)
    headers = await api.headers("events:write")
    session_id = await api.started(headers)
    api.clock.set(api.clock.now().replace(hour=13))

    refused = await api.stop(headers, session_id, 11.184)
    allowed = await api.stop(headers, session_id, 11.183)

    assert refused.status_code == 422
    assert refused.json()["detail"] == "implausible_kwh"
    assert allowed.status_code == 200


async def test_sync_credit_answers_the_balance_after_the_credit(
    make_api: MakeApi,
) -> None:
    api = await make_api(enable_sync_credit=True)
    headers = await api.headers("events:write")
    session_id = await api.started(headers)

    body = (await api.stop(headers, session_id, 8.5)).json()

    assert body["credit_status"] == "credited"
    assert body["wallet_balance_cents"] == 101


async def test_a_replayed_stop_keeps_the_balance_it_answered_first(
    make_api: MakeApi,
) -> None:
    api = await make_api(enable_sync_credit=True)
    headers = await api.headers("events:write")
    first_id = await api.started(headers)
    first = await api.stop(headers, first_id, 8.5)
    second_id = await api.started(headers)
    await api.stop(headers, second_id, 8.5)

    again = await api.stop(headers, first_id, 8.5)

    assert again.content == first.content
    assert again.json()["wallet_balance_cents"] == 101


async def test_async_credit_is_pending_until_the_processor_credits_it(
    api: Api,
) -> None:
    headers = await api.headers("events:write", "wallet:read")
    session_id = await api.started(headers)
    stop = await api.stop(headers, session_id, 8.5)
    before = await api.client.get(
        f"/v1/energyhub/sessions/{session_id}", headers=headers
    )
    wallet_before = (
        await api.client.get("/v1/wallet/driver-1", headers=headers)
    ).json()

    assert await api.credit_pending() == 1

    after = await api.client.get(
        f"/v1/energyhub/sessions/{session_id}", headers=headers
    )
    wallet_after = (await api.client.get("/v1/wallet/driver-1", headers=headers)).json()
    replay = await api.stop(headers, session_id, 8.5)
    assert stop.json()["credit_status"] == "pending"
    assert before.json()["credit_status"] == "pending"
    assert after.json()["credit_status"] == "credited"
    assert (wallet_before["pending_cents"], wallet_before["balance_cents"]) == (101, 0)
    assert (wallet_after["pending_cents"], wallet_after["balance_cents"]) == (0, 101)
    assert replay.content == stop.content


async def test_reading_an_active_session(api: Api) -> None:
    headers = await api.headers("events:write")
    session_id = await api.started(headers)

    body = (
        await api.client.get(f"/v1/energyhub/sessions/{session_id}", headers=headers)
    ).json()

    assert body["state"] == "active"
    assert body["session_id"] == session_id
    assert body["started_at"] == "2026-06-01T12:00:00Z"
    assert body["active_window"]["id"] == "solar_surplus"
    assert "grid_reward_cents" not in body


async def test_a_stopped_session_reads_with_every_field_of_its_stop(api: Api) -> None:
    headers = await api.headers("events:write")
    session_id = await api.started(headers)
    stop = (await api.stop(headers, session_id, 8.5)).json()

    body = (
        await api.client.get(f"/v1/energyhub/sessions/{session_id}", headers=headers)
    ).json()

    assert body["state"] == "stopped"
    assert {k: body[k] for k in stop} == stop


async def test_a_session_reads_with_wallet_read_too(api: Api) -> None:
    session_id = await api.started(await api.headers("events:write"))

    response = await api.client.get(
        f"/v1/energyhub/sessions/{session_id}", headers=await api.headers("wallet:read")
    )

    assert response.status_code == 200


async def test_a_session_of_another_hub_is_forbidden_to_a_hub_key(api: Api) -> None:
    session_id = await api.started(await api.headers("events:write"), hub_id="hub-2")
    hub_key = await api.headers("events:write", hubs=("hub-1",))

    read = await api.client.get(f"/v1/energyhub/sessions/{session_id}", headers=hub_key)
    stop = await api.stop(hub_key, session_id, 1)
    start = await api.start(hub_key, user_id="driver-2", hub_id="hub-2")

    assert (read.status_code, stop.status_code, start.status_code) == (403, 403, 403)
    assert {r.json()["detail"] for r in (read, stop, start)} == {"forbidden"}


async def test_a_hub_key_acts_for_its_own_hub(api: Api) -> None:
    hub_key = await api.headers("events:write", hubs=("hub-1",))

    session_id = await api.started(hub_key, hub_id="hub-1")

    assert (await api.stop(hub_key, session_id, 1)).status_code == 200


async def test_cancelling_frees_the_driver_and_twice_answers_the_same(
    api: Api,
) -> None:
    headers = await api.headers("events:write")
    session_id = await api.started(headers)
    path = f"/v1/energyhub/sessions/{session_id}/cancel"

    first = await api.client.post(path, json={"reason": "stop lost"}, headers=headers)
    second = await api.client.post(path, json={"reason": "stop lost"}, headers=headers)
    restart = await api.start(headers)

    assert first.status_code == 200
    assert first.json()["state"] == "cancelled"
    assert first.json()["cancel_reason"] == "stop lost"
    assert second.content == first.content
    assert restart.status_code == 200


async def test_a_stopped_session_cannot_be_cancelled_nor_a_cancelled_one_stopped(
    api: Api,
) -> None:
    headers = await api.headers("events:write")
    stopped = await api.started(headers)
    await api.stop(headers, stopped, 1)
    cancelled = await api.started(headers)
    await api.client.post(
        f"/v1/energyhub/sessions/{cancelled}/cancel",
        json={"reason": "x"},
        headers=headers,
    )

    cancel = await api.client.post(
        f"/v1/energyhub/sessions/{stopped}/cancel",
        json={"reason": "x"},
        headers=headers,
    )
    stop = await api.stop(headers, cancelled, 1)

    assert (cancel.status_code, stop.status_code) == (409, 409)
    assert cancel.json()["detail"] == stop.json()["detail"] == "session_already_stopped"


async def test_a_cancel_reason_is_required_and_printable(api: Api) -> None:
    headers = await api.headers("events:write")
    session_id = await api.started(headers)
    path = f"/v1/energyhub/sessions/{session_id}/cancel"

    missing = await api.client.post(path, json={}, headers=headers)
    control = await api.client.post(path, json={"reason": "a\nb"}, headers=headers)

    assert (missing.status_code, control.status_code) == (422, 422)
    assert missing.json()["errors"][0]["field"] == "reason"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user_id": "has space", "hub_id": "h"}, "user_id"),
        ({"user_id": "u" * 129, "hub_id": "h"}, "user_id"),
        ({"user_id": "", "hub_id": "h"}, "user_id"),
        ({"user_id": "u", "hub_id": ""}, "hub_id"),
        ({"user_id": "u", "hub_id": "h\u0000"}, "hub_id"),
        ({"user_id": "u", "hub_id": "h" * 129}, "hub_id"),
        ({"user_id": 5, "hub_id": "h"}, "user_id"),
        ({"hub_id": "h"}, "user_id"),
    ],
)
async def test_a_start_refuses_broken_ids(
    api: Api, body: dict[str, object], field: str
) -> None:
    response = await api.client.post(
        "/v1/energyhub/events/charge-start",
        json=body,
        headers=await api.headers("events:write"),
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


async def test_ids_count_code_points(api: Api) -> None:
    response = await api.start(await api.headers("events:write"), hub_id="é" * 128)

    assert response.status_code == 200


async def test_meter_values_must_fit_the_session_naming_the_first_bad_one(
    api: Api,
) -> None:
    headers = await api.headers("events:write")
    session_id = await api.started(headers)
    api.clock.set(api.clock.now().replace(hour=13))
    readings = [
        {"at": "2026-06-01T12:10:00Z", "kwh": 1},
        {"at": "2026-06-01T12:20:00Z", "kwh": 0.5},
    ]

    response = await api.stop(headers, session_id, 5, meter_values=readings)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"].startswith("meter_values[1]")


async def test_prorated_splits_the_energy_over_the_windows(make_api: MakeApi) -> None:
    api = await make_api(reward_policy="prorated")
    headers = await api.headers("events:write")
    api.clock.set(api.clock.now().replace(hour=13))
    session_id = await api.started(headers)
    api.clock.set(api.clock.now().replace(hour=15))

    body = (await api.stop(headers, session_id, 10)).json()

    lines = {line["window_id"]: line for line in body["breakdown"]}
    assert lines["solar_surplus"]["kwh"] == 5
    assert lines["green_hour"]["kwh"] == 5
    assert lines["solar_surplus"]["grid_reward_cents"] == 15
    assert lines["green_hour"]["grid_reward_cents"] == 80
    assert body["grid_reward_cents"] == 95
    assert body["window_applied"] == "green_hour"


async def test_a_started_session_keeps_the_terms_it_captured(api: Api) -> None:
    headers = await api.headers("events:write")
    session_id = await _green_session(api, headers)
    await api.client.put(
        "/v1/energyhub/windows/green_hour",
        json={
            "label": "Green Hour",
            "start_local": "14:00",
            "end_local": "17:00",
            "price_per_kwh": 1,
            "multiplier": 1,
        },
        headers=await api.admin(),
    )

    body = (await api.stop(headers, session_id, 15.5)).json()

    assert body["grid_reward_cents"] == 248
