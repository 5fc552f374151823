"""Rewards: the examples of the contract, each policy, and the receipt lines."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from nerava.domain.errors import ValidationFailed
from nerava.domain.rewards import (
    EnergyCurve,
    MeterValue,
    Reward,
    RewardPolicy,
    Terms,
    compute_reward,
    validate_meter_values,
)
from nerava.domain.windows import Window, default_windows

AT_START = RewardPolicy.WINDOW_AT_START
PRORATED = RewardPolicy.PRORATED


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """Return an instant of March 2024 (the 1st is a Friday), in UTC."""
    return datetime(2024, 3, day, hour, minute, second, tzinfo=UTC)


def window(
    window_id: str,
    start: str,
    end: str,
    price: str,
    multiplier: str = "1",
    **fields: object,
) -> Window:
    return Window(
        id=window_id,
        label=window_id.replace("_", " ").title(),
        start_local=time.fromisoformat(start),
        end_local=time.fromisoformat(end),
        price_per_kwh=Decimal(price),
        multiplier=Decimal(multiplier),
        **fields,
    )


def terms(
    policy: RewardPolicy,
    windows: tuple[Window, ...] | None = None,
    cofund_cents: int = 75,
) -> Terms:
    chosen = default_windows() if windows is None else windows
    return Terms(windows=chosen, policy=policy, cofund_cents=cofund_cents)


def summary(reward: Reward) -> list[tuple[str, datetime, datetime, str, int]]:
    return [
        (line.window_id, line.start, line.end, str(line.kwh), line.grid_reward_cents)
        for line in reward.lines
    ]


# The examples of the contract


def test_fifteen_and_a_half_kwh_in_green_hour_earn_248_cents() -> None:
    reward = compute_reward(terms(AT_START), at(4, 14, 30), at(4, 16), 15_500)

    assert reward.window_applied == "green_hour"
    assert reward.grid_cents == 248
    assert reward.total_cents == 248 + 75


def test_eight_and_a_half_kwh_in_solar_surplus_earn_26_cents_and_101_in_all() -> None:
    reward = compute_reward(terms(AT_START), at(4, 11), at(4, 12), 8_500)

    assert reward.window_applied == "solar_surplus"
    assert (reward.grid_cents, reward.merchant_cents) == (26, 75)
    assert reward.total_cents == 101


# window_at_start


def test_the_window_at_start_pays_the_whole_session_in_one_line() -> None:
    reward = compute_reward(terms(AT_START), at(4, 13), at(4, 16), 9_000)

    assert summary(reward) == [
        ("solar_surplus", at(4, 13), at(4, 16), "9.000", 27),
    ]
    line = reward.lines[0]
    assert (line.price_per_kwh, line.multiplier) == (Decimal("0.03"), Decimal("1.0"))


def test_green_hour_applies_from_exactly_fourteen_utc() -> None:
    before = compute_reward(terms(AT_START), at(4, 13, 59, 59), at(4, 15), 1_000)
    on_the_hour = compute_reward(terms(AT_START), at(4, 14), at(4, 15), 1_000)

    assert before.window_applied == "solar_surplus"
    assert on_the_hour.window_applied == "green_hour"


def test_a_session_started_outside_every_window_earns_only_the_cofund() -> None:
    reward = compute_reward(terms(AT_START), at(4, 9), at(4, 15), 20_000)

    assert reward == Reward(window_applied=None, grid_cents=0, merchant_cents=75)
    assert reward.total_cents == 75


def test_meter_values_do_not_change_a_window_at_start_reward() -> None:
    readings = (MeterValue(at(4, 13, 30), 500), MeterValue(at(4, 14, 30), 9_000))

    with_readings = compute_reward(
        terms(AT_START), at(4, 13), at(4, 15), 10_000, readings
    )
    without = compute_reward(terms(AT_START), at(4, 13), at(4, 15), 10_000)

    assert with_readings == without


# Rounding


def test_a_line_at_exactly_half_a_cent_rounds_up() -> None:
    # 1.5 kWh x 0.03 USD is 4.5 cents: half-up gives 5 where half-even gives 4.
    reward = compute_reward(terms(AT_START), at(4, 11), at(4, 12), 1_500)

    assert reward.grid_cents == 5


def test_a_line_just_under_half_a_cent_rounds_down() -> None:
    half_cent = window("half_cent", "10:00", "12:00", "0.05")

    reward = compute_reward(terms(AT_START, (half_cent,)), at(4, 10), at(4, 11), 99)

    assert reward.grid_cents == 0
    assert [line.window_id for line in reward.lines] == ["half_cent"]


def test_each_prorated_line_is_rounded_once_and_the_grid_is_their_sum() -> None:
    # Each half earns exactly half a cent; rounding the sum would give 1 cent.
    first = window("first", "10:00", "11:00", "0.05")
    second = window("second", "11:00", "12:00", "0.05")

    reward = compute_reward(
        terms(PRORATED, (first, second)), at(4, 10, 30), at(4, 11, 30), 200
    )

    assert [line.grid_reward_cents for line in reward.lines] == [1, 1]
    assert reward.grid_cents == 2


# prorated


def test_prorated_splits_energy_in_proportion_to_time_across_fourteen_utc() -> None:
    reward = compute_reward(terms(PRORATED), at(4, 13, 30), at(4, 15), 9_000)

    assert summary(reward) == [
        ("solar_surplus", at(4, 13, 30), at(4, 14), "3.000", 9),
        ("green_hour", at(4, 14), at(4, 15), "6.000", 96),
    ]
    assert reward.grid_cents == 105
    assert reward.window_applied == "green_hour"
    assert reward.total_cents == 180


def test_prorated_follows_meter_values_exactly_between_readings() -> None:
    # The curve goes 0 -> 1000 Wh (13:00-13:10), 1000 -> 5000 Wh (13:10-14:40),
    # 5000 -> 10000 Wh (14:40-15:00). At 14:00 it stands at
    # 1000 + 4000 x 50/90 = 29000/9 Wh: 87/9 cents of Solar Surplus (9.67),
    # and 61000/9 Wh are left for Green Hour, 976/9 cents (108.44).
    readings = (MeterValue(at(4, 13, 10), 1_000), MeterValue(at(4, 14, 40), 5_000))

    reward = compute_reward(terms(PRORATED), at(4, 13), at(4, 15), 10_000, readings)

    assert summary(reward) == [
        ("solar_surplus", at(4, 13), at(4, 14), "3.222", 10),
        ("green_hour", at(4, 14), at(4, 15), "6.778", 108),
    ]
    assert reward.grid_cents == 118


def test_a_window_that_applied_while_the_meter_stood_still_has_no_line() -> None:
    readings = (MeterValue(at(4, 14), 0),)

    reward = compute_reward(terms(PRORATED), at(4, 12), at(4, 15), 4_000, readings)

    assert summary(reward) == [("green_hour", at(4, 14), at(4, 15), "4.000", 64)]


def test_energy_reported_at_one_instant_is_paid_by_the_window_applying_then() -> None:
    # 2000 Wh arrive at 14:00 itself, the first instant of Green Hour.
    readings = (MeterValue(at(4, 14), 1_000), MeterValue(at(4, 14), 3_000))

    reward = compute_reward(terms(PRORATED), at(4, 13), at(4, 15), 4_000, readings)

    assert summary(reward) == [
        ("solar_surplus", at(4, 13), at(4, 14), "1.000", 3),
        ("green_hour", at(4, 14), at(4, 15), "3.000", 48),
    ]


def test_energy_reported_at_the_stop_instant_is_paid_in_the_last_period() -> None:
    # Readings climb to 1000 Wh by 15:00; the other 3000 Wh arrive at the stop.
    readings = (MeterValue(at(4, 15), 1_000),)

    reward = compute_reward(terms(PRORATED), at(4, 13), at(4, 15), 4_000, readings)

    assert summary(reward) == [
        ("solar_surplus", at(4, 13), at(4, 14), "0.500", 2),
        ("green_hour", at(4, 14), at(4, 15), "3.500", 56),
    ]


def test_a_better_window_shadowing_one_midway_leaves_it_one_merged_line() -> None:
    base = window("base", "10:00", "16:00", "0.05")
    boost = window("boost", "12:00", "13:00", "0.10")

    reward = compute_reward(terms(PRORATED, (base, boost)), at(4, 11), at(4, 15), 8_000)

    assert summary(reward) == [
        ("base", at(4, 11), at(4, 15), "6.000", 30),
        ("boost", at(4, 12), at(4, 13), "2.000", 20),
    ]
    assert reward.window_applied == "base"
    assert reward.grid_cents == 50


def test_a_window_wholly_shadowed_by_a_better_one_has_no_line() -> None:
    boost = window("boost", "12:00", "13:00", "0.10")
    dim = window("dim", "12:15", "12:45", "0.02")

    reward = compute_reward(terms(PRORATED, (boost, dim)), at(4, 12), at(4, 13), 1_000)

    assert [line.window_id for line in reward.lines] == ["boost"]


def test_a_window_crossing_midnight_is_one_line_across_the_dates() -> None:
    night = window("night", "22:00", "06:00", "0.04", "1.5")

    reward = compute_reward(terms(PRORATED, (night,)), at(4, 23), at(5, 1), 4_000)

    assert summary(reward) == [("night", at(4, 23), at(5, 1), "4.000", 24)]


def test_a_window_crossing_midnight_pays_a_session_started_after_midnight() -> None:
    # The occurrence starts on Friday the 1st, the only day the window has.
    friday_night = window("friday_night", "22:00", "06:00", "0.04", "1.5", days=(5,))

    reward = compute_reward(
        terms(AT_START, (friday_night,)), at(2, 0, 30), at(2, 2), 2_000
    )

    assert reward.window_applied == "friday_night"
    assert reward.grid_cents == 12


def test_a_session_over_several_days_has_one_line_per_occurrence() -> None:
    reward = compute_reward(terms(PRORATED), at(1, 12), at(3, 12), 48_000)

    assert summary(reward) == [
        ("solar_surplus", at(1, 12), at(1, 14), "2.000", 6),
        ("green_hour", at(1, 14), at(1, 17), "3.000", 48),
        ("solar_surplus", at(2, 10), at(2, 14), "4.000", 12),
        ("green_hour", at(2, 14), at(2, 17), "3.000", 48),
        ("solar_surplus", at(3, 10), at(3, 12), "2.000", 6),
    ]
    assert reward.grid_cents == 120
    assert reward.window_applied == "green_hour"


def test_window_applied_counts_every_occurrence_of_a_window() -> None:
    # daily earns 10 cents on each of two days; once earns 15 on one day.
    daily = window("daily", "10:00", "11:00", "0.10")
    once = window(
        "once",
        "20:00",
        "21:00",
        "0.15",
        start_date=date(2024, 3, 4),
        end_date=date(2024, 3, 5),
    )

    reward = compute_reward(terms(PRORATED, (daily, once)), at(4, 9), at(5, 12), 27_000)

    assert [line.window_id for line in reward.lines] == ["daily", "once", "daily"]
    assert reward.window_applied == "daily"


def test_a_tie_on_earnings_names_the_smaller_window_id() -> None:
    beta = window("beta", "10:00", "11:00", "0.10")
    alpha = window("alpha", "11:00", "12:00", "0.05", "2")

    reward = compute_reward(terms(PRORATED, (beta, alpha)), at(4, 10), at(4, 12), 2_000)

    assert [line.grid_reward_cents for line in reward.lines] == [10, 10]
    assert reward.window_applied == "alpha"


def test_a_prorated_session_outside_every_window_earns_only_the_cofund() -> None:
    reward = compute_reward(terms(PRORATED), at(4, 18), at(4, 22), 12_000)

    assert reward == Reward(window_applied=None, grid_cents=0, merchant_cents=75)


def test_no_window_at_all_earns_only_the_cofund_under_either_policy() -> None:
    for policy in (AT_START, PRORATED):
        reward = compute_reward(terms(policy, ()), at(4, 13), at(4, 15), 5_000)

        assert reward == Reward(window_applied=None, grid_cents=0, merchant_cents=75)


def test_a_zero_length_session_is_paid_by_the_window_at_its_instant() -> None:
    reward = compute_reward(terms(PRORATED), at(4, 14), at(4, 14), 1_000)

    assert summary(reward) == [("green_hour", at(4, 14), at(4, 14), "1.000", 16)]
    assert reward.grid_cents == 16


def test_a_zero_length_session_outside_every_window_earns_no_grid_reward() -> None:
    reward = compute_reward(terms(PRORATED), at(4, 9), at(4, 9), 1_000)

    assert (reward.grid_cents, reward.lines, reward.window_applied) == (0, (), None)


def test_the_cofund_is_the_one_captured_in_the_terms() -> None:
    reward = compute_reward(terms(PRORATED, cofund_cents=0), at(4, 13), at(4, 15), 1)

    assert reward.merchant_cents == 0
    assert reward.total_cents == reward.grid_cents


def test_a_stop_before_the_start_is_refused() -> None:
    with pytest.raises(ValueError, match="before it started"):
        compute_reward(terms(PRORATED), at(4, 15), at(4, 14), 1_000)


def test_a_session_time_without_an_offset_is_refused() -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        compute_reward(terms(PRORATED), datetime(2024, 3, 4, 13), at(4, 14), 1_000)


def test_times_in_another_offset_give_the_same_receipt_in_utc() -> None:
    paris = timezone(timedelta(hours=1))
    start, stop = at(4, 13).astimezone(paris), at(4, 15).astimezone(paris)

    for policy in (AT_START, PRORATED):
        reward = compute_reward(terms(policy), start, stop, 2_000)

        assert reward.lines
        assert all(line.start.tzinfo is line.end.tzinfo is UTC for line in reward.lines)
        assert reward == compute_reward(terms(policy), at(4, 13), at(4, 15), 2_000)


# The energy curve


def test_the_curve_cut_in_two_keeps_each_part_of_the_energy() -> None:
    curve = EnergyCurve.of_session(
        at(4, 13), at(4, 15), 10_000, (MeterValue(at(4, 14, 30), 3_000),)
    )

    before, after = curve.split(at(4, 14))

    assert (before.total, after.total) == (2_000, 8_000)
    assert after.between(at(4, 14), at(4, 14, 30)) == curve.between(
        at(4, 14), at(4, 14, 30)
    )


# Meter values


def test_meter_values_inside_the_session_and_climbing_are_accepted() -> None:
    readings = [
        MeterValue(at(4, 13), 0),
        MeterValue(at(4, 14), 2_000),
        MeterValue(at(4, 14), 2_000),
        MeterValue(at(4, 15), 5_000),
    ]

    validate_meter_values(readings, at(4, 13), at(4, 15), 5_000)


@pytest.mark.parametrize(
    ("readings", "bad_index"),
    [
        pytest.param([MeterValue(at(4, 12, 59), 0)], 0, id="before the start"),
        pytest.param(
            [MeterValue(at(4, 14), 1), MeterValue(at(4, 15, 0, 1), 2)],
            1,
            id="after the stop",
        ),
        pytest.param(
            [MeterValue(at(4, 14), 1), MeterValue(at(4, 13, 30), 2)],
            1,
            id="out of time order",
        ),
        pytest.param(
            [MeterValue(at(4, 13, 30), 3), MeterValue(at(4, 14), 2)],
            1,
            id="going down",
        ),
        pytest.param([MeterValue(at(4, 14), -1)], 0, id="below zero"),
        pytest.param(
            [
                MeterValue(at(4, 13, 30), 1),
                MeterValue(at(4, 14), 5_001),
                MeterValue(at(4, 14, 30), 5_002),
            ],
            1,
            id="above the session's energy",
        ),
        pytest.param(
            [MeterValue(at(4, 13, 30), 1), MeterValue(datetime(2024, 3, 4, 14), 2)],
            1,
            id="without an offset",
        ),
    ],
)
def test_the_first_bad_meter_value_is_named(
    readings: list[MeterValue], bad_index: int
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_meter_values(readings, at(4, 13), at(4, 15), 5_000)

    assert [error.field for error in caught.value.errors] == [
        f"meter_values[{bad_index}]"
    ]
    assert caught.value.code == "validation_error"


def test_computing_a_reward_refuses_bad_meter_values() -> None:
    readings = (MeterValue(at(4, 14), 6_000),)

    with pytest.raises(ValidationFailed, match=r"meter_values\[0\]"):
        compute_reward(terms(PRORATED), at(4, 13), at(4, 15), 5_000, readings)
