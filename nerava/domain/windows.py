"""Energy windows: recurring local-time periods in which charging earns a reward.

A window recurs on local dates in its IANA time zone. An *occurrence* is one
concrete period ``[start, end)`` in UTC; it belongs to the local date it starts
on, so ``days``, ``start_date`` and ``end_date`` filter occurrences by their
start. When several windows are active at once, the one with the higher
``price_per_kwh * multiplier`` applies; a tie goes to the smaller id.

A local time that a clock change skips is read as the first instant after the
gap; one it repeats, as its first reading (fold=0). Instants must be
timezone-aware; results are in UTC and never depend on the process's zone.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import MAXYEAR, UTC, date, datetime, time, timedelta
from decimal import Decimal, localcontext
from zoneinfo import ZoneInfo, available_timezones

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

_ONE_DAY = timedelta(days=1)
# Every valid window starts on some weekday, so two weeks of local dates hold
# an occurrence unless its dates end first (or a skipped date is among them).
_SEARCH_SPAN = timedelta(days=15)


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
        """Price times multiplier, exactly: what the overlap rule compares."""
        return _exact_product(self.price_per_kwh, self.multiplier)

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
        yield FieldError("label", f"must be 1-{MAX_LABEL_LENGTH} printable characters")
    if window.timezone not in _known_zones():
        yield FieldError("timezone", f"unknown IANA time zone {window.timezone!r}")
    for name, value in (
        ("start_local", window.start_local),
        ("end_local", window.end_local),
    ):
        if value.second or value.microsecond or value.tzinfo is not None:
            yield FieldError(name, "must be a local time HH:MM")
    if window.start_local == window.end_local:
        yield FieldError("end_local", "must differ from start_local")
    if not window.days or any(d not in ALL_DAYS for d in window.days):
        yield FieldError("days", "must be ISO weekdays 1-7, at least one")
    elif len(set(window.days)) != len(window.days):
        yield FieldError("days", "must not repeat a day")
    if (
        window.start_date is not None
        and window.end_date is not None
        and window.end_date <= window.start_date
    ):
        yield FieldError("end_date", "must be after start_date")
    for hub_id in window.hub_ids:
        if not 1 <= len(hub_id) <= MAX_HUB_ID_LENGTH or not _printable(hub_id):
            yield FieldError(
                "hub_ids",
                f"each hub id must be 1-{MAX_HUB_ID_LENGTH} printable characters",
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
    """Return the window unchanged, or raise ``ValidationFailed`` naming bad fields."""
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
    instant = _utc(instant)
    zone = _zone(window.timezone)
    today = _local_date(instant, zone)
    for day in (_day_before(today), today):
        occurrence = _occurrence_on(window, zone, day)
        if occurrence is not None and occurrence.contains(instant):
            return occurrence
    return None


def next_occurrence(window: Window, instant: datetime) -> Occurrence | None:
    """Return the occurrence containing ``instant``, else the first one after it.

    None when no occurrence is left (past ``end_date``).
    """
    instant = _utc(instant)
    zone = _zone(window.timezone)
    first = _day_before(_local_date(instant, zone))
    if window.start_date is not None:
        first = max(first, window.start_date)
    for day in _dates(window, first, _far_ahead(first)):
        occurrence = _occurrence_on(window, zone, day)
        if occurrence is not None and occurrence.end > instant:
            return occurrence
    return None


def occurrences_between(
    window: Window, start: datetime, end: datetime
) -> list[Occurrence]:
    """Return the occurrences overlapping ``[start, end)``, in time order."""
    start, end = _utc(start), _utc(end)
    if end <= start:
        return []
    zone = _zone(window.timezone)
    first = _day_before(_local_date(start, zone))
    occurrences = (
        _occurrence_on(window, zone, day)
        for day in _dates(window, first, _local_date(end, zone))
    )
    return [
        occurrence
        for occurrence in occurrences
        if occurrence is not None and occurrence.end > start and occurrence.start < end
    ]


def applying_occurrence(
    windows: Iterable[Window], instant: datetime, hub_id: str | None = None
) -> Occurrence | None:
    """Return the occurrence that applies at ``instant`` by the overlap rule."""
    candidates = (
        occurrence_at(window, instant)
        for window in windows
        if window.applies_to(hub_id)
    )
    return _best(occurrence for occurrence in candidates if occurrence is not None)


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
    An empty interval (``start == end``) gives no periods. Two occurrences of
    the same window are two periods, even when one ends as the next starts.
    """
    start, end = _utc(start), _utc(end)
    if end <= start:
        return []
    pending = sorted(
        (o for w in windows for o in occurrences_between(w, start, end)),
        key=lambda occurrence: occurrence.start,
    )
    cuts = sorted(
        {start, end} | {t for o in pending for t in (o.start, o.end) if start < t < end}
    )

    # Between two cuts no occurrence starts or ends, so the one that applies
    # at a cut applies until the next; one sweep keeps this linear in them.
    periods: list[tuple[datetime, datetime, Occurrence | None]] = []
    active: list[Occurrence] = []
    upcoming = iter(pending)
    following = next(upcoming, None)
    for period_start, period_end in itertools.pairwise(cuts):
        while following is not None and following.start <= period_start:
            active.append(following)
            following = next(upcoming, None)
        active = [o for o in active if o.end > period_start]
        applying = _best(active)
        if periods and periods[-1][2] == applying:
            periods[-1] = (periods[-1][0], period_end, applying)
        else:
            periods.append((period_start, period_end, applying))
    return periods


def schedule(window: Window, instant: datetime) -> WindowSchedule:
    """Describe ``window`` at ``instant``: active or not, current or next period."""
    occurrence = next_occurrence(window, instant)
    active = occurrence is not None and occurrence.contains(_utc(instant))
    return WindowSchedule(window, active, occurrence)


def listing_order(windows: Iterable[Window], instant: datetime) -> list[WindowSchedule]:
    """Order windows by the UTC time of day of their current or next start, then id.

    Windows with no occurrence left come last, by id.
    """
    return sorted((schedule(w, instant) for w in windows), key=_listing_key)


def _listing_key(entry: WindowSchedule) -> tuple[bool, int, int, str]:
    if entry.occurrence is None:
        return (True, 0, 0, entry.window.id)
    start = entry.occurrence.start
    return (False, start.hour, start.minute, entry.window.id)


def _best(occurrences: Iterable[Occurrence]) -> Occurrence | None:
    """Pick the occurrence the overlap rule prefers: highest rate, then smaller id."""
    return min(
        occurrences,
        key=lambda occurrence: (
            occurrence.window.rate.copy_negate(),
            occurrence.window.id,
        ),
        default=None,
    )


def _occurrence_on(window: Window, zone: ZoneInfo, day: date) -> Occurrence | None:
    """Return the occurrence that starts on local date ``day``, if there is one."""
    if not _runs_on(window, day):
        return None
    try:
        end_day = day + _ONE_DAY if window.crosses_midnight else day
        start = _instant(day, window.start_local, zone)
        end = _instant(end_day, window.end_local, zone)
    except OverflowError:
        return None
    # A gap can swallow both ends (a skipped date, a short window inside one).
    if end <= start:
        return None
    return Occurrence(window, start, end)


def _runs_on(window: Window, day: date) -> bool:
    return (
        day.isoweekday() in window.days
        and (window.start_date is None or day >= window.start_date)
        and (window.end_date is None or day < window.end_date)
    )


# Every request asks for the same few wall times on the same few days.
@functools.lru_cache(maxsize=8192)
def _instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """Return the UTC instant of a local wall time: after a gap, first in a fold."""
    offset = _offset(zone, datetime.combine(day, wall))
    offset_after_change = _offset(zone, datetime.combine(day, _second_pass(wall)))

    # In a gap, fold=0 reads the wall time with the offset in force before the
    # change and fold=1 with the one after, so they bracket the change itself.
    if offset_after_change > offset:
        return _change_between(
            datetime.combine(day, wall, tzinfo=UTC) - offset_after_change,
            datetime.combine(day, wall, tzinfo=UTC) - offset,
            zone,
        )
    return datetime.combine(day, wall, tzinfo=UTC) - offset


def _change_between(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """Return the instant the UTC offset of ``zone`` changes, in ``(before, after]``."""
    # Zone rules change offsets on whole seconds.
    offset_before = _offset(zone, before.astimezone(zone))
    low, high = 0, int((after - before).total_seconds())
    while high - low > 1:
        middle = (low + high) // 2
        instant = before + timedelta(seconds=middle)
        if _offset(zone, instant.astimezone(zone)) == offset_before:
            low = middle
        else:
            high = middle
    return before + timedelta(seconds=high)


def _offset(zone: ZoneInfo, moment: datetime) -> timedelta:
    """Return the UTC offset of ``zone`` at a local (naive) or aware moment."""
    return zone.utcoffset(moment) or timedelta(0)


@functools.lru_cache(maxsize=2048)
def _second_pass(wall: time) -> time:
    """Return ``wall`` with fold=1: its second reading when clocks go back."""
    return time(wall.hour, wall.minute, wall.second, wall.microsecond, fold=1)


def _dates(window: Window, first: date, last: date) -> Iterator[date]:
    """Yield the local dates from ``first`` to ``last`` inside the window's dates."""
    if window.start_date is not None:
        first = max(first, window.start_date)
    if window.end_date is not None:
        if window.end_date == date.min:
            return
        last = min(last, window.end_date - _ONE_DAY)
    day = first
    while day <= last:
        yield day
        if day == date.max:
            return
        day += _ONE_DAY


@functools.lru_cache(maxsize=1024)
def _exact_product(a: Decimal, b: Decimal) -> Decimal:
    """Multiply without rounding; remembered, as every request compares rates.

    Equal factors written with other exponents (``2.0`` and ``2.00``) may be
    answered with the product of the first ones asked: the same value.
    """
    # A product has at most the digits of both factors: never round a tie.
    with localcontext() as exact:
        exact.prec = max(
            len(a.as_tuple().digits) + len(b.as_tuple().digits), exact.prec
        )
        return a * b


def _far_ahead(day: date) -> date:
    try:
        return day + _SEARCH_SPAN
    except OverflowError:
        return date.max


def _day_before(day: date) -> date:
    return day - _ONE_DAY if day > date.min else day


def _local_date(instant: datetime, zone: ZoneInfo) -> date:
    try:
        return instant.astimezone(zone).date()
    except OverflowError:
        return date.max if instant.year == MAXYEAR else date.min


def _utc(instant: datetime) -> datetime:
    if instant.tzinfo is UTC:
        return instant
    if instant.utcoffset() is None:
        raise ValueError(f"an instant must be timezone-aware, got {instant!r}")
    return instant.astimezone(UTC)


@functools.cache
def _zone(key: str) -> ZoneInfo:
    return ZoneInfo(key)


@functools.cache
def _known_zones() -> frozenset[str]:
    # "localtime" names the machine's own zone: a window must not depend on it.
    return frozenset(available_timezones() - {"localtime"})
