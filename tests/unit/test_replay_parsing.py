"""Reading session files: every row is a session to replay or a counted skip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from nerava.replay.parsing import (
    INVALID_ENERGY,
    INVALID_TIMES,
    MISSING_HUB,
    MISSING_USER,
    ChargeSession,
    FileFormat,
    UnknownFormat,
    detect_format,
    parse_rows,
    read_sessions,
)

DATA = Path(__file__).resolve().parent.parent / "data"
PALO_ALTO = DATA / "palo_alto_sample.csv"
ACN = DATA / "acn_sample.csv"

PALO_ALTO_HEADER = (
    "Station Name",
    "Start Date",
    "Start Time Zone",
    "End Date",
    "End Time Zone",
    "Charging Time (hh:mm:ss)",
    "Energy (kWh)",
    "User ID",
)


def _utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def _by_row(sessions: tuple[ChargeSession, ...]) -> dict[int, ChargeSession]:
    return {session.row: session for session in sessions}


def _palo_alto_row(**overrides: str) -> dict[str, str | None]:
    row: dict[str, str | None] = {
        "Station Name": "PALO ALTO CA / HIGH #4",
        "Start Date": "8/2/2011 5:00",
        "Start Time Zone": "PDT",
        "End Date": "8/2/2011 9:00",
        "End Time Zone": "PDT",
        "Charging Time (hh:mm:ss)": "3:00:00",
        "Energy (kWh)": "8.5",
        "User ID": "106",
    }
    row.update(overrides)
    return row


def _one_palo_alto(**overrides: str) -> ChargeSession | str:
    parsed = parse_rows([_palo_alto_row(**overrides)], PALO_ALTO_HEADER)
    if parsed.sessions:
        return parsed.sessions[0]
    (reason,) = parsed.skipped
    return reason


class TestPaloAltoSample:
    def test_every_row_is_a_session_or_a_counted_skip(self) -> None:
        parsed = read_sessions(PALO_ALTO)

        assert parsed.format is FileFormat.PALO_ALTO
        assert parsed.rows == 17
        assert sorted(_by_row(parsed.sessions)) == [1, 2, 5, 6, 7, 8, 9, 15, 16, 17]
        assert parsed.skipped == {MISSING_USER: 2, INVALID_ENERGY: 3, INVALID_TIMES: 2}

    def test_the_byte_order_mark_does_not_hide_the_station_column(self) -> None:
        assert PALO_ALTO.read_bytes().startswith(b"\xef\xbb\xbf")

        session = _by_row(read_sessions(PALO_ALTO).sessions)[1]

        assert session.hub_id == "PALO ALTO CA / HAMILTON #1"

    def test_pdt_is_seven_hours_behind_utc(self) -> None:
        session = _by_row(read_sessions(PALO_ALTO).sessions)[1]

        assert session.started_at == _utc(2011, 7, 29, 11, 15)
        assert session.stopped_at == _utc(2011, 7, 29, 13, 20)

    def test_pst_is_eight_hours_behind_utc(self) -> None:
        session = _by_row(read_sessions(PALO_ALTO).sessions)[2]

        assert session.started_at == _utc(2012, 1, 10, 14, 30)

    def test_a_time_in_the_spring_forward_gap_is_read_at_its_labels_offset(
        self,
    ) -> None:
        session = _by_row(read_sessions(PALO_ALTO).sessions)[5]

        # 2:57 PDT does not exist on 10 March 2013; at UTC-7 it is 9:57Z,
        # 27 minutes after the 1:30 PST plug-in, as the file's duration says.
        assert session.stopped_at == _utc(2013, 3, 10, 9, 57)
        assert session.stopped_at - session.started_at == timedelta(minutes=27)

    def test_a_session_changing_label_from_pst_to_pdt_keeps_its_real_length(
        self,
    ) -> None:
        session = _by_row(read_sessions(PALO_ALTO).sessions)[15]

        assert session.started_at == _utc(2012, 3, 11, 7, 0)
        assert session.stopped_at == _utc(2012, 3, 11, 11, 10)

    def test_a_multi_day_session_runs_from_plug_in_to_plug_out(self) -> None:
        session = _by_row(read_sessions(PALO_ALTO).sessions)[6]

        assert session.stopped_at - session.started_at == timedelta(
            days=2, hours=6, minutes=35
        )
        assert session.charged_until == session.started_at + timedelta(
            hours=2, minutes=10
        )

    def test_a_session_ending_as_it_starts_is_kept(self) -> None:
        session = _by_row(read_sessions(PALO_ALTO).sessions)[7]

        assert session.stopped_at == session.started_at

    def test_energy_and_driver_are_kept_exactly_as_written(self) -> None:
        session = _by_row(read_sessions(PALO_ALTO).sessions)[1]

        assert str(session.kwh) == "6.249457"
        assert session.user_id == "101"

    def test_overlapping_sessions_of_one_driver_are_both_read(self) -> None:
        sessions = _by_row(read_sessions(PALO_ALTO).sessions)

        assert sessions[8].user_id == sessions[9].user_id == "106"
        assert sessions[9].started_at < sessions[8].stopped_at


class TestAcnSample:
    def test_every_row_is_a_session_or_a_counted_skip(self) -> None:
        parsed = read_sessions(ACN)

        assert parsed.format is FileFormat.ACN
        assert parsed.rows == 14
        assert sorted(_by_row(parsed.sessions)) == [1, 2, 4, 5, 6, 12, 13]
        assert parsed.skipped == {MISSING_USER: 1, INVALID_ENERGY: 4, INVALID_TIMES: 2}

    def test_rfc_1123_times_are_utc(self) -> None:
        session = _by_row(read_sessions(ACN).sessions)[1]

        assert session.started_at == _utc(2021, 1, 1, 11, 0, 0)
        assert session.stopped_at == _utc(2021, 1, 1, 13, 30, 0)

    def test_zero_padded_driver_ids_keep_their_zeros(self) -> None:
        session = _by_row(read_sessions(ACN).sessions)[1]

        assert session.user_id == "000000838"
        assert session.hub_id == "2-39-139-28"

    def test_energy_stops_flowing_when_charging_is_done(self) -> None:
        sessions = _by_row(read_sessions(ACN).sessions)

        assert sessions[1].charged_until == _utc(2021, 1, 1, 12, 45, 10)

    def test_a_blank_or_late_done_charging_time_means_charging_until_unplugged(
        self,
    ) -> None:
        sessions = _by_row(read_sessions(ACN).sessions)

        assert sessions[2].charged_until == sessions[2].stopped_at
        assert sessions[4].charged_until == sessions[4].stopped_at

    def test_quoted_user_inputs_with_several_entries_do_not_split_the_row(
        self,
    ) -> None:
        session = _by_row(read_sessions(ACN).sessions)[12]

        assert session.kwh == Decimal("30.1")
        assert session.hub_id == "2-39-81-4550"


class TestSkips:
    @pytest.mark.parametrize("user", ["", "   ", "0"])
    def test_a_row_without_a_driver_is_skipped_as_missing_user(self, user: str) -> None:
        assert _one_palo_alto(**{"User ID": user}) == MISSING_USER

    @pytest.mark.parametrize(
        "kwh", ["", "0", "0.000", "-1.5", "abc", "NaN", "Infinity", "0.0004"]
    )
    def test_energy_that_is_no_positive_watt_hour_count_is_invalid(
        self, kwh: str
    ) -> None:
        assert _one_palo_alto(**{"Energy (kWh)": kwh}) == INVALID_ENERGY

    def test_half_a_watt_hour_rounds_up_and_is_kept(self) -> None:
        session = _one_palo_alto(**{"Energy (kWh)": "0.0005"})

        assert isinstance(session, ChargeSession)
        assert session.kwh == Decimal("0.0005")

    @pytest.mark.parametrize(
        "overrides",
        [
            {"Start Date": "13/45/2012 25:99"},
            {"Start Date": ""},
            {"End Date": "8/2/11 9:00"},
            {"Start Time Zone": "EST"},
            {"End Time Zone": ""},
            {"End Date": "8/2/2011 4:59"},
        ],
    )
    def test_unreadable_times_or_a_stop_before_the_start_are_invalid_times(
        self, overrides: dict[str, str]
    ) -> None:
        assert _one_palo_alto(**overrides) == INVALID_TIMES

    def test_a_driver_and_times_are_checked_before_energy(self) -> None:
        assert _one_palo_alto(**{"User ID": "0", "Energy (kWh)": "0"}) == MISSING_USER
        assert (
            _one_palo_alto(**{"Start Date": "x", "Energy (kWh)": "0"}) == INVALID_TIMES
        )

    def test_times_at_the_edge_of_the_calendar_are_invalid_not_fatal(self) -> None:
        assert _one_palo_alto(**{"End Date": "12/31/9999 23:00"}) == INVALID_TIMES

    def test_an_absurd_charging_time_only_loses_the_charging_estimate(self) -> None:
        session = _one_palo_alto(**{"Charging Time (hh:mm:ss)": "99999999999:00:00"})

        assert isinstance(session, ChargeSession)
        assert session.charged_until == session.stopped_at

    def test_a_row_without_a_station_is_skipped_as_missing_hub(self) -> None:
        assert _one_palo_alto(**{"Station Name": " "}) == MISSING_HUB

    def test_a_short_record_is_skipped_not_fatal(self) -> None:
        row = _palo_alto_row()
        row["End Date"] = None

        parsed = parse_rows([row], PALO_ALTO_HEADER)

        assert parsed.skipped == {INVALID_TIMES: 1}

    def test_seconds_and_extra_spaces_in_a_label_are_understood(self) -> None:
        session = _one_palo_alto(
            **{"Start Date": "8/2/2011 5:00:30", "Start Time Zone": " pdt "}
        )

        assert isinstance(session, ChargeSession)
        assert session.started_at == _utc(2011, 8, 2, 12, 0, 30)


class TestFormats:
    def test_the_layout_is_told_from_the_header(self) -> None:
        assert detect_format(PALO_ALTO_HEADER) is FileFormat.PALO_ALTO
        assert (
            detect_format(
                [
                    "stationID",
                    "connectionTime",
                    "disconnectTime",
                    "kWhDelivered",
                    "userID",
                ]
            )
            is FileFormat.ACN
        )

    def test_an_unknown_header_names_what_each_layout_needs(self) -> None:
        with pytest.raises(UnknownFormat, match="connectionTime"):
            detect_format(["a", "b"])

    def test_a_file_read_as_the_wrong_layout_names_the_missing_columns(self) -> None:
        with pytest.raises(UnknownFormat, match=r"missing column.*stationID"):
            read_sessions(PALO_ALTO, FileFormat.ACN)
