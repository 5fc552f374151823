"""Events survive serialisation; energy and money round as the contract says."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nerava.domain.energy import cents_half_up, kwh_from_wh, round_kwh, wh_from_kwh
from nerava.domain.events import (
    ChargeStopped,
    RewardCredited,
    decode_event,
    encode_event,
)

AT = datetime(2026, 6, 1, 12, tzinfo=UTC)


def test_an_event_decodes_to_its_own_type_with_its_id_and_version() -> None:
    event = RewardCredited(
        event_id="evt_1",
        occurred_at=AT,
        session_id="ses_1",
        user_id="u",
        entry_id="ent_1",
        amount_cents=101,
        mode="async",
    )

    decoded = decode_event(encode_event(event))

    assert decoded == event
    assert isinstance(decoded, RewardCredited)
    assert b'"type":"RewardCredited"' in encode_event(event)
    assert decoded.schema_version == 1


def test_a_stop_event_keeps_its_cents_as_integers() -> None:
    event = ChargeStopped(
        event_id="evt_2",
        occurred_at=AT,
        session_id="s",
        user_id="u",
        hub_id="h",
        stopped_at=AT,
        wh=15_500,
        window_applied="green_hour",
        grid_reward_cents=248,
        merchant_reward_cents=75,
        total_reward_cents=323,
        credit_status="pending",
    )

    assert decode_event(encode_event(event)) == event


@pytest.mark.parametrize(
    ("kwh", "rounded"),
    [
        ("1.2345", "1.235"),
        ("1.2344", "1.234"),
        ("0.0004", "0.000"),
        ("0.0005", "0.001"),
    ],
)
def test_kwh_rounds_half_up_to_watt_hours(kwh: str, rounded: str) -> None:
    assert round_kwh(Decimal(kwh)) == Decimal(rounded)


@given(st.integers(0, 10**9))
def test_watt_hours_survive_a_trip_through_kwh(wh: int) -> None:
    assert wh_from_kwh(kwh_from_wh(wh)) == wh


@pytest.mark.parametrize(
    ("amount", "cents"),
    [
        (Fraction(49, 2), 25),
        (Fraction(247, 1), 247),
        (Fraction(2479, 10), 248),
        (Fraction(1, 3), 0),
        (Fraction(0), 0),
    ],
)
def test_cents_round_half_up_once(amount: Fraction, cents: int) -> None:
    assert cents_half_up(amount) == cents
