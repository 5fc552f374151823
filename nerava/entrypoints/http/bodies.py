"""Request bodies, decoded strictly from their raw bytes.

A body is decoded in two steps: first to plain JSON values with every number
with a fraction or exponent read as a ``Decimal`` (so no binary float ever
holds a kWh or a price), then converted to the route's Struct. Fields typed
``JsonNumber`` take JSON numbers only: ``"12.5"`` is refused, not converted.
Rules msgspec cannot state (a rounded kWh in range, text free of control
characters, a user id's alphabet) are checked by each Struct's ``problems()``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import msgspec
from msgspec import Meta, Struct

from nerava.domain.energy import round_kwh
from nerava.domain.errors import FieldError, ValidationFailed

__all__ = [
    "EARLIEST_DATE",
    "LATEST_DATE",
    "USER_ID_PATTERN",
    "WINDOW_ID_PATTERN",
    "AdjustmentIn",
    "Body",
    "CancelIn",
    "ChargeStartIn",
    "ChargeStopIn",
    "DebitIn",
    "JsonNumber",
    "MeterValueIn",
    "WindowIn",
    "convert",
    "decode_json",
    "has_control_characters",
    "is_user_id",
    "is_window_id",
    "schema_hook",
    "utc",
]

B = TypeVar("B", bound="Body")

MAX_TEXT = 200
MAX_ID = 128
USER_ID_PATTERN = r"^[A-Za-z0-9._:@+\-]{1,128}$"
WINDOW_ID_PATTERN = r"^[a-z0-9_-]{1,64}$"
NO_CONTROL_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f]*$"
LOCAL_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
MAX_DECIMAL_PLACES = 10
MAX_DIGITS = 20
EARLIEST_DATE = date(1970, 1, 1)
LATEST_DATE = date(2999, 12, 31)
MAX_MAGNITUDE = 15

_USER_ID = re.compile(r"[A-Za-z0-9._:@+\-]{1,128}")
_WINDOW_ID = re.compile(r"[a-z0-9_-]{1,64}")
_LOCAL_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MSGSPEC_ERROR = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_MISSING_FIELD = re.compile(r"^Object missing required field `(?P<field>[^`]*)`$")


class JsonNumber(Decimal):
    """A JSON number read exactly; a string holding digits is refused."""


def _json_number(kind: type[Any], value: Any) -> Any:
    if kind is JsonNumber:
        if isinstance(value, Decimal | int) and not isinstance(value, bool):
            number = JsonNumber(value)
            # Arithmetic on a number this large overflows the decimal context.
            if number.adjusted() >= MAX_MAGNITUDE:
                raise ValueError(f"must be less than 1e{MAX_MAGNITUDE}")
            return number
        raise ValueError("must be a JSON number")
    raise NotImplementedError


def schema_hook(kind: type[Any]) -> dict[str, Any]:
    """Describe ``JsonNumber`` in JSON Schema: a number."""
    if kind is JsonNumber:
        return {"type": "number"}
    raise NotImplementedError


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a control character (Unicode category Cc)."""
    return _CONTROL.search(text) is not None


Text = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=MAX_TEXT,
        description="1-200 characters, no control characters",
        extra_json_schema={"pattern": NO_CONTROL_PATTERN},
    ),
]
UserId = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=MAX_ID,
        description="1-128 of A-Z a-z 0-9 . _ : @ + -",
        extra_json_schema={"pattern": USER_ID_PATTERN},
    ),
]
HubId = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=MAX_ID,
        description="1-128 characters, no control characters",
        extra_json_schema={"pattern": NO_CONTROL_PATTERN},
    ),
]
OpaqueId = Annotated[str, Meta(min_length=1, max_length=255)]
LocalTime = Annotated[
    str,
    Meta(
        description="local wall-clock time HH:MM",
        extra_json_schema={"pattern": LOCAL_TIME_PATTERN},
    ),
]
Instant = Annotated[
    datetime,
    Meta(
        description="RFC 3339 date-time; without an offset it is UTC",
        extra_json_schema={"format": "date-time"},
    ),
]


def _text_problems(field: str, value: str | None) -> Iterator[FieldError]:
    if value is not None and has_control_characters(value):
        yield FieldError(field, "must not contain control characters")


def _kwh_problems(field: str, kwh: Decimal, high: Decimal) -> Iterator[FieldError]:
    rounded = round_kwh(kwh)
    if not 0 < rounded <= high:
        yield FieldError(
            field,
            f"must be more than 0 and at most {high} kWh once rounded to "
            f"watt-hours (got {rounded})",
        )


def _exact_enough(value: Decimal) -> bool:
    # Rewards are computed in exact fractions of these terms: a term of a
    # billion decimal places would take the process with it.
    _, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        return False
    significant = len(digits)
    while significant > 1 and digits[significant - 1] == 0:
        significant -= 1
        exponent += 1
    return exponent >= -MAX_DECIMAL_PLACES and significant <= MAX_DIGITS


def _instant_problems(field: str, at: datetime | None) -> Iterator[FieldError]:
    if at is not None and not EARLIEST_DATE <= at.date() <= LATEST_DATE:
        yield FieldError(field, "must be a date-time between 1970 and 2999")


def utc(at: datetime) -> datetime:
    """Return ``at`` in UTC; a naive value is taken as UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


class Body(Struct, frozen=True):
    """A request body; ``problems()`` yields the rules msgspec cannot state."""

    def problems(self, max_kwh: Decimal) -> Iterator[FieldError]:
        """Yield every broken field rule msgspec does not check."""
        return iter(())


class ChargeStartIn(Body, frozen=True):
    """The body of ``POST /v1/energyhub/events/charge-start``."""

    user_id: UserId
    hub_id: HubId
    occurred_at: Instant | None = None

    def problems(self, max_kwh: Decimal) -> Iterator[FieldError]:
        """Yield every broken field rule msgspec does not check."""
        if not _USER_ID.fullmatch(self.user_id):
            yield FieldError("user_id", "must be 1-128 of A-Z a-z 0-9 . _ : @ + -")
        yield from _text_problems("hub_id", self.hub_id)
        yield from _instant_problems("occurred_at", self.occurred_at)


class MeterValueIn(Body, frozen=True):
    """A cumulative energy reading taken during the session."""

    at: Instant
    kwh: Annotated[
        JsonNumber,
        Meta(
            description="cumulative kWh at ``at``, rounded to watt-hours",
            extra_json_schema={"minimum": 0},
        ),
    ]


class ChargeStopIn(Body, frozen=True):
    """The body of ``POST /v1/energyhub/events/charge-stop``."""

    session_id: OpaqueId
    kwh_consumed: Annotated[
        JsonNumber,
        Meta(
            description=(
                "kWh delivered; rounded half-up to 3 decimals, then "
                "0 < kwh <= MAX_SESSION_KWH"
            ),
            extra_json_schema={"exclusiveMinimum": 0},
        ),
    ]
    occurred_at: Instant | None = None
    meter_values: Annotated[list[MeterValueIn], Meta(max_length=10_000)] = []

    def problems(self, max_kwh: Decimal) -> Iterator[FieldError]:
        """Yield every broken field rule msgspec does not check."""
        yield from _text_problems("session_id", self.session_id)
        yield from _kwh_problems("kwh_consumed", self.kwh_consumed, max_kwh)
        yield from _instant_problems("occurred_at", self.occurred_at)
        for index, reading in enumerate(self.meter_values):
            field = f"meter_values[{index}]"
            yield from _instant_problems(f"{field}.at", reading.at)
            if reading.kwh < 0:
                yield FieldError(f"{field}.kwh", "must be a kWh reading of 0 or more")


class CancelIn(Body, frozen=True):
    """The body of ``POST /v1/energyhub/sessions/{session_id}/cancel``."""

    reason: Text

    def problems(self, max_kwh: Decimal) -> Iterator[FieldError]:
        """Yield every broken field rule msgspec does not check."""
        yield from _text_problems("reason", self.reason)


class DebitIn(Body, frozen=True):
    """The body of ``POST /v1/wallet/{user_id}/debits``."""

    amount_cents: Annotated[int, Meta(ge=1, le=100_000_000)]
    reason: Text

    def problems(self, max_kwh: Decimal) -> Iterator[FieldError]:
        """Yield every broken field rule msgspec does not check."""
        yield from _text_problems("reason", self.reason)


class AdjustmentIn(Body, frozen=True):
    """The body of ``POST /v1/wallet/{user_id}/adjustments``."""

    amount_cents: Annotated[
        int,
        Meta(
            ge=-100_000_000,
            le=100_000_000,
            description="cents to add (negative to take), never 0",
            extra_json_schema={"not": {"const": 0}},
        ),
    ]
    reason: Text
    reverses_entry_id: OpaqueId | None = None

    def problems(self, max_kwh: Decimal) -> Iterator[FieldError]:
        """Yield every broken field rule msgspec does not check."""
        if self.amount_cents == 0:
            yield FieldError("amount_cents", "must not be 0")
        yield from _text_problems("reason", self.reason)
        yield from _text_problems("reverses_entry_id", self.reverses_entry_id)


class WindowIn(Body, frozen=True):
    """The body of ``PUT /v1/energyhub/windows/{window_id}``; read-only fields
    are ignored.
    """

    label: Annotated[str, Meta(min_length=1, max_length=128)]
    start_local: LocalTime
    end_local: LocalTime
    price_per_kwh: Annotated[
        JsonNumber,
        Meta(
            description="USD per kWh, exact, 0-10, at most 10 decimal places",
            extra_json_schema={"minimum": 0, "maximum": 10},
        ),
    ]
    multiplier: Annotated[
        JsonNumber,
        Meta(
            description="reward multiplier, exact, 0-100, at most 10 decimal places",
            extra_json_schema={"minimum": 0, "maximum": 100},
        ),
    ]
    timezone: Annotated[
        str, Meta(min_length=1, max_length=64, description="IANA time zone")
    ] = "UTC"
    days: Annotated[
        list[Annotated[int, Meta(ge=1, le=7)]],
        Meta(
            min_length=1, max_length=7, description="ISO weekdays the window starts on"
        ),
    ] = msgspec.field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7])
    start_date: date | None = None
    end_date: date | None = None
    hub_ids: Annotated[list[HubId], Meta(max_length=1000)] = []
    id: str | None = None

    def problems(self, max_kwh: Decimal) -> Iterator[FieldError]:
        """Yield every broken field rule msgspec does not check."""
        yield from _text_problems("label", self.label)
        for name in ("start_local", "end_local"):
            if not _LOCAL_TIME.fullmatch(getattr(self, name)):
                yield FieldError(name, "must be a local time HH:MM")
        for name in ("price_per_kwh", "multiplier"):
            value: Decimal = getattr(self, name)
            if not _exact_enough(value):
                yield FieldError(
                    name,
                    f"must be a number with at most {MAX_DECIMAL_PLACES} decimal "
                    f"places and {MAX_DIGITS} digits",
                )
        for name in ("start_date", "end_date"):
            day: date | None = getattr(self, name)
            if day is not None and not EARLIEST_DATE <= day <= LATEST_DATE:
                yield FieldError(name, "must be a date between 1970 and 2999")
        for hub_id in self.hub_ids:
            if has_control_characters(hub_id):
                yield FieldError("hub_ids", "must not contain control characters")
                break


def is_user_id(text: str) -> bool:
    """Whether ``text`` is a well-formed user id."""
    return _USER_ID.fullmatch(text) is not None


def is_window_id(text: str) -> bool:
    """Whether ``text`` is a well-formed window id."""
    return _WINDOW_ID.fullmatch(text) is not None


_decoder = msgspec.json.Decoder(float_hook=Decimal)


def decode_json(body: bytes) -> dict[str, Any] | None:
    """Decode a body to plain JSON values with exact numbers.

    Returns:
        The object, or None when the body is not JSON or not a JSON object.
    """
    try:
        value = _decoder.decode(body)
    except msgspec.DecodeError as exc:
        if "Integer value out of range" not in str(exc):
            return None
        value = _decode_huge_integers(body)
    except RecursionError:
        return None
    return value if isinstance(value, dict) else None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _decode_huge_integers(body: bytes) -> Any:
    """Decode JSON whose integers overflow msgspec, so the field rules judge them.

    Such a body is well-formed; its numbers become exact decimals here, and
    the range checks then refuse them with the field's name.
    """
    try:
        return json.loads(
            body,
            parse_int=Decimal,
            parse_float=Decimal,
            parse_constant=_refuse_constant,
        )
    except (ValueError, RecursionError):
        return None


def convert(value: dict[str, Any], kind: type[B], *, max_kwh: Decimal) -> B:
    """Convert decoded JSON to ``kind`` strictly and check its other rules.

    Raises:
        ValidationFailed: naming each broken field (msgspec reports the first).
    """
    try:
        result = msgspec.convert(value, kind, strict=True, dec_hook=_json_number)
    except msgspec.ValidationError as exc:
        raise ValidationFailed(_field_error(str(exc))) from None
    problems = list(result.problems(max_kwh))
    if problems:
        raise ValidationFailed(problems)
    return result


def _field_error(text: str) -> FieldError:
    match = _MSGSPEC_ERROR.match(text)
    message, path = (text, "") if match is None else match.group("message", "path")
    path = (path or "").lstrip(".")
    missing = _MISSING_FIELD.match(message)
    if missing is not None:
        field = missing.group("field")
        path = f"{path}.{field}" if path else field
        message = "is required"
    return FieldError(path or "body", message)
