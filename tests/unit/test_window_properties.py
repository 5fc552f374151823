"""Properties of the window schedule: DESIGN.md invariant 5 and what it rests on."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from time import tzset
from zoneinfo import ZoneInfo

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from nerava.domain.windows import (
    Occurrence,
    Window,
    applying_occurrence,
    applying_periods,
    applying_window,
    listing_order,
    next_occurrence,
    occurrence_at,
    occurrences_between,
    schedule,
    validate_window,
)
from tests.strategies import catalogs, hubs, instants, windows

PROCESS_ZONES = ("UTC", "America/Los_Angeles", "Asia/Kolkata", "Pacific/Chatham")
FIXED_OFFSET_ZONES = ("UTC", "Asia/Kolkata")
ONE_MICROSECOND = timedelta(microseconds=1)


@contextmanager
def process_time_zone(name: str) -> Iterator[None]:
    """Run the block with the process's local time zone set to ``name``."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = name
    tzset()
    try:
        yield
    finally:
        if previous is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = previous
        tzset()


def containing(
    catalog: list[Window], instant: datetime, hub: str | None
) -> list[Occurrence]:
    """Return the occurrences, of windows paying at ``hub``, holding ``instant``."""
    found = (occurrence_at(w, instant) for w in catalog if w.applies_to(hub))
    return [occurrence for occurrence in found if occurrence is not None]


def runs_on(window: Window, day_of_start: datetime) -> bool:
    """Whether the window has an occurrence starting on this local date."""
    day = day_of_start.date()
    return (
        day.isoweekday() in window.days
        and (window.start_date is None or day >= window.start_date)
        and (window.end_date is None or day < window.end_date)
    )


@given(catalogs(), instants(), hubs())
def test_exactly_one_window_or_none_applies_by_the_overlap_rule(
    catalog: list[Window], instant: datetime, hub: str | None
) -> None:
    active = containing(catalog, instant, hub)

    applying = applying_occurrence(catalog, instant, hub)

    if not active:
        assert applying is None
        return
    assert applying is not None
    assert applying in active
    others = [o for o in active if o.window.id != applying.window.id]
    assert all(
        applying.window.rate > o.window.rate
        or (applying.window.rate == o.window.rate and applying.window.id < o.window.id)
        for o in others
    )
    assert applying_window(catalog, instant, hub) == applying.window


@settings(max_examples=50)
@given(catalogs(), instants(), hubs())
def test_the_same_window_applies_whatever_the_process_time_zone(
    catalog: list[Window], instant: datetime, hub: str | None
) -> None:
    answers = []

    for zone in PROCESS_ZONES:
        with process_time_zone(zone):
            answers.append(
                (
                    applying_occurrence(catalog, instant, hub),
                    listing_order(catalog, instant),
                    applying_periods(catalog, instant, instant + timedelta(days=2)),
                )
            )

    assert all(answer == answers[0] for answer in answers)


@given(
    windows(),
    st.sampled_from(FIXED_OFFSET_ZONES),
    instants(),
    st.none() | st.integers(-36 * 60, 36 * 60),
)
def test_a_window_without_clock_changes_is_active_exactly_on_its_wall_clock_times(
    window: Window, zone: str, instant: datetime, minutes_from_a_bound: int | None
) -> None:
    window = msgspec.structs.replace(window, timezone=zone)
    bound = window.end_date or window.start_date
    if bound is not None and minutes_from_a_bound is not None:
        instant = datetime.combine(bound, time(), UTC) + timedelta(
            minutes=minutes_from_a_bound
        )
    wall = instant.astimezone(ZoneInfo(zone))
    start, end, now = window.start_local, window.end_local, wall.time()
    if window.crosses_midnight:
        expected = (now >= start and runs_on(window, wall)) or (
            now < end and runs_on(window, wall - timedelta(days=1))
        )
    else:
        expected = start <= now < end and runs_on(window, wall)

    active = occurrence_at(window, instant) is not None

    assert active == expected


@given(windows(), instants())
def test_the_next_occurrence_holds_its_own_start_and_lasts_under_a_day_and_two_hours(
    window: Window, instant: datetime
) -> None:
    occurrence = next_occurrence(window, instant)

    if occurrence is None:
        assert window.end_date is not None
        beyond = datetime.combine(window.end_date, time(), UTC) + timedelta(days=2)
        assert occurrences_between(window, instant, max(beyond, instant)) == []
        return
    assert occurrence.contains(occurrence.start)
    assert occurrence.start < occurrence.end
    assert occurrence.end - occurrence.start < timedelta(hours=26)
    assert occurrence.end > instant
    assert occurrence.contains(instant) or occurrence.start > instant
    assert occurrence_at(window, occurrence.start) == occurrence


@given(windows(), instants())
def test_an_instant_is_in_an_occurrence_exactly_when_the_next_one_holds_it(
    window: Window, instant: datetime
) -> None:
    upcoming = next_occurrence(window, instant)

    current = occurrence_at(window, instant)

    if upcoming is not None and upcoming.contains(instant):
        assert current == upcoming
    else:
        assert current is None


@given(windows(), instants())
def test_an_occurrence_starts_at_its_local_time_on_one_of_its_days_or_ends_a_gap(
    window: Window, instant: datetime
) -> None:
    zone = ZoneInfo(window.timezone)

    occurrence = next_occurrence(window, instant)

    if occurrence is None:
        return
    local_start = occurrence.start.astimezone(zone)
    assert runs_on(window, local_start)
    if local_start.time() != window.start_local:
        before = (occurrence.start - ONE_MICROSECOND).astimezone(zone)
        assert before.utcoffset() != local_start.utcoffset()
        assert local_start.time() > window.start_local


@given(windows(), instants(), st.integers(0, 45 * 24 * 60))
def test_occurrences_between_are_the_chain_of_next_occurrences(
    window: Window, start: datetime, minutes: int
) -> None:
    end = start + timedelta(minutes=minutes)
    chain: list[Occurrence] = []
    cursor = start
    while cursor < end:
        following = next_occurrence(window, cursor)
        if following is None or following.start >= end:
            break
        chain.append(following)
        cursor = following.end

    between = occurrences_between(window, start, end)

    assert between == chain
    assert all(a.end <= b.start for a, b in pairwise(between))


@settings(max_examples=60)
@given(catalogs(), instants(), st.integers(0, 45 * 24 * 60), st.data())
def test_applying_periods_cover_the_interval_with_the_applying_occurrence(
    catalog: list[Window], start: datetime, minutes: int, data: st.DataObject
) -> None:
    end = start + timedelta(minutes=minutes)
    boundaries = {start, end} | {
        t
        for window in catalog
        for o in occurrences_between(window, start, end)
        for t in (o.start, o.end)
    }

    periods = applying_periods(catalog, start, end)

    if start == end:
        assert periods == []
        return
    assert periods[0][0] == start
    assert periods[-1][1] == end
    for (_, first_end, first), (second_start, _, second) in pairwise(periods):
        assert first_end == second_start
        assert first != second
    for period_start, period_end, occurrence in periods:
        assert period_start < period_end
        assert {period_start, period_end} <= boundaries
        assert applying_occurrence(catalog, period_start) == occurrence
        assert applying_occurrence(catalog, period_end - ONE_MICROSECOND) == occurrence
    probe = start + timedelta(
        microseconds=data.draw(st.integers(0, minutes * 60_000_000 - 1))
    )
    (holding,) = [p for p in periods if p[0] <= probe < p[1]]
    assert applying_occurrence(catalog, probe) == holding[2]


@given(catalogs(), instants())
def test_listing_orders_by_utc_start_time_then_id_with_finished_windows_last(
    catalog: list[Window], instant: datetime
) -> None:
    listed = listing_order(catalog, instant)

    assert sorted(entry.window.id for entry in listed) == sorted(w.id for w in catalog)
    keys = [
        (1, 0, 0, entry.window.id)
        if entry.occurrence is None
        else (
            0,
            entry.occurrence.start.hour,
            entry.occurrence.start.minute,
            entry.window.id,
        )
        for entry in listed
    ]
    assert keys == sorted(keys)
    for entry in listed:
        assert entry == schedule(entry.window, instant)
        assert entry.active_now == (occurrence_at(entry.window, instant) is not None)


@given(windows())
def test_every_drawn_window_is_valid(window: Window) -> None:
    assert validate_window(window) == window
