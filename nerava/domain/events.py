"""Domain events: facts in the past tense, appended to the outbox with each change.

Every event has a stable ``event_id`` so that consumers can drop repeats, and
a ``schema_version`` so that they can evolve. All events form one tagged
union, ``DomainEvent``, that one typed decoder reads.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

__all__ = [
    "ChargeCancelled",
    "ChargeStarted",
    "ChargeStopped",
    "DomainEvent",
    "RewardCredited",
    "WalletAdjusted",
    "WalletDebited",
    "WindowDeleted",
    "WindowPut",
    "decode_event",
    "encode_event",
]


class Event(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Fields every event carries."""

    event_id: str
    occurred_at: datetime
    schema_version: int = 1


class ChargeStarted(Event, frozen=True, kw_only=True):
    """A session started at a hub."""

    session_id: str
    user_id: str
    hub_id: str
    started_at: datetime
    window_id: str | None


class ChargeStopped(Event, frozen=True, kw_only=True):
    """A session stopped and its reward was fixed."""

    session_id: str
    user_id: str
    hub_id: str
    stopped_at: datetime
    wh: int
    window_applied: str | None
    grid_reward_cents: int
    merchant_reward_cents: int
    total_reward_cents: int
    credit_status: str


class ChargeCancelled(Event, frozen=True, kw_only=True):
    """A session was cancelled without reward."""

    session_id: str
    user_id: str
    hub_id: str
    reason: str


class RewardCredited(Event, frozen=True, kw_only=True):
    """A session's reward reached the wallet."""

    session_id: str
    user_id: str
    entry_id: str
    amount_cents: int
    mode: str


class WalletDebited(Event, frozen=True, kw_only=True):
    """Money was redeemed from a wallet."""

    user_id: str
    entry_id: str
    amount_cents: int


class WalletAdjusted(Event, frozen=True, kw_only=True):
    """An operator corrected a wallet."""

    user_id: str
    entry_id: str
    amount_cents: int


class WindowPut(Event, frozen=True, kw_only=True):
    """A window was created or replaced."""

    window_id: str
    created: bool


class WindowDeleted(Event, frozen=True, kw_only=True):
    """A window was deleted."""

    window_id: str


DomainEvent = (
    ChargeStarted
    | ChargeStopped
    | ChargeCancelled
    | RewardCredited
    | WalletDebited
    | WalletAdjusted
    | WindowPut
    | WindowDeleted
)

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(DomainEvent)


def encode_event(event: DomainEvent) -> bytes:
    """Serialise an event to JSON with its tag."""
    return _encoder.encode(event)


def decode_event(payload: bytes) -> DomainEvent:
    """Read an event back from its JSON."""
    return _decoder.decode(payload)
