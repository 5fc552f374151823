"""Charging sessions: ``active``, then ``stopped`` or ``cancelled``, never back."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

import msgspec

from nerava.domain.rewards import MeterValue, Reward, RewardPolicy, Terms

__all__ = [
    "ChargingRules",
    "CreditStatus",
    "Session",
    "SessionState",
]


class SessionState(StrEnum):
    """Where a session is in its life."""

    ACTIVE = "active"
    STOPPED = "stopped"
    CANCELLED = "cancelled"


class CreditStatus(StrEnum):
    """Whether a stopped session's reward is in the wallet yet."""

    CREDITED = "credited"
    PENDING = "pending"


class ChargingRules(msgspec.Struct, frozen=True, kw_only=True):
    """The settings the charging rules depend on."""

    policy: RewardPolicy = RewardPolicy.WINDOW_AT_START
    cofund_cents: int = 75
    max_session_wh: int = 1_000_000
    max_charge_power_w: int | None = None
    max_event_age: timedelta = timedelta(hours=168)
    max_clock_skew: timedelta = timedelta(minutes=5)
    sync_credit: bool = False


class Session(msgspec.Struct, frozen=True, kw_only=True):
    """A charging session and, once stopped, what it earned.

    ``credit_status_at_stop`` and ``balance_at_stop_cents`` are what the stop
    answered, kept so that a repeated stop replays the same answer.
    """

    session_id: str
    user_id: str
    hub_id: str
    started_at: datetime
    terms: Terms
    active_window_id: str | None
    state: SessionState = SessionState.ACTIVE
    stopped_at: datetime | None = None
    wh: int | None = None
    meter_values: tuple[MeterValue, ...] = ()
    reward: Reward | None = None
    credit_status_at_stop: CreditStatus | None = None
    balance_at_stop_cents: int | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None

    @property
    def policy(self) -> RewardPolicy:
        """The reward policy captured at start."""
        return self.terms.policy
