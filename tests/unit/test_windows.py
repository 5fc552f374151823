"""The window schedule: occurrences, the overlap rule, periods and listing."""

from __future__ import annotations

import os
import time as clock
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

import msgspec
import pytest

from nerava.domain.errors import ValidationFailed
from nerava.domain.windows import (
    Occurrence,
    Window,
    applying_occurrence,
    applying_periods,
    applying_window,
    default_windows,
    listing_order,
    next_occurrence,
    occurrence_at,
    occurrences_between,
    schedule,
    validate_window,
)

SOLAR_SURPLUS, GREEN_HOUR = default_windows()


def utc(*fields: int) -> datetime:
    """Build a UTC instant from year, month, day, hour, ..."""
    return datetime(*fields, tzinfo=UTC)


def window(
    window_id: str = "evening",
    start: str = "18:00",
    end: str = "21:00",
    **fields: object,
) -> Window:
    """Build a valid window; any other field is given by keyword."""
    terms: dict[str, object] = {
        "label": window_id.title(),
        "price_per_kwh": Decimal("0.05"),
        "multiplier": Decimal("1"),
    }
    return Window(
        id=window_id,
        start_local=time.fromisoformat(start),
        end_local=time.fromisoformat(end),
        **(terms | fields),
    )


def ids(
    periods: list[tuple[datetime, datetime, Occurrence | None]],
) -> list[str | None]:
    return [o.window.id if o else None for _, _, o in periods]


@pytest.fixture
def process_time_zone() -> Iterator[Callable[[str], None]]:
    """Set the process's local time zone; put the original back afterwards."""
    previous = os.environ.get("TZ")

    def set_zone(name: str) -> None:
        os.environ["TZ"] = name
        clock.tzset()

    yield set_zone
    if previous is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = previous
    clock.tzset()


class TestDefaults:
    def test_the_default_windows_are_solar_surplus_then_green_hour_in_utc(
        self,
    ) -> None:
        assert (SOLAR_SURPLUS.id, SOLAR_SURPLUS.timezone) == ("solar_surplus", "UTC")
        assert (SOLAR_SURPLUS.start_local, SOLAR_SURPLUS.end_local) == (
            time(10),
            time(14),
        )
        assert (GREEN_HOUR.id, GREEN_HOUR.timezone) == ("green_hour", "UTC")
        assert (GREEN_HOUR.start_local, GREEN_HOUR.end_local) == (time(14), time(17))
        assert SOLAR_SURPLUS.rate == Decimal("0.03")
        assert GREEN_HOUR.rate == Decimal("0.16")

    def test_solar_surplus_runs_from_ten_to_fourteen_utc(self) -> None:
        occurrence = occurrence_at(SOLAR_SURPLUS, utc(2026, 5, 5, 12))

        assert occurrence == Occurrence(
            SOLAR_SURPLUS, utc(2026, 5, 5, 10), utc(2026, 5, 5, 14)
        )

    def test_solar_surplus_still_applies_a_microsecond_before_fourteen_utc(
        self,
    ) -> None:
        instant = utc(2026, 5, 5, 13, 59, 59, 999999)

        applying = applying_window(default_windows(), instant)
        solar = schedule(SOLAR_SURPLUS, instant)

        assert applying == SOLAR_SURPLUS
        assert solar.active_now

    def test_green_hour_starts_exactly_at_fourteen_utc(self) -> None:
        instant = utc(2026, 5, 5, 14)

        applying = applying_window(default_windows(), instant)
        solar = schedule(SOLAR_SURPLUS, instant)
        green = schedule(GREEN_HOUR, instant)

        assert applying == GREEN_HOUR
        assert green.active_now
        assert not solar.active_now
        assert solar.occurrence is not None
        assert solar.occurrence.start == utc(2026, 5, 6, 10)

    def test_no_default_window_applies_from_seventeen_utc(self) -> None:
        assert applying_window(default_windows(), utc(2026, 5, 5, 17)) is None
        assert applying_window(default_windows(), utc(2026, 5, 6, 9, 59)) is None


class TestMidnight:
    def test_a_window_crossing_midnight_ends_on_the_next_local_day(self) -> None:
        night = window(start="22:00", end="02:00")

        occurrence = occurrence_at(night, utc(2026, 5, 6, 1))

        assert occurrence is not None
        assert (occurrence.start, occurrence.end) == (
            utc(2026, 5, 5, 22),
            utc(2026, 5, 6, 2),
        )

    def test_days_pick_a_midnight_crossing_window_by_the_day_it_starts(self) -> None:
        friday_nights = window(start="22:00", end="02:00", days=(5,))

        early_saturday = occurrence_at(friday_nights, utc(2026, 5, 9, 1))
        saturday_night = occurrence_at(friday_nights, utc(2026, 5, 9, 23))
        early_friday = occurrence_at(friday_nights, utc(2026, 5, 8, 1))

        assert early_saturday is not None
        assert early_saturday.start == utc(2026, 5, 8, 22)
        assert saturday_night is None
        assert early_friday is None

    def test_a_local_night_window_crosses_midnight_in_its_own_zone(self) -> None:
        night = window(start="22:00", end="06:00", timezone="America/Los_Angeles")

        occurrence = occurrence_at(night, utc(2026, 5, 5, 12))

        assert occurrence is not None
        assert (occurrence.start, occurrence.end) == (
            utc(2026, 5, 5, 5),
            utc(2026, 5, 5, 13),
        )


class TestDates:
    def test_start_date_is_inclusive_and_end_date_exclusive(self) -> None:
        june = window(
            start="10:00",
            end="14:00",
            start_date=date(2026, 6, 1),
            end_date=date(2026, 6, 3),
        )

        found = occurrences_between(june, utc(2026, 5, 25), utc(2026, 6, 10))

        assert [o.start for o in found] == [utc(2026, 6, 1, 10), utc(2026, 6, 2, 10)]
        assert occurrence_at(june, utc(2026, 5, 31, 12)) is None
        assert occurrence_at(june, utc(2026, 6, 1, 12)) is not None
        assert occurrence_at(june, utc(2026, 6, 3, 12)) is None

    def test_the_last_occurrence_before_end_date_may_run_past_it(self) -> None:
        nights = window(start="22:00", end="02:00", end_date=date(2026, 6, 3))

        last = occurrence_at(nights, utc(2026, 6, 3, 1))
        after = next_occurrence(nights, utc(2026, 6, 3, 2))

        assert last is not None
        assert last.start == utc(2026, 6, 2, 22)
        assert after is None

    def test_next_occurrence_is_none_once_end_date_has_passed(self) -> None:
        ended = window(end_date=date(2026, 1, 1))

        assert next_occurrence(ended, utc(2026, 5, 5)) is None
        assert schedule(ended, utc(2026, 5, 5)).occurrence is None

    def test_next_occurrence_is_the_current_one_while_it_runs(self) -> None:
        occurrence = next_occurrence(GREEN_HOUR, utc(2026, 5, 5, 15, 30))

        assert occurrence == Occurrence(
            GREEN_HOUR, utc(2026, 5, 5, 14), utc(2026, 5, 5, 17)
        )

    def test_next_occurrence_jumps_to_a_start_date_years_ahead(self) -> None:
        later = window(start="10:00", end="14:00", start_date=date(2029, 1, 1))

        occurrence = next_occurrence(later, utc(2026, 5, 5))

        assert occurrence is not None
        assert occurrence.start == utc(2029, 1, 1, 10)

    def test_next_occurrence_reaches_the_last_years_of_the_calendar_at_once(
        self,
    ) -> None:
        far = window(start="10:00", end="14:00", start_date=date(9999, 6, 1))

        occurrence = next_occurrence(far, utc(2026, 5, 5))

        assert occurrence is not None
        assert occurrence.start == utc(9999, 6, 1, 10)

    def test_an_occurrence_past_the_end_of_the_calendar_does_not_exist(self) -> None:
        last_night = window(
            start="22:00",
            end="02:00",
            timezone="Asia/Kolkata",
            start_date=date(9999, 12, 31),
        )

        assert next_occurrence(last_night, utc(2026, 5, 5)) is None
        assert schedule(last_night, utc(9999, 12, 31, 23, 59)).occurrence is None


class TestHubs:
    def test_a_window_limited_to_hubs_applies_only_at_those_hubs(self) -> None:
        promo = window(
            "promo",
            start="13:00",
            end="15:00",
            hub_ids=("hub-a",),
            multiplier=Decimal(10),
        )
        catalog = [*default_windows(), promo]
        instant = utc(2026, 5, 5, 14, 30)

        assert applying_window(catalog, instant, "hub-a") == promo
        assert applying_window(catalog, instant, "hub-b") == GREEN_HOUR
        assert applying_window(catalog, instant) == promo

    def test_a_window_without_hubs_applies_at_every_hub(self) -> None:
        assert applying_window([GREEN_HOUR], utc(2026, 5, 5, 15), "any-hub") == (
            GREEN_HOUR
        )


class TestOverlapRule:
    def test_the_higher_price_times_multiplier_wins_an_overlap(self) -> None:
        cheap_but_doubled = window(
            "a", price_per_kwh=Decimal("0.04"), multiplier=Decimal("2")
        )
        dear = window("b", price_per_kwh=Decimal("0.10"), multiplier=Decimal("1"))

        applying = applying_window([cheap_but_doubled, dear], utc(2026, 5, 5, 19))

        assert applying == dear

    @pytest.mark.parametrize("order", [1, -1], ids=["alpha_first", "beta_first"])
    def test_a_tie_goes_to_the_smaller_id_in_any_catalog_order(
        self, order: int
    ) -> None:
        alpha = window("alpha", price_per_kwh=Decimal("0.08"), multiplier=Decimal(2))
        beta = window("beta", price_per_kwh=Decimal("0.16"), multiplier=Decimal(1))

        applying = applying_window([alpha, beta][::order], utc(2026, 5, 5, 19))

        assert applying == alpha

    def test_rates_are_compared_exactly_beyond_the_decimal_precision(self) -> None:
        a_hair_more = Decimal("1.00000000000000000000000000001")
        plain = window("a-plain", price_per_kwh=Decimal(1))
        dearer = window("b-dearer", price_per_kwh=a_hair_more)

        applying = applying_window([plain, dearer], utc(2026, 5, 5, 19))

        assert applying == dearer

    def test_a_window_is_active_even_when_another_applies(self) -> None:
        instant = utc(2026, 5, 5, 14, 30)
        wider = window("wider", start="09:00", end="16:00", timezone="UTC")

        listed = {s.window.id: s.active_now for s in listing_order([wider], instant)}
        applying = applying_window([wider, *default_windows()], instant)

        assert listed == {"wider": True}
        assert applying == GREEN_HOUR


class TestApplyingPeriods:
    def test_a_session_across_fourteen_utc_is_cut_in_two(self) -> None:
        periods = applying_periods(
            default_windows(), utc(2026, 5, 5, 13), utc(2026, 5, 5, 15)
        )

        assert [(s, e) for s, e, _ in periods] == [
            (utc(2026, 5, 5, 13), utc(2026, 5, 5, 14)),
            (utc(2026, 5, 5, 14), utc(2026, 5, 5, 15)),
        ]
        assert ids(periods) == ["solar_surplus", "green_hour"]

    def test_time_outside_every_window_is_a_period_without_one(self) -> None:
        periods = applying_periods(
            default_windows(), utc(2026, 5, 5, 16), utc(2026, 5, 6, 11)
        )

        assert ids(periods) == ["green_hour", None, "solar_surplus"]
        assert periods[1][:2] == (utc(2026, 5, 5, 17), utc(2026, 5, 6, 10))

    def test_an_occurrence_wholly_shadowed_by_a_better_one_has_no_period(
        self,
    ) -> None:
        shadowed = window("shadowed", start="11:00", end="12:00", timezone="UTC")
        shadowed = msgspec.structs.replace(shadowed, price_per_kwh=Decimal("0.01"))

        periods = applying_periods(
            [SOLAR_SURPLUS, shadowed], utc(2026, 5, 5, 9), utc(2026, 5, 5, 15)
        )

        assert ids(periods) == [None, "solar_surplus", None]
        assert periods[1][:2] == (utc(2026, 5, 5, 10), utc(2026, 5, 5, 14))

    def test_a_better_window_inside_another_splits_it_in_three(self) -> None:
        boost = window("boost", start="11:00", end="12:00", multiplier=Decimal(3))

        periods = applying_periods(
            [SOLAR_SURPLUS, boost], utc(2026, 5, 5, 10), utc(2026, 5, 5, 14)
        )

        assert ids(periods) == ["solar_surplus", "boost", "solar_surplus"]
        assert periods[0][2] == periods[2][2]

    def test_consecutive_occurrences_of_one_window_are_separate_periods(
        self,
    ) -> None:
        # On the spring-forward night 02:00 and 02:30 are both the same instant.
        around_the_clock = window(
            start="02:30", end="02:00", timezone="America/Los_Angeles"
        )

        periods = applying_periods(
            [around_the_clock], utc(2026, 3, 8, 9), utc(2026, 3, 8, 11)
        )

        assert [(s, e) for s, e, _ in periods] == [
            (utc(2026, 3, 8, 9), utc(2026, 3, 8, 10)),
            (utc(2026, 3, 8, 10), utc(2026, 3, 8, 11)),
        ]
        assert ids(periods) == ["evening", "evening"]
        assert periods[0][2] != periods[1][2]

    def test_a_session_of_forty_three_days_is_cut_at_every_boundary(self) -> None:
        start = utc(2026, 1, 1)

        periods = applying_periods(default_windows(), start, start + timedelta(43))

        assert len(periods) == 1 + 43 * 3
        assert periods[0][0] == start
        assert periods[-1][1] == start + timedelta(43)
        assert ids(periods).count("green_hour") == 43

    def test_an_empty_interval_has_no_periods(self) -> None:
        instant = utc(2026, 5, 5, 12)

        assert applying_periods(default_windows(), instant, instant) == []

    def test_periods_are_given_in_utc_whatever_the_zone_of_the_bounds(self) -> None:
        paris_summer = timezone(timedelta(hours=2))

        periods = applying_periods(
            default_windows(),
            datetime(2026, 5, 5, 15, tzinfo=paris_summer),
            datetime(2026, 5, 5, 17, tzinfo=paris_summer),
        )

        assert [(s, e) for s, e, _ in periods] == [
            (utc(2026, 5, 5, 13), utc(2026, 5, 5, 14)),
            (utc(2026, 5, 5, 14), utc(2026, 5, 5, 15)),
        ]
        assert all(s.tzinfo is UTC and e.tzinfo is UTC for s, e, _ in periods)


class TestClockChanges:
    LOS_ANGELES = "America/Los_Angeles"
    LONDON = "Europe/London"

    def test_a_start_in_the_spring_gap_begins_when_the_gap_ends(self) -> None:
        early = window(start="02:30", end="04:00", timezone=self.LOS_ANGELES)

        occurrence = next_occurrence(early, utc(2026, 3, 8, 9))

        assert occurrence is not None
        assert (occurrence.start, occurrence.end) == (
            utc(2026, 3, 8, 10),
            utc(2026, 3, 8, 11),
        )

    def test_an_end_in_the_spring_gap_is_when_the_gap_ends(self) -> None:
        early = window(start="01:00", end="02:30", timezone=self.LOS_ANGELES)

        occurrence = next_occurrence(early, utc(2026, 3, 8, 8))

        assert occurrence is not None
        assert (occurrence.start, occurrence.end) == (
            utc(2026, 3, 8, 9),
            utc(2026, 3, 8, 10),
        )

    def test_a_window_wholly_inside_the_spring_gap_skips_that_day(self) -> None:
        skipped = window(start="02:10", end="02:40", timezone=self.LOS_ANGELES)

        occurrence = next_occurrence(skipped, utc(2026, 3, 8, 8))

        assert occurrence is not None
        assert occurrence.start == utc(2026, 3, 9, 9, 10)

    def test_a_start_in_the_autumn_fold_counts_its_first_reading(self) -> None:
        early = window(start="01:30", end="03:00", timezone=self.LOS_ANGELES)

        occurrence = next_occurrence(early, utc(2026, 11, 1, 7))

        assert occurrence is not None
        assert (occurrence.start, occurrence.end) == (
            utc(2026, 11, 1, 8, 30),
            utc(2026, 11, 1, 11),
        )

    def test_the_second_reading_of_a_folded_hour_is_outside_the_window(
        self,
    ) -> None:
        early = window(start="01:00", end="01:45", timezone=self.LOS_ANGELES)

        first_reading = occurrence_at(early, utc(2026, 11, 1, 8, 30))
        second_reading = occurrence_at(early, utc(2026, 11, 1, 9, 30))

        assert first_reading is not None
        assert second_reading is None

    def test_an_evening_window_moves_an_hour_earlier_in_utc_in_spring(self) -> None:
        evening = window(start="18:00", end="21:00", timezone=self.LOS_ANGELES)

        found = occurrences_between(evening, utc(2026, 3, 7, 12), utc(2026, 3, 9, 12))

        assert [o.start for o in found] == [utc(2026, 3, 8, 2), utc(2026, 3, 9, 1)]

    @pytest.mark.parametrize(
        ("first_night", "hours"),
        [(date(2026, 3, 7), 7), (date(2026, 10, 31), 9), (date(2026, 5, 5), 8)],
        ids=["spring_forward", "fall_back", "ordinary"],
    )
    def test_a_night_window_lasts_as_long_as_the_clocks_allow(
        self, first_night: date, hours: int
    ) -> None:
        night = window(
            start="22:00", end="06:00", timezone=self.LOS_ANGELES, days=(6, 2)
        )
        instant = datetime.combine(first_night, time(12), UTC)

        occurrence = next_occurrence(night, instant)

        assert occurrence is not None
        assert occurrence.end - occurrence.start == timedelta(hours=hours)

    def test_a_start_in_the_london_spring_gap_begins_at_two_bst(self) -> None:
        early = window(start="01:30", end="03:00", timezone=self.LONDON)

        occurrence = next_occurrence(early, utc(2026, 3, 29))

        assert occurrence is not None
        assert (occurrence.start, occurrence.end) == (
            utc(2026, 3, 29, 1),
            utc(2026, 3, 29, 2),
        )

    def test_a_start_in_the_london_autumn_fold_is_read_in_bst(self) -> None:
        early = window(start="01:30", end="03:00", timezone=self.LONDON)

        occurrence = next_occurrence(early, utc(2026, 10, 25))

        assert occurrence is not None
        assert (occurrence.start, occurrence.end) == (
            utc(2026, 10, 25, 0, 30),
            utc(2026, 10, 25, 3),
        )

    def test_a_london_morning_window_starts_at_nine_utc_in_summer(self) -> None:
        morning = window(start="10:00", end="14:00", timezone=self.LONDON)

        found = occurrences_between(morning, utc(2026, 3, 28), utc(2026, 3, 30))

        assert [o.start for o in found] == [utc(2026, 3, 28, 10), utc(2026, 3, 29, 9)]

    def test_the_schedule_is_the_same_whatever_the_process_time_zone(
        self, process_time_zone: Callable[[str], None]
    ) -> None:
        early = window(start="01:30", end="03:00", timezone=self.LOS_ANGELES)
        catalog = [early, *default_windows()]
        instant = utc(2026, 11, 1, 9, 15)
        answers = []

        for zone in ("UTC", "Asia/Tokyo", "America/Los_Angeles", "Europe/London"):
            process_time_zone(zone)
            answers.append(
                (
                    listing_order(catalog, instant),
                    applying_periods(catalog, instant, instant + timedelta(days=1)),
                )
            )

        assert all(answer == answers[0] for answer in answers)
        assert answers[0][0][0].active_now


class TestListing:
    def test_windows_are_listed_by_utc_start_time_then_id_finished_last(
        self,
    ) -> None:
        catalog = [
            GREEN_HOUR,
            window("z-done", start="01:00", end="02:00", end_date=date(2026, 1, 1)),
            window("a-done", start="03:00", end="04:00", end_date=date(2026, 1, 1)),
            window(
                "pacific", start="06:00", end="07:00", timezone="America/Los_Angeles"
            ),
            window("an-early", start="10:00", end="11:00"),
            SOLAR_SURPLUS,
            window("night", start="23:30", end="01:00"),
        ]

        listed = listing_order(catalog, utc(2026, 5, 5, 12))

        assert [s.window.id for s in listed] == [
            "an-early",
            "solar_surplus",
            "pacific",
            "green_hour",
            "night",
            "a-done",
            "z-done",
        ]

    def test_the_listing_moves_with_the_clock_change_of_a_local_window(self) -> None:
        pacific = window(
            "pacific", start="06:00", end="07:00", timezone="America/Los_Angeles"
        )

        winter = listing_order([pacific, GREEN_HOUR], utc(2026, 1, 5, 12))
        summer = listing_order([pacific, GREEN_HOUR], utc(2026, 7, 5, 12))

        assert [s.window.id for s in winter] == ["green_hour", "pacific"]
        assert [s.window.id for s in summer] == ["pacific", "green_hour"]

    def test_a_schedule_gives_the_current_occurrence_while_active(self) -> None:
        entry = schedule(SOLAR_SURPLUS, utc(2026, 5, 5, 11))

        assert entry.active_now
        assert entry.occurrence == Occurrence(
            SOLAR_SURPLUS, utc(2026, 5, 5, 10), utc(2026, 5, 5, 14)
        )


class TestInstants:
    def test_a_naive_instant_is_refused(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            occurrence_at(SOLAR_SURPLUS, datetime(2026, 5, 5, 12))

    def test_an_instant_in_another_offset_is_the_same_instant(self) -> None:
        new_york_summer = timezone(timedelta(hours=-4))

        applying = applying_occurrence(
            default_windows(), datetime(2026, 5, 5, 9, 59, tzinfo=new_york_summer)
        )

        assert applying is not None
        assert applying.window == SOLAR_SURPLUS


class TestValidation:
    def test_the_default_windows_are_valid(self) -> None:
        assert [validate_window(w) for w in default_windows()] == list(
            default_windows()
        )

    def test_every_broken_field_is_named(self) -> None:
        broken = window(
            "Not An Id",
            start="10:00",
            end="10:00",
            label="",
            timezone="Mars/Olympus_Mons",
            days=(0, 8),
            start_date=date(2026, 6, 1),
            end_date=date(2026, 6, 1),
            hub_ids=("",),
            price_per_kwh=Decimal("10.01"),
            multiplier=Decimal("-1"),
        )

        with pytest.raises(ValidationFailed) as raised:
            validate_window(broken)

        assert {error.field for error in raised.value.errors} == {
            "id",
            "label",
            "timezone",
            "end_local",
            "days",
            "end_date",
            "hub_ids",
            "price_per_kwh",
            "multiplier",
        }
        assert raised.value.code == "validation_error"

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("timezone", "America"),
            ("timezone", "localtime"),
            ("timezone", "x" * 300),
            ("timezone", "../UTC"),
            ("timezone", ""),
            ("start_local", time(10, 0, 30)),
            ("days", ()),
            ("days", (1, 1)),
            ("price_per_kwh", Decimal("NaN")),
            ("multiplier", Decimal("Infinity")),
            ("label", "tab\there"),
            ("id", "x" * 65),
        ],
        ids=[
            "zone_directory",
            "machine_zone",
            "long_zone",
            "relative_zone",
            "empty_zone",
            "seconds",
            "no_days",
            "repeated_day",
            "nan_price",
            "infinite_multiplier",
            "control_character",
            "long_id",
        ],
    )
    def test_a_bad_value_is_refused_naming_its_field(
        self, field: str, value: object
    ) -> None:
        bad = msgspec.structs.replace(GREEN_HOUR, **{field: value})

        with pytest.raises(ValidationFailed) as raised:
            validate_window(bad)

        assert [error.field for error in raised.value.errors] == [field]

    def test_a_window_in_any_real_zone_is_valid(self) -> None:
        kolkata = msgspec.structs.replace(GREEN_HOUR, timezone="Asia/Kolkata")

        assert validate_window(kolkata) == kolkata
