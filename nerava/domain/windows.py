"""Energy windows: recurring local-time periods in which charging earns a reward.

A window recurs on local dates in its IANA time zone. An *occurrence* is one
concrete period ``[start, end)`` in UTC; it belongs to the local date it starts
on, so ``days``, ``start_date`` and ``end_date`` filter occurrences by their
start. When several windows are active at once, the one with the higher
``price_per_kwh * multiplier`` applies; a tie goes to the smaller id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from nerava.domain.errors import FieldError, ValidationFailed

__all__ = [
    "ALL_DAYS",
    "Occurrence",
    "Window",
    "WindowSchedule",
    "applying_occurrence",
    "applying_periods",
    "applying_window",
    "default_windows",
    "listing_order",
    "next_occurrence",
    "occurrence_at",
    "occurrences_between",
    "schedule",
    "validate_window",
]

ALL_DAYS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7)
WINDOW_ID = re.compile(r"[a-z0-9_-]{1,64}")
MAX_PRICE_PER_KWH = Decimal(10)
MAX_MULTIPLIER = Decimal(100)
MAX_LABEL_LENGTH = 128
MAX_HUB_ID_LENGTH = 128


class Window(msgspec.Struct, frozen=True, kw_only=True):
    """A recurring window and its reward terms; prices are exact decimals."""

    id: str
    label: str
    start_local: time
    end_local: time
    price_per_kwh: Decimal
    multiplier: Decimal
    timezone: str = "UTC"
    days: tuple[int, ...] = ALL_DAYS
    start_date: date | None = None
    end_date: date | None = None
    hub_ids: tuple[str, ...] = ()

    @property
    def rate(self) -> Decimal:
        """The price per kWh the multiplier makes of it: what the overlap rule compares."""
        return self.price_per_kwh * self.multiplier

    @property
    def crosses_midnight(self) -> bool:
        """Whether an occurrence ends on the local day after it starts."""
        return self.end_local < self.start_local

    def applies_to(self, hub_id: str | None) -> bool:
        """Whether the window pays at this hub (any hub when ``hub_id`` is None)."""
        return hub_id is None or not self.hub_ids or hub_id in self.hub_ids


class Occurrence(msgspec.Struct, frozen=True):
    """One concrete period ``[start, end)`` of a window, in UTC."""

    window: Window
    start: datetime
    end: datetime

    def contains(self, instant: datetime) -> bool:
        """Whether the instant falls inside ``[start, end)``."""
        return self.start <= instant < self.end


class WindowSchedule(msgspec.Struct, frozen=True):
    """A window as seen at an instant: active or not, and its current or next period."""

    window: Window
    active_now: bool
    occurrence: Occurrence | None


def default_windows() -> tuple[Window, ...]:
    """Return the two windows a new catalog starts with."""
    return (
        Window(
            id="solar_surplus",
            label="Solar Surplus",
            start_local=time(10, 0),
            end_local=time(14, 0),
            price_per_kwh=Decimal("0.03"),
            multiplier=Decimal("1.0"),
        ),
        Window(
            id="green_hour",
            label="Green Hour",
            start_local=time(14, 0),
            end_local=time(17, 0),
            price_per_kwh=Decimal("0.08"),
            multiplier=Decimal("2.0"),
        ),
    )


def _printable(text: str) -> bool:
    return all(ch.isprintable() or ch == " " for ch in text)


def _window_errors(window: Window) -> Iterable[FieldError]:
    if not WINDOW_ID.fullmatch(window.id):
        yield FieldError("id", "must match [a-z0-9_-]{1,64}")
    if not 1 <= len(window.label) <= MAX_LABEL_LENGTH or not _printable(window.label):
        yield FieldError(
            "label", f"must be 1-{MAX_LABEL_LENGTH} printable characters"
        )
    try:
        ZoneInfo(window.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        yield FieldError("timezone", f"unknown IANA time zone {window.timezone!r}")
    for name, value in (("start_local", window.start_local),
                        ("end_local", window.end_local)):
        if value.second or value.microsecond or value.tzinfo is not None:
            yield FieldError(name, "must be a local time HH:MM")
    if window.start_local == window.end_local:
        yield FieldError("end_local", "must differ from start_local")
    if not window.days or any(d not in ALL_DAYS for d in window.days):
        yield FieldError("days", "must be ISO weekdays 1-7, at least one")
    elif len(set(window.days)) != len(window.days):
        yield FieldError("days", "must not repeat a day")
    if (window.start_date is not None and window.end_date is not None
            and window.end_date <= window.start_date):
        yield FieldError("end_date", "must be after start_date")
    for hub_id in window.hub_ids:
        if not 1 <= len(hub_id) <= MAX_HUB_ID_LENGTH or not _printable(hub_id):
            yield FieldError(
                "hub_ids", f"each hub id must be 1-{MAX_HUB_ID_LENGTH} "
                "printable characters"
            )
            break
    if not window.price_per_kwh.is_finite() or not (
        0 <= window.price_per_kwh <= MAX_PRICE_PER_KWH
    ):
        yield FieldError("price_per_kwh", "must be between 0 and 10 USD per kWh")
    if not window.multiplier.is_finite() or not (
        0 <= window.multiplier <= MAX_MULTIPLIER
    ):
        yield FieldError("multiplier", "must be between 0 and 100")


def validate_window(window: Window) -> Window:
    """Return the window unchanged, or raise ``ValidationFailed`` naming each bad field."""
    errors = list(_window_errors(window))
    if errors:
        raise ValidationFailed(errors)
    return window


def occurrence_at(window: Window, instant: datetime) -> Occurrence | None:
    """Return the occurrence of ``window`` that contains ``instant``, if any.

    Args:
        window: a valid window.
        instant: a timezone-aware instant.
    """
    raise NotImplementedError


def next_occurrence(window: Window, instant: datetime) -> Occurrence | None:
    """Return the occurrence containing ``instant``, else the first one after it.

    None when no occurrence is left (past ``end_date``).
    """
    raise NotImplementedError


def occurrences_between(
    window: Window, start: datetime, end: datetime
) -> list[Occurrence]:
    """Return the occurrences overlapping ``[start, end)``, in time order."""
    raise NotImplementedError


def applying_occurrence(
    windows: Iterable[Window], instant: datetime, hub_id: str | None = None
) -> Occurrence | None:
    """Return the occurrence that applies at ``instant`` by the overlap rule."""
    raise NotImplementedError


def applying_window(
    windows: Iterable[Window], instant: datetime, hub_id: str | None = None
) -> Window | None:
    """Return the window that applies at ``instant`` by the overlap rule, if any."""
    occurrence = applying_occurrence(windows, instant, hub_id)
    return occurrence.window if occurrence else None


def applying_periods(
    windows: Sequence[Window], start: datetime, end: datetime
) -> list[tuple[datetime, datetime, Occurrence | None]]:
    """Cut ``[start, end)`` into maximal periods with one applying occurrence each.

    Consecutive periods share their boundary; a period with no window has None.
    An empty interval (``start == end``) gives no periods.
    """
    raise NotImplementedError


def schedule(window: Window, instant: datetime) -> WindowSchedule:
    """Describe ``window`` at ``instant``: active or not, current or next period."""
    raise NotImplementedError


def listing_order(
    windows: Iterable[Window], instant: datetime
) -> list[WindowSchedule]:
    """Order windows by the UTC time of day of their current or next start, then id.

    Windows with no occurrence left come last, by id.
    """
    raise NotImplementedError
