"""The laws of DESIGN.md that rewards keep: invariants 2, 3 and 4, and receipts."""

from __future__ import annotations

import os
import time as process_clock
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from nerava.domain.rewards import (
    EnergyCurve,
    MeterValue,
    Reward,
    RewardPolicy,
    Terms,
    compute_reward,
    reward_for_curve,
)
from nerava.domain.windows import Window
from tests.strategies import (
    ChargedSession,
    catalogs,
    charged_sessions,
    reward_terms,
)

# Computation only: a slow first draw (time zone files loading) is no failure.
properties = settings(deadline=None)

ONE_SECOND = timedelta(seconds=1)
MICROSECOND = timedelta(microseconds=1)

# Two windows at no price that together cover every instant, so that every
# watt-hour of a session is on some receipt line.
ROUND_THE_CLOCK = (
    Window(
        id="round-the-clock-am",
        label="Mornings",
        start_local=time(0, 0),
        end_local=time(12, 0),
        price_per_kwh=Decimal(0),
        multiplier=Decimal(1),
    ),
    Window(
        id="round-the-clock-pm",
        label="Afternoons and nights",
        start_local=time(12, 0),
        end_local=time(0, 0),
        price_per_kwh=Decimal(0),
        multiplier=Decimal(1),
    ),
)


def reward_of(terms: Terms, session: ChargedSession) -> Reward:
    return compute_reward(terms, *session)


def earned_by_window(reward: Reward) -> dict[str, int]:
    earned: dict[str, int] = {}
    for line in reward.lines:
        earned[line.window_id] = earned.get(line.window_id, 0) + line.grid_reward_cents
    return earned


@contextmanager
def process_time_zone(name: str) -> Iterator[None]:
    before = os.environ.get("TZ")
    os.environ["TZ"] = name
    process_clock.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        process_clock.tzset()


# Invariant 3


@properties
@given(reward_terms(), charged_sessions())
def test_total_is_grid_plus_cofund_and_neither_is_negative(
    terms: Terms, session: ChargedSession
) -> None:
    reward = reward_of(terms, session)

    assert reward.grid_cents >= 0
    assert reward.merchant_cents == terms.cofund_cents >= 0
    assert reward.total_cents == reward.grid_cents + reward.merchant_cents


@properties
@given(reward_terms(), charged_sessions(), st.integers(0, 100_000))
def test_more_energy_in_the_same_session_never_earns_less(
    terms: Terms, session: ChargedSession, extra_wh: int
) -> None:
    more = session._replace(wh=session.wh + extra_wh)

    assert reward_of(terms, more).grid_cents >= reward_of(terms, session).grid_cents


# Invariant 4


@properties
@given(
    reward_terms(RewardPolicy.PRORATED),
    charged_sessions(min_length=ONE_SECOND, with_meter_values=False),
    st.floats(0, 1, exclude_min=True, exclude_max=True),
)
def test_a_session_cut_in_two_earns_its_reward_within_a_cent_per_line(
    terms: Terms, session: ChargedSession, where: float
) -> None:
    started_at, stopped_at, wh, _ = session
    span = (stopped_at - started_at) // MICROSECOND
    elapsed = min(max(1, round(span * where)), span - 1)
    cut = started_at + elapsed * MICROSECOND
    whole = reward_of(terms, session)

    before, after = EnergyCurve.of_session(started_at, stopped_at, wh).split(cut)
    halves = reward_for_curve(terms, before), reward_for_curve(terms, after)

    assert before.total == Fraction(wh) * Fraction(elapsed, span)
    assert before.total + after.total == wh
    difference = whole.grid_cents - sum(half.grid_cents for half in halves)
    assert abs(difference) <= len(whole.lines)


@properties
@given(
    reward_terms(RewardPolicy.PRORATED),
    charged_sessions(min_length=ONE_SECOND),
    st.floats(0, 1, exclude_min=True, exclude_max=True),
)
def test_a_session_with_readings_cut_in_two_earns_within_a_cent_per_line(
    terms: Terms, session: ChargedSession, where: float
) -> None:
    span = (session.stopped_at - session.started_at) // MICROSECOND
    cut = session.started_at + min(max(1, round(span * where)), span - 1) * MICROSECOND
    whole = reward_of(terms, session)

    curve = EnergyCurve.of_session(*session)
    halves = [reward_for_curve(terms, part) for part in curve.split(cut)]

    difference = whole.grid_cents - sum(half.grid_cents for half in halves)
    assert abs(difference) <= len(whole.lines)


@properties
@given(charged_sessions(min_length=ONE_SECOND), st.data())
def test_a_curve_cut_in_two_keeps_the_energy_of_every_period(
    session: ChargedSession, data: st.DataObject
) -> None:
    span = (session.stopped_at - session.started_at) // MICROSECOND
    cut = data.draw(st.integers(1, span - 1))
    early = sorted(data.draw(st.lists(st.integers(0, cut), min_size=2, max_size=2)))
    late = sorted(data.draw(st.lists(st.integers(cut, span), min_size=2, max_size=2)))
    curve = EnergyCurve.of_session(*session)

    def instant(offset: int) -> datetime:
        return session.started_at + offset * MICROSECOND

    before, after = curve.split(instant(cut))

    assert before.total + after.total == session.wh
    for part, (first, last) in ((before, early), (after, late)):
        period = instant(first), instant(last)
        assert part.between(*period) == curve.between(*period)


# Invariant 2


@properties
@given(reward_terms(), charged_sessions(), catalogs())
def test_a_reward_depends_only_on_its_terms_times_energy_and_readings(
    terms: Terms, session: ChargedSession, other_catalog: list[Window]
) -> None:
    first = reward_of(terms, session)

    other = Terms(windows=tuple(other_catalog), policy=terms.policy, cofund_cents=0)
    reward_of(other, session)
    again = reward_of(terms, session)
    with process_time_zone("Pacific/Chatham"):
        elsewhere = reward_of(terms, session)

    encoded = msgspec.json.encode(first)
    assert msgspec.json.encode(again) == encoded
    assert msgspec.json.encode(elsewhere) == encoded


@properties
@given(reward_terms(), charged_sessions(), st.integers(-14 * 60, 14 * 60))
def test_a_reward_is_the_same_whatever_offset_its_times_are_given_in(
    terms: Terms, session: ChargedSession, offset_minutes: int
) -> None:
    zone = timezone(timedelta(minutes=offset_minutes))

    def shifted(instant: datetime) -> datetime:
        return instant.astimezone(zone)

    same_instants = ChargedSession(
        shifted(session.started_at),
        shifted(session.stopped_at),
        session.wh,
        tuple(
            MeterValue(shifted(value.at), value.wh) for value in session.meter_values
        ),
    )

    assert msgspec.json.encode(reward_of(terms, same_instants)) == msgspec.json.encode(
        reward_of(terms, session)
    )


# Receipts


@properties
@given(reward_terms(), charged_sessions())
def test_receipt_lines_add_up_to_the_grid_reward_in_time_order(
    terms: Terms, session: ChargedSession
) -> None:
    reward = reward_of(terms, session)

    assert sum(line.grid_reward_cents for line in reward.lines) == reward.grid_cents
    starts = [line.start for line in reward.lines]
    assert starts == sorted(starts)
    for line in reward.lines:
        assert session.started_at <= line.start <= line.end <= session.stopped_at
        assert line.start.tzinfo is line.end.tzinfo is UTC


@properties
@given(reward_terms(), charged_sessions())
def test_window_applied_is_the_window_that_earned_most_or_none_without_lines(
    terms: Terms, session: ChargedSession
) -> None:
    reward = reward_of(terms, session)

    earned = earned_by_window(reward)
    if not earned:
        assert reward.window_applied is None
        return
    assert reward.window_applied is not None
    best = earned[reward.window_applied]
    for window_id, cents in earned.items():
        assert cents < best or (cents == best and reward.window_applied <= window_id)


@properties
@given(reward_terms(), charged_sessions())
def test_line_kwh_add_up_to_the_energy_when_windows_cover_the_session(
    terms: Terms, session: ChargedSession
) -> None:
    covered = Terms(
        windows=(*terms.windows, *ROUND_THE_CLOCK),
        policy=terms.policy,
        cofund_cents=terms.cofund_cents,
    )

    reward = reward_of(covered, session)

    shown = sum((line.kwh for line in reward.lines), Decimal(0))
    energy = Decimal(session.wh) / 1000
    assert reward.lines or session.wh == 0
    assert abs(shown - energy) <= Decimal("0.0005") * len(reward.lines)


@properties
@given(reward_terms(), charged_sessions())
def test_line_kwh_never_add_up_to_more_than_the_energy(
    terms: Terms, session: ChargedSession
) -> None:
    reward = reward_of(terms, session)

    shown = sum((line.kwh for line in reward.lines), Decimal(0))
    assert shown <= Decimal(session.wh) / 1000 + Decimal("0.0005") * len(reward.lines)


@properties
@given(reward_terms(), charged_sessions(max_length=timedelta(0)))
def test_a_zero_length_session_is_paid_alike_under_both_policies(
    terms: Terms, session: ChargedSession
) -> None:
    def under(policy: RewardPolicy) -> Reward:
        chosen = Terms(
            windows=terms.windows, policy=policy, cofund_cents=terms.cofund_cents
        )
        return reward_of(chosen, session)

    assert under(RewardPolicy.PRORATED) == under(RewardPolicy.WINDOW_AT_START)
