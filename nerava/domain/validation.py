"""Field rules shared by the use cases: ids, names and free text."""

from __future__ import annotations

import re
from datetime import datetime

from nerava.domain.errors import ValidationFailed

__all__ = [
    "MAX_REASON_LENGTH",
    "require_aware",
    "require_hub_id",
    "require_text",
    "require_user_id",
]

USER_ID = re.compile(r"[A-Za-z0-9._:@+\-]{1,128}")
MAX_HUB_ID_LENGTH = 128
MAX_REASON_LENGTH = 200


def _printable(text: str) -> bool:
    return all(ch.isprintable() or ch == " " for ch in text)


def require_user_id(user_id: str, field: str = "user_id") -> str:
    """Return ``user_id`` or refuse it: 1-128 of ``A-Z a-z 0-9 . _ : @ + -``."""
    if not USER_ID.fullmatch(user_id):
        raise ValidationFailed.on(
            field, "must be 1-128 characters of A-Z a-z 0-9 . _ : @ + -"
        )
    return user_id


def require_hub_id(hub_id: str, field: str = "hub_id") -> str:
    """Return ``hub_id`` or refuse it: 1-128 characters, no control characters."""
    if not 1 <= len(hub_id) <= MAX_HUB_ID_LENGTH or not _printable(hub_id):
        raise ValidationFailed.on(
            field,
            f"must be 1-{MAX_HUB_ID_LENGTH} characters without control characters",
        )
    return hub_id


def require_text(text: str, field: str, max_length: int = MAX_REASON_LENGTH) -> str:
    """Return ``text`` or refuse it: 1-``max_length`` printable characters."""
    if not 1 <= len(text) <= max_length or not _printable(text):
        raise ValidationFailed.on(
            field, f"must be 1-{max_length} characters without control characters"
        )
    return text


def require_aware(instant: datetime, field: str) -> datetime:
    """Return ``instant`` if it carries an offset, or refuse it."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValidationFailed.on(field, "must be a date-time with an offset")
    return instant
