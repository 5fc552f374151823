"""What the use cases take and give: commands, the acting party, results."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec

from nerava.domain.access import StoredResponse
from nerava.domain.sessions import CreditStatus, Session
from nerava.domain.wallet import SYSTEM_ACTOR, Entry

__all__ = [
    "Actor",
    "IdempotentWrite",
    "MeterReading",
    "Posted",
    "SessionView",
    "StartCharge",
    "StopCharge",
    "StopOutcome",
]


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """Who acts: an API key id (or ``system``), and the hubs it may act for."""

    actor_id: str = SYSTEM_ACTOR
    hub_ids: tuple[str, ...] = ()
    admin: bool = False

    def may_act_for(self, hub_id: str) -> bool:
        """Whether this actor may act on sessions of ``hub_id``."""
        return self.admin or not self.hub_ids or hub_id in self.hub_ids


class StartCharge(msgspec.Struct, frozen=True, kw_only=True):
    """A hub saw a driver plug in.

    ``now`` stands in for the current instant (the demo ``at`` override).
    """

    user_id: str
    hub_id: str
    occurred_at: datetime | None = None
    now: datetime | None = None


class MeterReading(msgspec.Struct, frozen=True):
    """A cumulative energy reading as a hub reports it, in kWh."""

    at: datetime
    kwh: Decimal


class StopCharge(msgspec.Struct, frozen=True, kw_only=True):
    """A hub saw a driver plug out after ``kwh`` of energy."""

    session_id: str
    kwh: Decimal
    occurred_at: datetime | None = None
    meter_values: tuple[MeterReading, ...] = ()
    now: datetime | None = None


class IdempotentWrite(msgspec.Struct, frozen=True):
    """Store a rendered response with the effect, under an idempotency key."""

    scope: str
    key: str
    render: Callable[[Any], StoredResponse]


class SessionView(msgspec.Struct, frozen=True):
    """A session with the live state of its credit."""

    session: Session
    credit_status: CreditStatus | None


class Posted(msgspec.Struct, frozen=True):
    """A ledger entry just appended and the balance after it."""

    entry: Entry
    balance_cents: int


class StopOutcome(msgspec.Struct, frozen=True):
    """A stopped session, and whether this call stopped it (not a repeat)."""

    session: Session
    first: bool
