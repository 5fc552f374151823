"""Rewards: the grid part from a window's terms, plus the merchant co-fund.

All arithmetic is exact: energy in watt-hours, prices as decimals, shares of
time as fractions. Each receipt line is rounded half-up to a cent once, and the
grid reward is the sum of the lines, so a receipt always adds up.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from operator import itemgetter

import msgspec

from nerava.domain.energy import cents_half_up, kwh_from_wh
from nerava.domain.errors import ValidationFailed
from nerava.domain.windows import (
    Occurrence,
    Window,
    applying_occurrence,
    applying_periods,
)

__all__ = [
    "EnergyCurve",
    "MeterValue",
    "ReceiptLine",
    "Reward",
    "RewardPolicy",
    "Terms",
    "compute_reward",
    "reward_for_curve",
    "validate_meter_values",
]

_MICROSECOND = timedelta(microseconds=1)
_WH_PER_KWH = 1000
_CENTS_PER_USD = 100


class RewardPolicy(StrEnum):
    """How a session's energy is matched to windows."""

    WINDOW_AT_START = "window_at_start"
    PRORATED = "prorated"


class Terms(msgspec.Struct, frozen=True, kw_only=True):
    """What a session captured at its start; later edits never change it."""

    windows: tuple[Window, ...]
    policy: RewardPolicy
    cofund_cents: int


class MeterValue(msgspec.Struct, frozen=True):
    """A cumulative energy reading taken during a session."""

    at: datetime
    wh: int


class ReceiptLine(msgspec.Struct, frozen=True, kw_only=True):
    """One period the energy was paid under one window's terms."""

    window_id: str
    start: datetime
    end: datetime
    kwh: Decimal
    price_per_kwh: Decimal
    multiplier: Decimal
    grid_reward_cents: int


class Reward(msgspec.Struct, frozen=True, kw_only=True):
    """What a completed session earns, in integer cents, with its receipt."""

    window_applied: str | None
    grid_cents: int
    merchant_cents: int
    lines: tuple[ReceiptLine, ...] = ()

    @property
    def total_cents(self) -> int:
        """Grid reward plus co-fund."""
        return self.grid_cents + self.merchant_cents


class EnergyCurve(msgspec.Struct, frozen=True):
    """The cumulative energy of a session, in exact watt-hours, over time.

    The curve is piecewise linear through ``points``: constant power between
    two points. Points are in time order with non-decreasing energy; the first
    is the session's start and the last its stop. Two points at one instant
    are a step: energy delivered at that instant, which belongs to the period
    containing the instant (``[start, end)``), or to the last period when the
    instant is the stop.
    """

    points: tuple[tuple[datetime, Fraction], ...]

    @classmethod
    def of_session(
        cls,
        started_at: datetime,
        stopped_at: datetime,
        wh: int,
        meter_values: Sequence[MeterValue] = (),
    ) -> EnergyCurve:
        """Build the curve from 0 at the start through each reading to ``wh``.

        Instants are converted to UTC, so the curve, and the receipt lines read
        from it, are the same whatever offset the times came with.
        """
        readings = tuple(
            (value.at.astimezone(UTC), Fraction(value.wh)) for value in meter_values
        )
        return cls(
            (
                (started_at.astimezone(UTC), Fraction(0)),
                *readings,
                (stopped_at.astimezone(UTC), Fraction(wh)),
            )
        )

    @property
    def start(self) -> datetime:
        """The instant the session started."""
        return self.points[0][0]

    @property
    def stop(self) -> datetime:
        """The instant the session stopped."""
        return self.points[-1][0]

    @property
    def total(self) -> Fraction:
        """The energy of the whole session."""
        return self.points[-1][1] - self.points[0][1]

    def delivered_before(self, instant: datetime) -> Fraction:
        """Return the cumulative energy just before ``instant``; all of it at the stop.

        Raises:
            ValueError: ``instant`` is outside the session.
        """
        if not self.start <= instant <= self.stop:
            raise ValueError(f"instant {instant.isoformat()} is outside the session")
        if instant == self.stop:
            return self.points[-1][1]
        after = bisect_left(self.points, instant, key=itemgetter(0))
        at, energy = self.points[after]
        if at == instant:
            return energy
        before_at, before_energy = self.points[after - 1]
        share = Fraction(
            (instant - before_at) // _MICROSECOND, (at - before_at) // _MICROSECOND
        )
        return before_energy + (energy - before_energy) * share

    def between(self, start: datetime, end: datetime) -> Fraction:
        """Return the energy of ``[start, end)`` (up to and including a stop)."""
        return self.delivered_before(end) - self.delivered_before(start)

    def split(self, instant: datetime) -> tuple[EnergyCurve, EnergyCurve]:
        """Cut the curve at an instant strictly inside the session.

        The two parts keep the curve's shape, so the energy of any period is
        the same whichever part it is read from.
        """
        if not self.start < instant < self.stop:
            raise ValueError(f"instant {instant.isoformat()} is not inside the session")
        cut = (instant, self.delivered_before(instant))
        after = bisect_left(self.points, instant, key=itemgetter(0))
        return (
            EnergyCurve((*self.points[:after], cut)),
            EnergyCurve((cut, *self.points[after:])),
        )


class _Share(msgspec.Struct, frozen=True):
    """The part of a session one window occurrence applied to."""

    occurrence: Occurrence
    start: datetime
    end: datetime
    energy: Fraction

    def extended(self, end: datetime, energy: Fraction) -> _Share:
        return _Share(self.occurrence, self.start, end, self.energy + energy)


def compute_reward(
    terms: Terms,
    started_at: datetime,
    stopped_at: datetime,
    wh: int,
    meter_values: tuple[MeterValue, ...] = (),
) -> Reward:
    """Compute a session's reward from the terms it captured.

    Under ``prorated``, a line is written only for an occurrence whose exact
    energy share is above zero (a window that applied while the meter stood
    still earned nothing, so it is not on the receipt); a session with no
    energy has no lines. A session that stops at the instant it started has
    all its energy at that instant, paid as under ``window_at_start``.

    Args:
        terms: the windows (already limited to the session's hub), the policy
            and the co-fund captured at start.
        started_at: the start event's instant, timezone-aware.
        stopped_at: the stop event's instant, not before ``started_at``;
            receipt lines are given in UTC whatever the offsets.
        wh: the energy delivered, in watt-hours.
        meter_values: validated cumulative readings inside the session, in
            time order, non-decreasing and at most ``wh``.

    Returns:
        The reward; under ``window_at_start`` one receipt line from start to
        stop (none when no window applied at the start), under ``prorated``
        one line per window occurrence that earned, in time order.

    Raises:
        ValueError: a time has no UTC offset, the stop precedes the start, or
            ``wh`` is negative.
        ValidationFailed: a meter value breaks a rule of
            ``validate_meter_values``.
    """
    _check_session(started_at, stopped_at, wh)
    validate_meter_values(meter_values, started_at, stopped_at, wh)
    curve = EnergyCurve.of_session(started_at, stopped_at, wh, meter_values)
    return reward_for_curve(terms, curve)


def reward_for_curve(terms: Terms, curve: EnergyCurve) -> Reward:
    """Compute the reward of a session whose energy follows ``curve`` exactly.

    ``compute_reward`` is this function for whole watt-hours; this one also
    takes fractional energy, such as a part of a session cut in two.
    ``window_applied`` is the window whose lines earned the most cents in all
    (a session over several days may have several lines of one window); a tie
    goes to the smaller id.
    """
    if terms.policy is RewardPolicy.PRORATED and curve.start < curve.stop:
        lines = _prorated_lines(terms.windows, curve)
    else:
        lines = _lines_at_start(terms.windows, curve)
    return Reward(
        window_applied=_window_applied(lines),
        grid_cents=sum(line.grid_reward_cents for line in lines),
        merchant_cents=terms.cofund_cents,
        lines=lines,
    )


def validate_meter_values(
    meter_values: Sequence[MeterValue],
    started_at: datetime,
    stopped_at: datetime,
    wh: int,
) -> None:
    """Check that readings fit the session, naming the first bad one.

    Readings must carry a UTC offset, lie inside ``[started_at, stopped_at]``,
    be in time order, never go below zero or the reading before, and never
    exceed the session's energy ``wh``.

    Raises:
        ValidationFailed: on field ``meter_values[i]``, ``i`` the index of the
            first reading that breaks a rule.
    """
    previous: MeterValue | None = None
    for index, value in enumerate(meter_values):
        problem = _meter_value_problem(value, previous, started_at, stopped_at, wh)
        if problem is not None:
            raise ValidationFailed.on(f"meter_values[{index}]", problem)
        previous = value


def _check_session(started_at: datetime, stopped_at: datetime, wh: int) -> None:
    if started_at.utcoffset() is None or stopped_at.utcoffset() is None:
        raise ValueError("session times must carry a UTC offset")
    if stopped_at < started_at:
        raise ValueError("a session cannot stop before it started")
    if wh < 0:
        raise ValueError(f"energy of {wh} Wh is negative")


def _meter_value_problem(
    value: MeterValue,
    previous: MeterValue | None,
    started_at: datetime,
    stopped_at: datetime,
    wh: int,
) -> str | None:
    if value.at.utcoffset() is None:
        return "reading time must carry a UTC offset"
    if not started_at <= value.at <= stopped_at:
        return (
            f"reading at {value.at.isoformat()} is outside the session, "
            f"{started_at.isoformat()} to {stopped_at.isoformat()}"
        )
    if previous is not None and value.at < previous.at:
        return (
            f"reading at {value.at.isoformat()} is earlier than the one before it, "
            f"at {previous.at.isoformat()}"
        )
    if value.wh < 0:
        return f"reading of {kwh_from_wh(value.wh)} kWh is negative"
    if previous is not None and value.wh < previous.wh:
        return (
            f"reading of {kwh_from_wh(value.wh)} kWh is below the one before it, "
            f"{kwh_from_wh(previous.wh)} kWh"
        )
    if value.wh > wh:
        return (
            f"reading of {kwh_from_wh(value.wh)} kWh exceeds the session's "
            f"{kwh_from_wh(wh)} kWh"
        )
    return None


def _lines_at_start(
    windows: Sequence[Window], curve: EnergyCurve
) -> tuple[ReceiptLine, ...]:
    occurrence = applying_occurrence(windows, curve.start)
    if occurrence is None:
        return ()
    return (_line(occurrence.window, curve.start, curve.stop, curve.total),)


def _prorated_lines(
    windows: Sequence[Window], curve: EnergyCurve
) -> tuple[ReceiptLine, ...]:
    return tuple(
        _line(share.occurrence.window, share.start, share.end, share.energy)
        for share in _occurrence_shares(windows, curve)
        if share.energy > 0
    )


def _occurrence_shares(windows: Sequence[Window], curve: EnergyCurve) -> list[_Share]:
    """Gather each occurrence's periods, in the order the occurrences first apply."""
    shares: dict[tuple[str, datetime], _Share] = {}
    for start, end, occurrence in applying_periods(windows, curve.start, curve.stop):
        if occurrence is None:
            continue
        energy = curve.between(start, end)
        key = (occurrence.window.id, occurrence.start)
        share = shares.get(key)
        shares[key] = (
            _Share(occurrence, start, end, energy)
            if share is None
            else share.extended(end, energy)
        )
    return list(shares.values())


def _line(
    window: Window, start: datetime, end: datetime, energy_wh: Fraction
) -> ReceiptLine:
    usd = (
        energy_wh
        / _WH_PER_KWH
        * Fraction(window.price_per_kwh)
        * Fraction(window.multiplier)
    )
    return ReceiptLine(
        window_id=window.id,
        start=start,
        end=end,
        kwh=kwh_from_wh(_half_up(energy_wh)),
        price_per_kwh=window.price_per_kwh,
        multiplier=window.multiplier,
        grid_reward_cents=cents_half_up(usd * _CENTS_PER_USD),
    )


def _half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def _window_applied(lines: Iterable[ReceiptLine]) -> str | None:
    earned: dict[str, int] = {}
    for line in lines:
        earned[line.window_id] = earned.get(line.window_id, 0) + line.grid_reward_cents
    if not earned:
        return None
    return min(earned, key=lambda window_id: (-earned[window_id], window_id))
