"""Rewards: the grid part from a window's terms, plus the merchant co-fund.

All arithmetic is exact: energy in watt-hours, prices as decimals, shares of
time as fractions. Each receipt line is rounded half-up to a cent once, and the
grid reward is the sum of the lines, so a receipt always adds up.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

import msgspec

from nerava.domain.windows import Window

__all__ = [
    "MeterValue",
    "ReceiptLine",
    "Reward",
    "RewardPolicy",
    "Terms",
    "compute_reward",
]


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


def compute_reward(
    terms: Terms,
    started_at: datetime,
    stopped_at: datetime,
    wh: int,
    meter_values: tuple[MeterValue, ...] = (),
) -> Reward:
    """Compute a session's reward from the terms it captured.

    Args:
        terms: the windows (already limited to the session's hub), the policy
            and the co-fund captured at start.
        started_at: the start event's instant (UTC).
        stopped_at: the stop event's instant, not before ``started_at``.
        wh: the energy delivered, in watt-hours.
        meter_values: validated cumulative readings inside the session, in
            time order, non-decreasing and at most ``wh``.

    Returns:
        The reward; under ``window_at_start`` one receipt line from start to
        stop (none when no window applied at the start), under ``prorated``
        one line per window occurrence that earned.
    """
    raise NotImplementedError
