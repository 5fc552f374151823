"""Reading a request: its body, its ``at``, its path ids and its headers.

The order of the checks is the API's: body size (413), JSON (400), ``at``
(403, then 400), then the fields (422); each route calls these in that order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from litestar import Request
from litestar.exceptions import InternalServerException

from nerava.domain.errors import ValidationFailed
from nerava.entrypoints.http.bodies import (
    EARLIEST_DATE,
    LATEST_DATE,
    Body,
    convert,
    decode_json,
    has_control_characters,
    is_user_id,
    is_window_id,
)
from nerava.entrypoints.http.errors import HttpError

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_IDEMPOTENCY_KEY_LENGTH",
    "demo_instant",
    "hub_filter",
    "idempotency_key",
    "page_limit",
    "parse_at",
    "read_body",
    "read_json",
    "user_id",
    "window_id",
]

MAX_BODY_BYTES = 64 * 1024
MAX_IDEMPOTENCY_KEY_LENGTH = 255
DEFAULT_PAGE = 50
MAX_PAGE = 200

B = TypeVar("B", bound=Body)

AnyRequest = Request[Any, Any, Any]


async def read_json(request: AnyRequest) -> dict[str, Any]:
    """Return the body as plain JSON values with exact numbers.

    Raises:
        HttpError: 413 ``payload_too_large`` over 64 KiB (declared or sent);
            400 ``malformed_json`` when not a JSON object.
    """
    # The app's request_max_body_size refuses a larger declared or streamed
    # body with a 413 while it is read.
    try:
        body = await request.body()
    except InternalServerException as exc:
        # Litestar says so only in the text of the error it raises.
        if "disconnected" not in str(exc.detail):
            raise
        raise HttpError(
            "client_closed_request", "the client left before sending its body"
        ) from exc
    value = decode_json(body)
    if value is None:
        raise HttpError("malformed_json", "the body must be a JSON object")
    return value


async def read_body(request: AnyRequest, kind: type[B], max_kwh: Decimal) -> B:
    """Read and convert a body in one step, for routes with no ``at``."""
    return convert(await read_json(request), kind, max_kwh=max_kwh)


def parse_at(raw: str) -> datetime:
    """Read an ``at`` value: a full ISO 8601 date-time, naive meaning UTC.

    Raises:
        HttpError: 400 ``invalid_at_param``.
    """
    text = raw.strip()
    # A query string turns the "+" of an offset into a space.
    if len(text) > 19 and text[-6] == " ":
        text = f"{text[:-6]}+{text[-5:]}"
    if len(text) < 11 or text[10] not in "Tt":
        raise HttpError(
            "invalid_at_param",
            "at must be an ISO 8601 date-time such as 2024-06-01T14:00:00Z",
        )
    try:
        parsed = datetime.fromisoformat(text)
        instant = (
            parsed.replace(tzinfo=UTC)
            if parsed.tzinfo is None
            else parsed.astimezone(UTC)
        )
    except (ValueError, OverflowError):
        raise HttpError(
            "invalid_at_param",
            "at must be an ISO 8601 date-time such as 2024-06-01T14:00:00Z",
        ) from None
    if not EARLIEST_DATE <= instant.date() <= LATEST_DATE:
        raise HttpError("invalid_at_param", "at must fall between 1970 and 2999")
    return instant


def demo_instant(request: AnyRequest, allowed: bool) -> datetime | None:
    """Return the ``at`` override, if the request gives one.

    Raises:
        HttpError: 403 ``demo_at_disabled`` when ``ENERGYHUB_ALLOW_DEMO_AT``
            is off; 400 ``invalid_at_param`` when it is not a date-time.
    """
    if not request.scope["query_string"]:
        return None
    raw: str | None = request.query_params.get("at")
    if not raw:
        return None
    if not allowed:
        raise HttpError(
            "demo_at_disabled",
            "the at parameter is off; the server allows it with "
            "ENERGYHUB_ALLOW_DEMO_AT=true",
        )
    return parse_at(raw)


def user_id(raw: str) -> str:
    """Return a path's user id, or refuse it with 422."""
    if not is_user_id(raw):
        raise ValidationFailed.on(
            "user_id", "must be 1-128 characters of A-Z a-z 0-9 . _ : @ + -"
        )
    return raw


def window_id(raw: str) -> str:
    """Return a path's window id, or refuse it with 422."""
    if not is_window_id(raw):
        raise ValidationFailed.on("window_id", "must match [a-z0-9_-]{1,64}")
    return raw


def hub_filter(request: AnyRequest) -> str | None:
    """Return the ``hub_id`` query filter, if any, or refuse it with 422."""
    if not request.scope["query_string"]:
        return None
    raw: str | None = request.query_params.get("hub_id")
    if not raw:
        return None
    if len(raw) > 128 or has_control_characters(raw):
        raise ValidationFailed.on(
            "hub_id", "must be 1-128 characters without control characters"
        )
    return raw


def page_limit(request: AnyRequest) -> int:
    """Return the ``limit`` query value (1-200, default 50), or refuse it."""
    raw: str | None = request.query_params.get("limit")
    if raw is None or raw == "":
        return DEFAULT_PAGE
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 4):
        raise ValidationFailed.on("limit", f"must be a whole number 1-{MAX_PAGE}")
    limit = int(raw)
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed.on("limit", f"must be a whole number 1-{MAX_PAGE}")
    return limit


def cursor(request: AnyRequest) -> str | None:
    """Return the ``cursor`` query value, if any."""
    raw: str | None = request.query_params.get("cursor")
    if not raw:
        return None
    if len(raw) > 256 or has_control_characters(raw):
        raise ValidationFailed.on("cursor", "is not a cursor of this wallet")
    return raw


def idempotency_key(request: AnyRequest) -> str | None:
    """Return the ``Idempotency-Key`` header, if given (1-255 characters).

    Raises:
        ValidationFailed: an empty or longer key.
    """
    key: str | None = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH or has_control_characters(key):
        raise ValidationFailed.on(
            "Idempotency-Key", "must be 1-255 characters without control characters"
        )
    return key
