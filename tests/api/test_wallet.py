"""Wallets: reads, pages of entries, debits and adjustments."""

from __future__ import annotations

import asyncio

import pytest

from tests.api.conftest import Api


async def _fund(api: Api, user_id: str, cents: int) -> None:
    response = await api.client.post(
        f"/v1/wallet/{user_id}/adjustments",
        json={"amount_cents": cents, "reason": "welcome bonus"},
        headers=await api.admin(),
    )
    assert response.status_code == 201, response.text


async def test_an_unknown_user_has_a_wallet_of_zeros(api: Api) -> None:
    response = await api.client.get(
        "/v1/wallet/nobody", headers=await api.headers("wallet:read")
    )

    assert response.status_code == 200
    assert response.json() == {
        "user_id": "nobody",
        "balance_cents": 0,
        "pending_cents": 0,
        "entries": [],
    }


async def test_a_debit_is_a_negative_redemption_with_the_balance_after(
    api: Api,
) -> None:
    await _fund(api, "driver-1", 500)
    headers = await api.headers("wallet:write")

    response = await api.client.post(
        "/v1/wallet/driver-1/debits",
        json={"amount_cents": 120, "reason": "coffee"},
        headers=headers,
    )

    assert response.status_code == 201
    body = response.json()
    assert body["balance_cents"] == 380
    entry = body["entry"]
    assert entry["kind"] == "redemption"
    assert entry["amount_cents"] == -120
    assert entry["reason"] == "coffee"
    assert entry["session_id"] is None
    assert entry["reverses_entry_id"] is None
    assert entry["actor"].startswith("key_")
    assert entry["created_at"] == "2026-06-01T12:00:00Z"


async def test_a_debit_over_the_balance_is_insufficient_funds(api: Api) -> None:
    await _fund(api, "driver-1", 100)

    response = await api.client.post(
        "/v1/wallet/driver-1/debits",
        json={"amount_cents": 101, "reason": "coffee"},
        headers=await api.headers("wallet:write"),
    )

    assert response.status_code == 409
    assert response.json()["detail"] == "insufficient_funds"


async def test_concurrent_debits_never_spend_more_than_the_balance(api: Api) -> None:
    await _fund(api, "driver-1", 1000)
    headers = await api.headers("wallet:write", "wallet:read")

    responses = await asyncio.gather(
        *(
            api.client.post(
                "/v1/wallet/driver-1/debits",
                json={"amount_cents": 300, "reason": "coffee"},
                headers=headers,
            )
            for _ in range(10)
        )
    )

    assert sorted(r.status_code for r in responses) == [201] * 3 + [409] * 7
    wallet = (await api.client.get("/v1/wallet/driver-1", headers=headers)).json()
    assert wallet["balance_cents"] == 100


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount_cents": 0, "reason": "x"}, "amount_cents"),
        ({"amount_cents": 100_000_001, "reason": "x"}, "amount_cents"),
        ({"amount_cents": 1.5, "reason": "x"}, "amount_cents"),
        ({"amount_cents": "5", "reason": "x"}, "amount_cents"),
        ({"amount_cents": 5}, "reason"),
        ({"amount_cents": 5, "reason": ""}, "reason"),
        ({"amount_cents": 5, "reason": "r" * 201}, "reason"),
        ({"amount_cents": 5, "reason": "tab\there"}, "reason"),
    ],
)
async def test_a_debit_refuses_broken_fields(
    api: Api, body: dict[str, object], field: str
) -> None:
    response = await api.client.post(
        "/v1/wallet/driver-1/debits",
        json=body,
        headers=await api.headers("wallet:write"),
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


async def test_adjustments_need_admin(api: Api) -> None:
    response = await api.client.post(
        "/v1/wallet/driver-1/adjustments",
        json={"amount_cents": 5, "reason": "x"},
        headers=await api.headers("wallet:write"),
    )

    assert response.status_code == 403


async def test_an_adjustment_may_reverse_an_entry_but_not_go_below_zero(
    api: Api,
) -> None:
    await _fund(api, "driver-1", 300)
    admin = await api.admin()
    entries = await api.client.get("/v1/wallet/driver-1/entries", headers=admin)
    bonus = entries.json()["entries"][0]["entry_id"]

    too_much = await api.client.post(
        "/v1/wallet/driver-1/adjustments",
        json={"amount_cents": -301, "reason": "undo"},
        headers=admin,
    )
    reversal = await api.client.post(
        "/v1/wallet/driver-1/adjustments",
        json={"amount_cents": -300, "reason": "undo", "reverses_entry_id": bonus},
        headers=admin,
    )

    assert too_much.status_code == 409
    assert too_much.json()["detail"] == "insufficient_funds"
    assert reversal.status_code == 201
    assert reversal.json()["entry"]["reverses_entry_id"] == bonus
    assert reversal.json()["entry"]["kind"] == "adjustment"
    assert reversal.json()["balance_cents"] == 0


async def test_entries_come_newest_first_in_pages(api: Api) -> None:
    for cents in range(1, 6):
        await _fund(api, "driver-1", cents)
    headers = await api.headers("wallet:read")

    first = (
        await api.client.get("/v1/wallet/driver-1/entries?limit=2", headers=headers)
    ).json()
    second = (
        await api.client.get(
            "/v1/wallet/driver-1/entries",
            params={"limit": 2, "cursor": first["next_cursor"]},
            headers=headers,
        )
    ).json()
    third = (
        await api.client.get(
            "/v1/wallet/driver-1/entries",
            params={"limit": 2, "cursor": second["next_cursor"]},
            headers=headers,
        )
    ).json()

    amounts = [
        e["amount_cents"] for page in (first, second, third) for e in page["entries"]
    ]
    assert amounts == [5, 4, 3, 2, 1]
    assert third["next_cursor"] is None


async def test_the_wallet_shows_the_latest_twenty_entries(api: Api) -> None:
    for cents in range(1, 23):
        await _fund(api, "driver-1", cents)

    wallet = (
        await api.client.get(
            "/v1/wallet/driver-1", headers=await api.headers("wallet:read")
        )
    ).json()

    assert len(wallet["entries"]) == 20
    assert wallet["entries"][0]["amount_cents"] == 22
    assert wallet["balance_cents"] == sum(range(1, 23))


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=201", "limit=ten", "limit=-1", "cursor=not-a-cursor"]
)
async def test_a_bad_page_request_is_a_validation_error(api: Api, query: str) -> None:
    response = await api.client.get(
        f"/v1/wallet/driver-1/entries?{query}", headers=await api.headers("wallet:read")
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] in {"limit", "cursor"}


async def test_a_user_id_of_another_shape_in_the_path_is_a_validation_error(
    api: Api,
) -> None:
    response = await api.client.get(
        "/v1/wallet/has%20space", headers=await api.headers("wallet:read")
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "user_id"


async def test_wallet_reads_need_wallet_read(api: Api) -> None:
    response = await api.client.get(
        "/v1/wallet/driver-1", headers=await api.headers("events:write")
    )

    assert response.status_code == 403
    assert response.json()["detail"] == "forbidden"


async def test_a_reward_is_pending_or_in_the_balance_never_both(api: Api) -> None:
    headers = await api.headers("events:write", "wallet:read")
    session_id = await api.started(headers)
    await api.stop(headers, session_id, 8.5)

    pending = (await api.client.get("/v1/wallet/driver-1", headers=headers)).json()
    await api.credit_pending()
    credited = (await api.client.get("/v1/wallet/driver-1", headers=headers)).json()

    assert pending["pending_cents"] + pending["balance_cents"] == 101
    assert credited["pending_cents"] + credited["balance_cents"] == 101
    assert credited["entries"][0]["kind"] == "charge_reward"
    assert credited["entries"][0]["session_id"] == session_id
    assert credited["entries"][0]["actor"] == "system"
