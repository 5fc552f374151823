"""The window routes: listing, reading, editing, and ``active_now`` at edges."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api, MakeApi

GREEN_HOUR = {
    "label": "Green Hour",
    "start_local": "14:00",
    "end_local": "17:00",
    "price_per_kwh": 0.08,
    "multiplier": 2.0,
}


async def test_the_default_windows_are_listed_with_their_terms(api: Api) -> None:
    response = await api.client.get("/v1/energyhub/windows")

    assert response.status_code == 200
    by_id = {w["id"]: w for w in response.json()}
    assert by_id["solar_surplus"]["label"] == "Solar Surplus"
    assert by_id["solar_surplus"]["start_local"] == "10:00"
    assert by_id["solar_surplus"]["end_local"] == "14:00"
    assert by_id["green_hour"]["start_utc"] == "14:00"
    assert by_id["green_hour"]["end_utc"] == "17:00"
    assert by_id["green_hour"]["days"] == [1, 2, 3, 4, 5, 6, 7]
    assert by_id["green_hour"]["hub_ids"] == []
    assert by_id["green_hour"]["timezone"] == "UTC"


async def test_prices_and_multipliers_are_json_numbers_written_exactly(
    api: Api,
) -> None:
    response = await api.client.get("/v1/energyhub/windows/green_hour")

    assert b'"price_per_kwh":0.08,' in response.content
    assert b'"multiplier":2.0,' in response.content


async def test_windows_are_ordered_by_their_utc_start(api: Api) -> None:
    response = await api.client.get("/v1/energyhub/windows")

    assert [w["id"] for w in response.json()] == ["solar_surplus", "green_hour"]


async def test_the_current_occurrence_is_given_in_utc_with_z(api: Api) -> None:
    response = await api.client.get("/v1/energyhub/windows/solar_surplus")

    window = response.json()
    assert window["active_now"] is True
    assert window["next_start"] == "2026-06-01T10:00:00Z"
    assert window["next_end"] == "2026-06-01T14:00:00Z"


@pytest.mark.parametrize(
    ("at", "active"),
    [
        ("2026-06-01T13:59:59Z", {"solar_surplus"}),
        ("2026-06-01T14:00:00Z", {"green_hour"}),
        ("2026-06-01T16:59:59.999999Z", {"green_hour"}),
        ("2026-06-01T17:00:00Z", set()),
    ],
)
async def test_active_now_is_exact_at_the_boundaries(
    make_api: MakeApi, at: str, active: set[str]
) -> None:
    api = await make_api(allow_demo_at=True)

    response = await api.client.get("/v1/energyhub/windows", params={"at": at})

    assert {w["id"] for w in response.json() if w["active_now"]} == active


async def test_active_now_is_exact_with_the_clock_rather_than_at(
    api: Api,
) -> None:
    await api.client.get("/v1/energyhub/windows")
    api.clock.set(api.clock.now().replace(hour=13, minute=59, second=59))
    before = (await api.client.get("/v1/energyhub/windows/green_hour")).json()
    api.clock.set(api.clock.now().replace(hour=14, minute=0, second=0))

    after = (await api.client.get("/v1/energyhub/windows/green_hour")).json()

    assert before["active_now"] is False
    assert after["active_now"] is True


async def test_at_works_on_a_single_window_too(make_api: MakeApi) -> None:
    api = await make_api(allow_demo_at=True)

    response = await api.client.get(
        "/v1/energyhub/windows/green_hour", params={"at": "2026-06-02T15:00:00+02:00"}
    )

    assert response.json()["active_now"] is False
    assert response.json()["next_start"] == "2026-06-02T14:00:00Z"


async def test_a_naive_at_is_utc(make_api: MakeApi) -> None:
    api = await make_api(allow_demo_at=True)

    response = await api.client.get(
        "/v1/energyhub/windows/green_hour", params={"at": "2026-06-01T14:30:00"}
    )

    assert response.json()["active_now"] is True


async def test_an_empty_at_is_the_same_as_none(api: Api) -> None:
    response = await api.client.get("/v1/energyhub/windows?at=")

    assert response.status_code == 200


async def test_an_unknown_window_is_window_not_found(api: Api) -> None:
    response = await api.client.get("/v1/energyhub/windows/moonlight")

    assert response.status_code == 404
    assert response.json()["detail"] == "window_not_found"


async def test_a_window_id_of_another_shape_is_a_validation_error(api: Api) -> None:
    response = await api.client.get("/v1/energyhub/windows/Not-Lower")

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "window_id"


async def test_put_creates_a_window_with_201_and_its_defaults(api: Api) -> None:
    body = {
        "label": "Night",
        "start_local": "22:00",
        "end_local": "06:00",
        "price_per_kwh": 0.05,
        "multiplier": 1.5,
    }

    response = await api.client.put(
        "/v1/energyhub/windows/night", json=body, headers=await api.admin()
    )

    assert response.status_code == 201
    window = response.json()
    assert window["id"] == "night"
    assert window["days"] == [1, 2, 3, 4, 5, 6, 7]
    assert window["timezone"] == "UTC"
    assert window["next_start"] == "2026-06-01T22:00:00Z"
    assert window["next_end"] == "2026-06-02T06:00:00Z"
    listed = await api.client.get("/v1/energyhub/windows")
    assert "night" in {w["id"] for w in listed.json()}


async def test_put_on_a_default_window_replaces_it_with_200(api: Api) -> None:
    body = {**GREEN_HOUR, "price_per_kwh": 0.1}

    response = await api.client.put(
        "/v1/energyhub/windows/green_hour", json=body, headers=await api.admin()
    )

    assert response.status_code == 200
    read = await api.client.get("/v1/energyhub/windows/green_hour")
    assert read.json()["price_per_kwh"] == 0.1


async def test_put_ignores_read_only_fields(api: Api) -> None:
    body = {
        **GREEN_HOUR,
        "active_now": True,
        "start_utc": "01:00",
        "next_start": "2000-01-01T00:00:00Z",
    }

    response = await api.client.put(
        "/v1/energyhub/windows/green_hour", json=body, headers=await api.admin()
    )

    assert response.status_code == 200
    assert response.json()["start_utc"] == "14:00"
    assert response.json()["active_now"] is False


async def test_put_refuses_a_body_id_other_than_the_path(api: Api) -> None:
    body = {**GREEN_HOUR, "id": "other"}

    response = await api.client.put(
        "/v1/energyhub/windows/green_hour", json=body, headers=await api.admin()
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "id"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"start_local": "25:00"}, "start_local"),
        ({"end_local": "14:00"}, "end_local"),
        ({"price_per_kwh": 10.01}, "price_per_kwh"),
        ({"price_per_kwh": "0.08"}, "price_per_kwh"),
        ({"multiplier": 100.5}, "multiplier"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"days": [0]}, "days"),
        ({"label": "bad\u0007label"}, "label"),
        ({"start_date": "2026-02-30"}, "start_date"),
    ],
)
async def test_put_refuses_a_broken_field_naming_it(
    api: Api, change: dict[str, object], field: str
) -> None:
    response = await api.client.put(
        "/v1/energyhub/windows/green_hour",
        json={**GREEN_HOUR, **change},
        headers=await api.admin(),
    )

    assert response.status_code == 422
    assert response.json()["detail"] == "validation_error"
    assert any(e["field"].startswith(field) for e in response.json()["errors"])


async def test_window_writes_need_the_admin_scope(api: Api) -> None:
    headers = await api.headers("events:write", "wallet:read", "wallet:write")

    put = await api.client.put(
        "/v1/energyhub/windows/green_hour", json=GREEN_HOUR, headers=headers
    )
    deleted = await api.client.delete(
        "/v1/energyhub/windows/green_hour", headers=headers
    )

    assert (put.status_code, deleted.status_code) == (403, 403)


async def test_delete_answers_204_and_the_default_never_comes_back(api: Api) -> None:
    admin = await api.admin()

    deleted = await api.client.delete(
        "/v1/energyhub/windows/solar_surplus", headers=admin
    )

    assert deleted.status_code == 204
    assert deleted.content == b""
    read = await api.client.get("/v1/energyhub/windows/solar_surplus")
    assert read.status_code == 404
    listed = await api.client.get("/v1/energyhub/windows")
    assert [w["id"] for w in listed.json()] == ["green_hour"]


async def test_deleting_an_unknown_window_is_window_not_found(api: Api) -> None:
    response = await api.client.delete(
        "/v1/energyhub/windows/moonlight", headers=await api.admin()
    )

    assert response.status_code == 404
    assert response.json()["detail"] == "window_not_found"


async def test_hub_filter_lists_the_windows_of_that_hub_only(api: Api) -> None:
    body = {**GREEN_HOUR, "label": "Depot", "hub_ids": ["depot-7"]}
    await api.client.put(
        "/v1/energyhub/windows/depot", json=body, headers=await api.admin()
    )

    for_depot = await api.client.get("/v1/energyhub/windows?hub_id=depot-7")
    for_other = await api.client.get("/v1/energyhub/windows?hub_id=hub-1")

    assert {w["id"] for w in for_depot.json()} == {
        "solar_surplus",
        "green_hour",
        "depot",
    }
    assert {w["id"] for w in for_other.json()} == {"solar_surplus", "green_hour"}


async def test_a_window_past_its_end_date_has_no_times_and_comes_last(
    api: Api,
) -> None:
    body = {
        **GREEN_HOUR,
        "label": "Old",
        "start_date": "2025-01-01",
        "end_date": "2025-02-01",
        "start_local": "00:30",
        "end_local": "01:00",
    }
    await api.client.put(
        "/v1/energyhub/windows/old", json=body, headers=await api.admin()
    )

    listed = (await api.client.get("/v1/energyhub/windows")).json()

    assert listed[-1]["id"] == "old"
    assert listed[-1]["start_utc"] is None
    assert listed[-1]["next_start"] is None
    assert listed[-1]["next_end"] is None
    assert listed[-1]["start_date"] == "2025-01-01"


async def test_a_zoned_window_answers_in_utc(api: Api) -> None:
    body = {
        **GREEN_HOUR,
        "label": "Berlin",
        "timezone": "Europe/Berlin",
        "start_local": "18:00",
        "end_local": "20:00",
        "days": [1],
    }
    await api.client.put(
        "/v1/energyhub/windows/berlin", json=body, headers=await api.admin()
    )

    window = (await api.client.get("/v1/energyhub/windows/berlin")).json()

    assert window["start_utc"] == "16:00"
    assert window["end_utc"] == "18:00"
    assert window["next_start"] == "2026-06-01T16:00:00Z"
    assert window["days"] == [1]


async def test_a_change_is_seen_at_once_by_the_replica_that_made_it(
    make_api: MakeApi,
) -> None:
    api = await make_api(cache_ttl_windows=3600)
    await api.client.get("/v1/energyhub/windows")

    await api.client.put(
        "/v1/energyhub/windows/green_hour",
        json={**GREEN_HOUR, "multiplier": 3},
        headers=await api.admin(),
    )

    read = await api.client.get("/v1/energyhub/windows")
    assert {w["id"]: w["multiplier"] for w in read.json()}["green_hour"] == 3


async def test_an_offset_whose_plus_became_a_space_in_the_query_is_read(
    make_api: MakeApi,
) -> None:
    api = await make_api(allow_demo_at=True)

    response = await api.client.get(
        "/v1/energyhub/windows/green_hour?at=2026-06-01T16:30:00+02:00"
    )

    assert response.status_code == 200
    assert response.json()["active_now"] is True
