"""The API's JSON answers, and their encoding.

Decimals (prices, multipliers, kWh, dollars) are written as JSON numbers,
digit for digit; times are UTC with a ``Z``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from nerava.entrypoints.http.bodies import schema_hook

__all__ = [
    "ActiveWindowOut",
    "EntriesOut",
    "EntryOut",
    "ErrorBody",
    "FieldErrorOut",
    "HealthOut",
    "PostedOut",
    "ReadyOut",
    "ReceiptLineOut",
    "SessionOut",
    "StartOut",
    "StopOut",
    "WalletOut",
    "WindowOut",
    "encode",
    "json_schema_components",
]

Timestamp = Annotated[
    datetime,
    Meta(description="UTC, ending in Z", extra_json_schema={"format": "date-time"}),
]
Number = Annotated[
    Decimal,
    Meta(extra_json_schema={"type": "number", "format": "decimal"}),
]
Usd = Annotated[
    Decimal,
    Meta(
        description="the same amount in US dollars (cents / 100)",
        extra_json_schema={"type": "number", "format": "decimal"},
    ),
]


class FieldErrorOut(Struct, frozen=True):
    """One broken field rule."""

    field: str
    message: str


class ErrorBody(Struct, frozen=True, omit_defaults=True):
    """Every error the API answers."""

    status_code: int
    detail: Annotated[str, Meta(description="stable snake_case error code")]
    message: str
    errors: list[FieldErrorOut] | UnsetType = UNSET
    session_id: Annotated[
        str | UnsetType,
        Meta(description="the active session, for session_already_active"),
    ] = UNSET


class WindowOut(Struct, frozen=True):
    """A window as seen at an instant (``at``, or now)."""

    id: str
    label: str
    timezone: str
    start_local: str
    end_local: str
    days: list[int]
    start_date: date | None
    end_date: date | None
    hub_ids: list[str]
    price_per_kwh: Number
    multiplier: Number
    start_utc: str | None
    end_utc: str | None
    active_now: bool
    next_start: Timestamp | None
    next_end: Timestamp | None


class ActiveWindowOut(Struct, frozen=True):
    """The window that applied when a session started."""

    id: str
    label: str
    price_per_kwh: Number
    multiplier: Number
    active_now: bool = True


class StartOut(Struct, frozen=True):
    """The answer to a charge start."""

    session_id: str
    user_id: str
    hub_id: str
    started_at: Timestamp
    active_window: ActiveWindowOut | None


class ReceiptLineOut(Struct, frozen=True, rename={"start": "from", "end": "to"}):
    """One period the energy was paid under one window's terms."""

    window_id: str
    start: Timestamp
    end: Timestamp
    kwh: Number
    price_per_kwh: Number
    multiplier: Number
    grid_reward_cents: int


class StopOut(Struct, frozen=True):
    """The answer to a charge stop; a repeat answers the same bytes."""

    session_id: str
    user_id: str
    hub_id: str
    started_at: Timestamp
    stopped_at: Timestamp
    kwh: Number
    window_applied: str | None
    grid_reward_cents: int
    merchant_reward_cents: int
    total_reward_cents: int
    grid_reward_usd: Usd
    merchant_reward_usd: Usd
    total_reward_usd: Usd
    credit_status: str
    wallet_balance_cents: int | None
    breakdown: list[ReceiptLineOut]
    message: str


class SessionOut(Struct, frozen=True, omit_defaults=True):
    """A session as read: the stop's fields appear once it is stopped."""

    state: str
    session_id: str
    user_id: str
    hub_id: str
    started_at: Timestamp
    active_window: ActiveWindowOut | None
    stopped_at: Timestamp | UnsetType = UNSET
    kwh: Number | UnsetType = UNSET
    window_applied: str | UnsetType | None = UNSET
    grid_reward_cents: int | UnsetType = UNSET
    merchant_reward_cents: int | UnsetType = UNSET
    total_reward_cents: int | UnsetType = UNSET
    grid_reward_usd: Usd | UnsetType = UNSET
    merchant_reward_usd: Usd | UnsetType = UNSET
    total_reward_usd: Usd | UnsetType = UNSET
    credit_status: str | UnsetType = UNSET
    wallet_balance_cents: int | UnsetType | None = UNSET
    breakdown: list[ReceiptLineOut] | UnsetType = UNSET
    message: str | UnsetType = UNSET
    cancelled_at: Timestamp | UnsetType = UNSET
    cancel_reason: str | UnsetType = UNSET


class EntryOut(Struct, frozen=True):
    """One ledger entry."""

    entry_id: str
    kind: str
    amount_cents: int
    session_id: str | None
    reason: str | None
    actor: str
    reverses_entry_id: str | None
    created_at: Timestamp


class WalletOut(Struct, frozen=True):
    """A wallet: balance, rewards not yet credited, the latest 20 entries."""

    user_id: str
    balance_cents: int
    pending_cents: int
    entries: list[EntryOut]


class EntriesOut(Struct, frozen=True):
    """A page of entries, newest first."""

    entries: list[EntryOut]
    next_cursor: str | None


class PostedOut(Struct, frozen=True):
    """A debit or adjustment as posted, with the balance after it."""

    entry: EntryOut
    balance_cents: int


class HealthOut(Struct, frozen=True):
    """The answer of ``/healthz``."""

    status: str


class ReadyOut(Struct, frozen=True):
    """The answer of ``/readyz``, also with 503."""

    status: str
    checks: dict[str, str]


_encoder = msgspec.json.Encoder(decimal_format="number")


def encode(value: Any) -> bytes:
    """Encode a response value; decimals become JSON numbers, exactly."""
    return _encoder.encode(value)


def json_schema_components(kinds: Sequence[Any]) -> dict[str, Any]:
    """Return the OpenAPI components of ``kinds``, refs under ``#/components``."""
    _, components = msgspec.json.schema_components(
        kinds,
        schema_hook=schema_hook,
        ref_template="#/components/schemas/{name}",
    )
    return components
