"""The JSON columns of the SQL stores, written and read with msgspec.

Structured values (a session's terms, readings and reward; outbox events;
lists of days, hubs and scopes) are stored as JSON text. Decimals are
written as strings, so that prices survive exactly. A ledger page's cursor
is the position (sequence number) of the last entry it gave.
"""

from __future__ import annotations

import msgspec

from nerava.domain.access import Scope
from nerava.domain.errors import ValidationFailed
from nerava.domain.events import DomainEvent
from nerava.domain.rewards import MeterValue, Reward, Terms

__all__ = [
    "cursor_position",
    "decode_days",
    "decode_event",
    "decode_meter_values",
    "decode_reward",
    "decode_scopes",
    "decode_strings",
    "decode_terms",
    "to_json",
]

_encoder = msgspec.json.Encoder()
_terms = msgspec.json.Decoder(Terms)
_meter_values = msgspec.json.Decoder(tuple[MeterValue, ...])
_reward = msgspec.json.Decoder(Reward)
_event = msgspec.json.Decoder(DomainEvent)
_days = msgspec.json.Decoder(tuple[int, ...])
_strings = msgspec.json.Decoder(tuple[str, ...])
_scopes = msgspec.json.Decoder(tuple[Scope, ...])


def to_json(value: object) -> str:
    """Return ``value`` as JSON text."""
    return _encoder.encode(value).decode()


def decode_terms(text: str) -> Terms:
    """Read a session's captured terms."""
    return _terms.decode(text)


def decode_meter_values(text: str) -> tuple[MeterValue, ...]:
    """Read a session's meter readings."""
    return _meter_values.decode(text)


def decode_reward(text: str) -> Reward:
    """Read a session's reward."""
    return _reward.decode(text)


def decode_event(text: str) -> DomainEvent:
    """Read an outbox event by its tag."""
    return _event.decode(text)


def decode_days(text: str) -> tuple[int, ...]:
    """Read a window's ISO weekdays."""
    return _days.decode(text)


def decode_strings(text: str) -> tuple[str, ...]:
    """Read a list of ids."""
    return _strings.decode(text)


def decode_scopes(text: str) -> tuple[Scope, ...]:
    """Read an API key's scopes."""
    return _scopes.decode(text)


def cursor_position(cursor: str) -> int:
    """Return the ledger position a page cursor stands for.

    Raises:
        ValidationFailed: on field ``cursor`` when it is not a position.
    """
    if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 18:
        raise ValidationFailed.on("cursor", "is not a cursor of this wallet")
    return int(cursor)
