"""Shared hypothesis strategies for the property tests.

One section per domain concept (time, windows, rewards, ...), each opened by
a comment on what it draws and why. A new section goes at the end, with its
constants above its strategies and its names added to ``__all__``. Strategies
are functions returning a ``SearchStrategy``, named for what they draw
(``windows()``, ``catalogs()``), and draw only valid values unless their name
says otherwise.
"""

from __future__ import annotations

import string
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import NamedTuple

from hypothesis import strategies as st

from nerava.domain.rewards import MeterValue, RewardPolicy, Terms
from nerava.domain.windows import ALL_DAYS, Window

__all__ = [
    "CLOCK_CHANGES_2026",
    "HUBS",
    "ZONES",
    "catalogs",
    "hubs",
    "instants",
    "local_times",
    "windows",
]


# Time: aware UTC instants of the years the service runs in, weighted towards
# the clock changes where local-time rules are hardest.

EARLIEST = datetime(2020, 1, 1)
LATEST = datetime(2030, 12, 31, 23, 59, 59, 999999)

# The instants the clocks of the DST zones in ZONES change in 2026: where
# gaps and folds are, which uniform draws would almost never reach.
CLOCK_CHANGES_2026 = (
    datetime(2026, 3, 8, 10, 0, tzinfo=UTC),  # America/Los_Angeles, forward
    datetime(2026, 11, 1, 9, 0, tzinfo=UTC),  # America/Los_Angeles, back
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # Europe/London, forward
    datetime(2026, 10, 25, 1, 0, tzinfo=UTC),  # Europe/London, back
    datetime(2026, 4, 4, 15, 0, tzinfo=UTC),  # Australia/Lord_Howe, back 30 min
    datetime(2026, 10, 3, 15, 30, tzinfo=UTC),  # Australia/Lord_Howe, forward 30 min
)


def instants() -> st.SearchStrategy[datetime]:
    """Draw aware UTC instants in 2020-2030, often on a whole minute or near a change.

    Whole minutes hit occurrence boundaries exactly; instants within a day and a
    half of a 2026 clock change meet the occurrences that gaps and folds shape.
    """
    anywhere = st.datetimes(EARLIEST, LATEST, timezones=st.just(UTC))
    on_a_minute = anywhere.map(lambda instant: instant.replace(second=0, microsecond=0))
    near_a_change = st.builds(
        lambda change, minutes: change + timedelta(minutes=minutes),
        st.sampled_from(CLOCK_CHANGES_2026),
        st.integers(-36 * 60, 36 * 60),
    )
    return st.one_of(anywhere, on_a_minute, near_a_change)


# Windows: valid windows and catalogs over a few zones chosen for their rules
# (no change, whole-hour DST, half-hour DST, a half-hour fixed offset).

ZONES = (
    "UTC",
    "America/Los_Angeles",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
)
HUBS = ("hub-1", "hub-2", "hub-3")
FIRST_DATE = date(2019, 1, 1)
LAST_DATE = date(2031, 12, 31)

# Local times that the 2026 clock changes of ZONES skip or repeat, or touch.
CLOCK_CHANGE_TIMES = tuple(
    time(hour, minute) for hour in (0, 1, 2, 3) for minute in (0, 15, 30, 45)
)

# Few distinct terms, so that overlaps often tie on price times multiplier.
COMMON_PRICES = tuple(Decimal(p) for p in ("0", "0.03", "0.08", "0.16"))
COMMON_MULTIPLIERS = tuple(Decimal(m) for m in ("0.5", "1", "1.0", "2", "2.0"))


def local_times() -> st.SearchStrategy[time]:
    """Draw wall-clock times HH:MM, often ones a clock change skips or repeats."""
    any_minute = st.builds(time, st.integers(0, 23), st.integers(0, 59))
    return st.one_of(any_minute, st.sampled_from(CLOCK_CHANGE_TIMES))


def hubs() -> st.SearchStrategy[str | None]:
    """Draw a hub a charge happens at, or None for "any hub"."""
    return st.none() | st.sampled_from(HUBS)


@st.composite
def windows(draw: st.DrawFn) -> Window:
    """Draw a valid window in one of ZONES, with exact decimal terms."""
    start_local = draw(local_times())
    end_local = draw(local_times().filter(lambda end: end != start_local))
    start_date, end_date = draw(_date_ranges())
    return Window(
        id=draw(st.from_regex(r"[a-z0-9_-]{1,16}", fullmatch=True)),
        label=draw(st.text(string.ascii_letters + " ", min_size=1, max_size=24)),
        start_local=start_local,
        end_local=end_local,
        price_per_kwh=draw(
            st.sampled_from(COMMON_PRICES)
            | st.decimals(min_value=0, max_value=10, places=3)
        ),
        multiplier=draw(
            st.sampled_from(COMMON_MULTIPLIERS)
            | st.decimals(min_value=0, max_value=100, places=2)
        ),
        timezone=draw(st.sampled_from(ZONES)),
        days=draw(_weekdays()),
        start_date=start_date,
        end_date=end_date,
        hub_ids=tuple(draw(st.lists(st.sampled_from(HUBS), unique=True, max_size=2))),
    )


def catalogs(max_size: int = 5) -> st.SearchStrategy[list[Window]]:
    """Draw lists of valid windows with unique ids, as a catalog holds them."""
    return st.lists(windows(), max_size=max_size, unique_by=lambda w: w.id)


def _weekdays() -> st.SearchStrategy[tuple[int, ...]]:
    some_days = st.lists(st.integers(1, 7), min_size=1, max_size=7, unique=True)
    return st.just(ALL_DAYS) | some_days.map(lambda days: tuple(sorted(days)))


@st.composite
def _date_ranges(draw: st.DrawFn) -> tuple[date | None, date | None]:
    """Draw optional ``start_date`` and ``end_date`` with the end after the start."""
    optional_dates = st.none() | st.dates(FIRST_DATE, LAST_DATE)
    start, end = draw(optional_dates), draw(optional_dates)
    if start is not None and end is not None and end <= start:
        start, end = end, start + timedelta(days=1)
    return start, end


# Rewards: stopped sessions as hubs report them, and the terms a session
# captured at its start. Sessions last up to three days, so that they cross
# midnight, clock changes and several occurrences of one window.

MAX_SESSION_LENGTH = timedelta(days=3)
MAX_SESSION_WH = 1_000_000  # the default MAX_SESSION_KWH, 1000 kWh
MAX_METER_VALUES = 4
MAX_COFUND_CENTS = 10_000
_MICROSECOND = timedelta(microseconds=1)

__all__ += [
    "ChargedSession",
    "charged_sessions",
    "meter_values",
    "reward_terms",
    "session_lengths",
]


class ChargedSession(NamedTuple):
    """A stopped session as its reward sees it: times, energy and readings."""

    started_at: datetime
    stopped_at: datetime
    wh: int
    meter_values: tuple[MeterValue, ...]


def reward_terms(policy: RewardPolicy | None = None) -> st.SearchStrategy[Terms]:
    """Draw the terms a session captures: a catalog, a policy and a co-fund."""
    policies = st.sampled_from(RewardPolicy) if policy is None else st.just(policy)
    return st.builds(
        Terms,
        windows=catalogs().map(tuple),
        policy=policies,
        cofund_cents=st.integers(0, MAX_COFUND_CENTS),
    )


def session_lengths(
    min_length: timedelta = timedelta(0), max_length: timedelta = MAX_SESSION_LENGTH
) -> st.SearchStrategy[timedelta]:
    """Draw how long a session lasts, often in whole minutes or the shortest."""
    whole_minutes = (
        st.integers(0, max_length // timedelta(minutes=1))
        .map(lambda minutes: timedelta(minutes=minutes))
        .filter(lambda length: length >= min_length)
    )
    return st.one_of(
        st.just(min_length), whole_minutes, st.timedeltas(min_length, max_length)
    )


@st.composite
def meter_values(
    draw: st.DrawFn, started_at: datetime, stopped_at: datetime, wh: int
) -> tuple[MeterValue, ...]:
    """Draw valid readings of a session: in order, inside it, up to ``wh``."""
    count = draw(st.integers(0, MAX_METER_VALUES))
    span = (stopped_at - started_at) // _MICROSECOND
    offsets = draw(st.lists(st.integers(0, span), min_size=count, max_size=count))
    energies = draw(st.lists(st.integers(0, wh), min_size=count, max_size=count))
    return tuple(
        MeterValue(started_at + offset * _MICROSECOND, energy)
        for offset, energy in zip(sorted(offsets), sorted(energies), strict=True)
    )


@st.composite
def charged_sessions(
    draw: st.DrawFn,
    min_length: timedelta = timedelta(0),
    max_length: timedelta = MAX_SESSION_LENGTH,
    with_meter_values: bool = True,
) -> ChargedSession:
    """Draw a stopped session; small energies often, where half cents are."""
    started_at = draw(instants())
    stopped_at = started_at + draw(session_lengths(min_length, max_length))
    wh = draw(st.integers(0, 200) | st.integers(0, MAX_SESSION_WH))
    readings = (
        draw(meter_values(started_at, stopped_at, wh)) if with_meter_values else ()
    )
    return ChargedSession(started_at, stopped_at, wh, readings)
