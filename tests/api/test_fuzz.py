"""No input, however odd, makes the API answer 500.

Hypothesis draws bodies (JSON of any shape, the routes' fields with values of
every type, raw number literals), query strings, path ids and headers; every
answer must be a JSON error or a success, never a server error.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import Api, MakeApi

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

ROUTES = [
    ("POST", "/v1/energyhub/events/charge-start"),
    ("POST", "/v1/energyhub/events/charge-stop"),
    ("POST", "/v1/energyhub/sessions/{sid}/cancel"),
    ("PUT", "/v1/energyhub/windows/fuzz"),
    ("POST", "/v1/wallet/driver-1/debits"),
    ("POST", "/v1/wallet/driver-1/adjustments"),
]
FIELDS = [
    "user_id",
    "hub_id",
    "occurred_at",
    "session_id",
    "kwh_consumed",
    "meter_values",
    "reason",
    "amount_cents",
    "reverses_entry_id",
    "id",
    "label",
    "start_local",
    "end_local",
    "price_per_kwh",
    "multiplier",
    "timezone",
    "days",
    "start_date",
    "end_date",
    "hub_ids",
    "at",
    "kwh",
]

number_literals = st.from_regex(
    r"-?(0|[1-9][0-9]{0,30})(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,10})?", fullmatch=True
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(
        [
            "2026-06-01T12:00:00Z",
            "2026-06-01",
            "14:00",
            "23:59",
            "Europe/Berlin",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-14:00",
            "driver-1",
            "\u0000",
            "\ud7ff\ue000",
        ]
    )
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
field_bodies = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8)


def _with_number(body: dict[str, Any], field: str, literal: str) -> bytes:
    text = json.dumps({**body, field: "__NUMBER__"})
    return text.replace('"__NUMBER__"', literal).encode()


async def _session(api: Api, headers: dict[str, str]) -> str:
    response = await api.client.post(
        "/v1/energyhub/events/charge-start",
        json={"user_id": "fuzz-driver", "hub_id": "hub-1"},
        headers=headers,
    )
    return str(response.json()["session_id"])


def _assert_answered(response: Any) -> None:
    assert response.status_code < 500 or response.status_code == 503, (
        response.status_code,
        response.text,
    )
    if response.status_code >= 400:
        body = response.json()
        assert body["status_code"] == response.status_code
        assert isinstance(body["detail"], str)


@pytest.fixture
async def fuzz(make_api: MakeApi) -> tuple[Api, dict[str, str]]:
    """One app per test, shared by its examples, and an admin key's header."""
    api = await make_api(allow_demo_at=True, max_charge_power_kw=50)
    return api, await api.admin()


@FUZZ
@given(route=st.sampled_from(ROUTES), body=field_bodies)
async def test_bodies_of_any_field_values_are_answered(
    fuzz: tuple[Api, dict[str, str]], route: tuple[str, str], body: dict[str, Any]
) -> None:
    api, headers = fuzz
    method, path = route
    path = path.format(sid=await _session(api, headers))

    response = await api.client.request(method, path, json=body, headers=headers)

    _assert_answered(response)


@FUZZ
@given(
    route=st.sampled_from(ROUTES),
    body=field_bodies,
    field=st.sampled_from(
        ["kwh_consumed", "amount_cents", "price_per_kwh", "multiplier", "days", "kwh"]
    ),
    literal=number_literals,
)
async def test_number_literals_of_any_size_are_answered(
    fuzz: tuple[Api, dict[str, str]],
    route: tuple[str, str],
    body: dict[str, Any],
    field: str,
    literal: str,
) -> None:
    api, headers = fuzz
    method, path = route
    session_id = await _session(api, headers)
    path = path.format(sid=session_id)
    base = {
        "session_id": session_id,
        "user_id": "u1",
        "hub_id": "h1",
        "reason": "fuzz",
        "label": "Fuzz",
        "start_local": "01:00",
        "end_local": "02:00",
        "price_per_kwh": 0.1,
        "multiplier": 1,
        "kwh_consumed": 1,
        "amount_cents": 1,
        **body,
    }

    response = await api.client.request(
        method, path, content=_with_number(base, field, literal), headers=headers
    )

    _assert_answered(response)


@FUZZ
@given(
    route=st.sampled_from(ROUTES),
    raw=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()),
)
async def test_raw_bodies_are_answered(
    fuzz: tuple[Api, dict[str, str]], route: tuple[str, str], raw: bytes
) -> None:
    api, headers = fuzz
    method, path = route

    response = await api.client.request(
        method, path.format(sid="ses_x"), content=raw, headers=headers
    )

    _assert_answered(response)


@FUZZ
@given(
    path=st.sampled_from(
        [
            "/v1/energyhub/windows",
            "/v1/energyhub/windows/green_hour",
            "/v1/wallet/driver-1/entries",
            "/v1/energyhub/sessions/ses_x",
        ]
    ),
    params=st.dictionaries(
        st.sampled_from(["at", "hub_id", "limit", "cursor", "x"]),
        st.text(max_size=40)
        | number_literals
        | st.sampled_from(
            [
                "2026-06-01T14:00:00+02:00",
                "2026-06-01T14:00:00 02:00",
                "9999-12-31T23:59:59Z",
                "0001-01-01T00:00:00Z",
            ]
        ),
        max_size=4,
    ),
)
async def test_query_strings_are_answered(
    fuzz: tuple[Api, dict[str, str]], path: str, params: dict[str, str]
) -> None:
    api, headers = fuzz

    response = await api.client.get(path, params=params, headers=headers)

    _assert_answered(response)


@FUZZ
@given(
    template=st.sampled_from(
        [
            "/v1/energyhub/windows/{}",
            "/v1/energyhub/sessions/{}",
            "/v1/energyhub/sessions/{}/cancel",
            "/v1/wallet/{}",
            "/v1/wallet/{}/entries",
            "/v1/wallet/{}/debits",
            "/{}",
        ]
    ),
    segment=st.text(min_size=1, max_size=300),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
)
async def test_path_ids_are_answered(
    fuzz: tuple[Api, dict[str, str]], template: str, segment: str, method: str
) -> None:
    api, headers = fuzz
    path = template.format(quote(segment, safe=""))

    response = await api.client.request(
        method, path, json={"reason": "x", "amount_cents": 1}, headers=headers
    )

    _assert_answered(response)


latin1 = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=300,
)


@FUZZ
@given(idempotency_key=latin1, authorization=latin1, request_id=latin1)
async def test_headers_are_answered(
    fuzz: tuple[Api, dict[str, str]],
    idempotency_key: str,
    authorization: str,
    request_id: str,
) -> None:
    api, headers = fuzz
    session_id = await _session(api, headers)

    for extra in (
        {**headers, "Idempotency-Key": idempotency_key, "X-Request-ID": request_id},
        {"Authorization": authorization},
    ):
        response = await api.client.post(
            "/v1/energyhub/events/charge-stop",
            json={"session_id": session_id, "kwh_consumed": 1},
            headers={k: v.strip().encode("latin-1") for k, v in extra.items()},
        )
        _assert_answered(response)
