"""Replaying sample files through a service, and the report of what was earned.

The expected reports are worked out by hand from the sample files, with the
default windows (``solar_surplus`` 10:00-14:00Z at 0.03 $/kWh x1 = 3 c/kWh,
``green_hour`` 14:00-17:00Z at 0.08 $/kWh x2 = 16 c/kWh), the policy
``window_at_start`` (the window active at plug-in pays all the energy), and a
co-fund of 75 cents per session. kWh is first rounded half-up to watt-hours,
then grid cents = kWh x rate, rounded half-up.
"""

from __future__ import annotations

from collections import defaultdict, deque
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import httpx
import msgspec
import pytest

from nerava.replay.client import NeravaClient, ReplayAborted
from nerava.replay.parsing import ParsedFile, read_sessions
from nerava.replay.report import Report, Totals, build_report, encode_report
from nerava.replay.runner import Replayed, replay_sessions
from tests.unit.test_replay_fake_service import (
    KEY,
    STOP,
    FakeNerava,
    no_wait,
    real_app,
)

DATA = Path(__file__).resolve().parent.parent / "data"
PALO_ALTO = DATA / "palo_alto_sample.csv"
ACN = DATA / "acn_sample.csv"


async def _replay(
    fake: FakeNerava,
    parsed: ParsedFile,
    *,
    concurrency: int = 8,
    run_id: str = "run",
    settle_timeout_s: float = 5,
) -> Replayed:
    async with httpx.AsyncClient(
        transport=fake.transport(), base_url="http://nerava.local"
    ) as http:
        client = NeravaClient(http, key=KEY, sleep=no_wait)
        return await replay_sessions(
            parsed.sessions,
            client,
            concurrency=concurrency,
            settle_timeout_s=settle_timeout_s,
            run_id=run_id,
        )


async def _report(fake: FakeNerava, path: Path, concurrency: int = 8) -> Report:
    parsed = read_sessions(path)
    replayed = await _replay(fake, parsed, concurrency=concurrency)
    return build_report(parsed, replayed, file=path, target="fake")


def _totals(sessions: int, kwh: str, grid: int) -> Totals:
    return Totals(
        sessions=sessions,
        kwh=Decimal(kwh),
        grid_reward_cents=grid,
        merchant_reward_cents=75 * sessions,
        total_reward_cents=grid + 75 * sessions,
    )


@pytest.fixture
def fake() -> FakeNerava:
    return FakeNerava()


class TestPaloAltoSampleReport:
    # Row  plug-in (UTC)       window         kWh (rounded)      grid cents
    #  1   2011-07-29 11:15    solar_surplus  6.249457 -> 6.249  x3  = 18.747 -> 19
    #  2   2012-01-10 14:30    green_hour     15.5               x16 = 248
    #  5   2013-03-10 09:30    none           2.0005 -> 2.001        0
    #  6   2012-03-27 10:05    solar_surplus  0.48               x3  = 1.44 -> 1
    #  7   2011-08-01 14:00    green_hour     0.0125 -> 0.013    x16 = 0.208 -> 0
    #  8   2011-08-02 12:00    solar_surplus  8.5                x3  = 25.5 -> 26
    #  9   2011-08-02 13:00    refused: driver 106 is still charging (row 8)
    # 15   2012-03-11 07:00    none           9.999                  0
    # 16   2011-08-04 10:00    solar_surplus  10                 x3  = 30
    # 17   2011-08-04 14:00    green_hour     4.0625 -> 4.063    x16 = 65.008 -> 65
    #      (row 16 stops at 14:00 the instant row 17 starts: stop first.)
    # Replayed 9: kWh 6.249+15.5+2.001+0.48+0.013+8.5+9.999+10+4.063 = 56.805;
    # grid 19+248+0+1+0+26+0+30+65 = 389; co-fund 9 x 75 = 675; total 1064.
    # Skipped 8: missing_user 2 (rows 3, 4), invalid_energy 3 (10-12),
    # invalid_times 2 (13, 14), session_already_active 1 (row 9).
    # solar_surplus: rows 1, 6, 8, 16: 4 sessions, 25.229 kWh, 19+1+26+30 = 76
    # green_hour: rows 2, 7, 17: 3 sessions, 19.576 kWh, 248+0+65 = 313
    # none: rows 5, 15: 2 sessions, 12.000 kWh, 0
    # HAMILTON #1: rows 1, 8, 16, 17: 28.812 kWh, 19+26+30+65 = 140

    async def test_totals_match_the_hand_computation(self, fake: FakeNerava) -> None:
        report = await _report(fake, PALO_ALTO)

        assert report.rows == 17
        assert report.sessions_replayed == 9
        assert report.skipped == {
            "invalid_energy": 3,
            "invalid_times": 2,
            "missing_user": 2,
            "session_already_active": 1,
        }
        assert report.kwh_total == Decimal("56.805")
        assert (report.grid_reward_cents, report.merchant_reward_cents) == (389, 675)
        assert report.total_reward_cents == 1064

    async def test_rewards_by_window_match_the_hand_computation(
        self, fake: FakeNerava
    ) -> None:
        report = await _report(fake, PALO_ALTO)

        assert report.by_window == {
            "green_hour": _totals(3, "19.576", 313),
            "solar_surplus": _totals(4, "25.229", 76),
            "none": _totals(2, "12.000", 0),
        }

    async def test_rewards_by_hub_match_the_hand_computation(
        self, fake: FakeNerava
    ) -> None:
        report = await _report(fake, PALO_ALTO)

        assert report.by_hub == {
            "PALO ALTO CA / BRYANT #1": _totals(1, "15.5", 248),
            "PALO ALTO CA / BRYANT #2": _totals(1, "0.013", 0),
            "PALO ALTO CA / HAMILTON #1": _totals(4, "28.812", 140),
            "PALO ALTO CA / HAMILTON #2": _totals(1, "0.48", 1),
            "PALO ALTO CA / HIGH #4": _totals(2, "12.000", 0),
        }

    async def test_every_wallet_rose_by_what_its_stops_returned(
        self, fake: FakeNerava
    ) -> None:
        report = await _report(fake, PALO_ALTO)

        assert report.wallet_check == "ok"
        assert report.wallet_total_cents == report.total_reward_cents == 1064
        # Driver 113: 30 + 75 for row 16, then 65 + 75 for row 17.
        assert fake.balances["113"] == 245


class TestAcnSampleReport:
    # Row  plug-in (UTC)        window         kWh (rounded)      grid cents
    #  1   2021-01-01 11:00:00  solar_surplus  7.123              x3  = 21.369 -> 21
    #  2   2021-01-01 14:59:59  green_hour     10.473             x16 = 167.568 -> 168
    #  4   2021-01-02 17:00:00  none (green hour has just ended)  2.138     0
    #  5   2021-07-02 13:59:59  solar_surplus  41.2345 -> 41.235  x3  = 123.705 -> 124
    #  6   2021-07-03 15:00:00  refused: driver 1746 is still charging (row 5)
    # 12   2021-03-13 20:00:00  none           30.1                   0
    # 13   2021-01-04 16:30:00  green_hour     0.5                x16 = 8
    # Replayed 6: kWh 7.123+10.473+2.138+41.235+30.1+0.5 = 91.569;
    # grid 21+168+0+124+0+8 = 321; co-fund 6 x 75 = 450; total 771.
    # Skipped 8: missing_user 1 (row 3), invalid_energy 4 (7-9, and 14:
    # 0.0004 kWh is no watt-hour), invalid_times 2 (10, 11),
    # session_already_active 1 (row 6).
    # solar_surplus: rows 1, 5: 2 sessions, 48.358 kWh, 145
    # green_hour: rows 2, 13: 2 sessions, 10.973 kWh, 176
    # none: rows 4, 12: 2 sessions, 32.238 kWh, 0
    # 2-39-139-28: rows 1, 5; 2-39-81-4550: rows 2, 12; 2-39-78-365: rows 4, 13

    async def test_the_report_matches_the_hand_computation(
        self, fake: FakeNerava
    ) -> None:
        report = await _report(fake, ACN)

        assert (report.rows, report.sessions_replayed) == (14, 6)
        assert report.skipped == {
            "invalid_energy": 4,
            "invalid_times": 2,
            "missing_user": 1,
            "session_already_active": 1,
        }
        assert report.kwh_total == Decimal("91.569")
        assert (report.grid_reward_cents, report.total_reward_cents) == (321, 771)
        assert report.by_window == {
            "green_hour": _totals(2, "10.973", 176),
            "solar_surplus": _totals(2, "48.358", 145),
            "none": _totals(2, "32.238", 0),
        }
        assert report.by_hub == {
            "2-39-139-28": _totals(2, "48.358", 145),
            "2-39-78-365": _totals(2, "2.638", 8),
            "2-39-81-4550": _totals(2, "40.573", 168),
        }
        assert report.wallet_check == "ok"


class TestReportShape:
    async def test_every_row_is_accounted_for(self, fake: FakeNerava) -> None:
        report = await _report(fake, PALO_ALTO)

        assert report.sessions_replayed + sum(report.skipped.values()) == report.rows

    async def test_the_json_has_the_promised_fields_with_exact_decimals(
        self, fake: FakeNerava
    ) -> None:
        report = await _report(fake, PALO_ALTO)

        document = msgspec.json.decode(encode_report(report))

        for name in (
            "rows",
            "sessions_replayed",
            "skipped",
            "kwh_total",
            "grid_reward_cents",
            "merchant_reward_cents",
            "total_reward_cents",
            "wallet_total_cents",
            "by_window",
            "by_hub",
            "duration_s",
            "sessions_per_second",
            "wallet_check",
        ):
            assert name in document
        assert b'"kwh_total": 56.805' in encode_report(report)
        assert document["by_window"]["none"] == {
            "sessions": 2,
            "kwh": 12.0,
            "grid_reward_cents": 0,
            "merchant_reward_cents": 150,
            "total_reward_cents": 150,
        }

    async def test_energy_by_hour_spreads_each_session_over_its_charging_time(
        self, fake: FakeNerava
    ) -> None:
        report = await _report(fake, ACN)

        # Only row 1 charged in hour 11: 7.123 kWh from 11:00:00 to 12:45:10
        # (6310 s), 3600 s of it in hour 11: 4.06383 -> 4.064. Hour 16 holds
        # row 2 (10.473 kWh over 14:59:59-16:10:00, 4201 s) for 600 s:
        # 1.49578; row 5 (41.235 kWh over 13:59:59-19:00:00, 18001 s, when
        # charging was done) for 3600 s: 8.24649; and row 13's 0.5 kWh at
        # 16:30 sharp: 10.24227 -> 10.242.
        assert report.kwh_by_hour_utc[11] == Decimal("4.064")
        assert report.kwh_by_hour_utc[16] == Decimal("10.242")
        assert float(sum(report.kwh_by_hour_utc)) == pytest.approx(91.569, abs=0.02)

    async def test_the_windows_served_are_kept_for_the_plot(
        self, fake: FakeNerava
    ) -> None:
        report = await _report(fake, ACN)

        assert [(w.id, w.start_utc, w.end_utc) for w in report.windows] == [
            ("solar_surplus", "10:00", "14:00"),
            ("green_hour", "14:00", "17:00"),
        ]


class TestOrderAndConcurrency:
    async def test_one_drivers_events_never_overlap_and_stay_in_time_order(
        self, fake: FakeNerava
    ) -> None:
        await _report(fake, PALO_ALTO, concurrency=16)

        assert fake.overlaps == 0
        times: defaultdict[str, list[datetime]] = defaultdict(list)
        for _, user, at in fake.events:
            times[user].append(at)
        assert all(seen == sorted(seen) for seen in times.values())

    @pytest.mark.parametrize("concurrency", [1, 3, 32])
    async def test_the_outcome_does_not_depend_on_concurrency(
        self, concurrency: int
    ) -> None:
        report = await _report(FakeNerava(), PALO_ALTO, concurrency=concurrency)

        assert (report.sessions_replayed, report.total_reward_cents) == (9, 1064)


class TestFaults:
    async def test_rate_limits_are_waited_out_and_count_as_nothing(
        self, fake: FakeNerava
    ) -> None:
        fake.faults[STOP].extend(["429", "429", "429"])

        report = await _report(fake, PALO_ALTO)

        assert (report.sessions_replayed, report.wallet_check) == (9, "ok")

    async def test_server_faults_and_lost_connections_are_retried(
        self, fake: FakeNerava
    ) -> None:
        fake.faults[STOP].extend(["503", "network", "503"])

        report = await _report(fake, PALO_ALTO)

        assert (report.sessions_replayed, report.wallet_check) == (9, "ok")

    async def test_an_answer_lost_after_the_work_was_done_is_not_done_twice(
        self, fake: FakeNerava
    ) -> None:
        fake.faults["/v1/energyhub/events/charge-start"].append("commit-then-500")
        fake.faults[STOP].append("commit-then-500")

        report = await _report(fake, PALO_ALTO)

        assert report.sessions_replayed == 9
        assert report.skipped["session_already_active"] == 1
        assert report.wallet_check == "ok"
        assert sum(fake.balances.values()) == 1064

    async def test_a_fault_that_outlasts_the_retries_is_counted_and_the_run_goes_on(
        self, fake: FakeNerava
    ) -> None:
        fake.faults[STOP].extend(["503"] * 4)

        report = await _report(fake, PALO_ALTO)

        assert report.skipped["dependency_unavailable"] == 1
        assert report.sessions_replayed == 8
        assert report.sessions_replayed + sum(report.skipped.values()) == 17
        assert report.wallet_check == "ok"

    @pytest.mark.xfail(
        strict=True,
        reason="a start committed but never answered leaves its driver's "
        "session open (Limitation in nerava/replay/runner.py)",
    )
    async def test_a_start_lost_after_it_was_committed_does_not_block_its_driver(
        self, fake: FakeNerava
    ) -> None:
        # Driver 113's first start (row 16) is done but never answered.
        fake.start_faults["113"] = deque(["commit-then-500", "503", "503", "503"])

        report = await _report(fake, PALO_ALTO)

        # Row 16 is lost to the fault; row 17 (same driver) still replays.
        assert report.skipped["dependency_unavailable"] == 1
        assert report.skipped["session_already_active"] == 1
        assert report.sessions_replayed == 8

    async def test_a_refused_stop_is_counted_and_the_session_cancelled(
        self, fake: FakeNerava
    ) -> None:
        fake.refuse_stops_of.add("113")

        report = await _report(fake, PALO_ALTO)

        # Both of driver 113's stops are refused; cancelling the first lets
        # the second start.
        assert report.skipped["implausible_kwh"] == 2
        assert report.sessions_replayed == 7
        assert {s.state for s in fake.sessions.values() if s.user_id == "113"} == {
            "cancelled"
        }
        assert report.wallet_check == "ok"

    async def test_a_wallet_credited_twice_is_reported_as_a_mismatch(
        self, fake: FakeNerava
    ) -> None:
        fake.double_credit_users.add("106")

        report = await _report(fake, PALO_ALTO)

        assert report.wallet_check != "ok"
        assert [
            (m.user_id, m.expected_cents, m.actual_cents) for m in report.wallet_check
        ] == [("106", 101, 202)]

    async def test_a_target_refusing_at_stops_the_run_before_any_event(self) -> None:
        fake = FakeNerava(allow_at=False)

        with pytest.raises(ReplayAborted, match="ENERGYHUB_ALLOW_DEMO_AT"):
            await _report(fake, PALO_ALTO)

        assert fake.events == []

    async def test_a_wrong_key_stops_the_run_with_a_clear_message(self) -> None:
        fake = FakeNerava(key="another-key")

        with pytest.raises(ReplayAborted, match="--key"):
            await _report(fake, PALO_ALTO)

    async def test_an_unreachable_target_stops_the_run_with_a_clear_message(
        self, fake: FakeNerava
    ) -> None:
        fake.faults["/v1/energyhub/windows"].extend(["network"] * 4)

        with pytest.raises(ReplayAborted, match="cannot reach the target"):
            await _report(fake, PALO_ALTO)

    async def test_credits_that_never_land_are_reported_as_pending(
        self, fake: FakeNerava
    ) -> None:
        fake.hold_credits = True
        parsed = read_sessions(ACN)

        replayed = await _replay(fake, parsed, settle_timeout_s=0.2)

        assert {m.user_id: m.pending_cents for m in replayed.mismatches} == {
            "000000838": 96 + 83,
            "000000555": 75,
            "000001082": 75,
            "000001746": 199,
            "000009499": 243,
        }

    async def test_a_wallet_unreadable_at_the_end_is_reported_unread(
        self, fake: FakeNerava
    ) -> None:
        parsed = read_sessions(ACN)
        wallet = "/v1/wallet/000000555"
        # Its baseline read passes; every read after the replay fails.
        fake.faults[wallet].extend(["none"] + ["503"] * 8)

        replayed = await _replay(fake, parsed)

        assert [(m.user_id, m.actual_cents) for m in replayed.mismatches] == [
            ("000000555", None)
        ]


class TestRuns:
    async def test_two_runs_against_one_service_are_both_paid(
        self, fake: FakeNerava
    ) -> None:
        parsed = read_sessions(PALO_ALTO)

        first = await _replay(fake, parsed, run_id="first")
        second = await _replay(fake, parsed, run_id="second")

        assert first.mismatches == second.mismatches == ()
        assert sum(fake.balances.values()) == 2 * 1064

    async def test_baselines_make_a_wallet_with_money_already_in_it_check_out(
        self, fake: FakeNerava
    ) -> None:
        fake.balances["101"] = 5000

        report = await _report(fake, PALO_ALTO)

        assert report.wallet_check == "ok"
        assert fake.balances["101"] == 5000 + 94


class TestAgainstTheApp:
    """The same hand computations, through the real app and its processor."""

    @pytest.mark.parametrize(
        ("path", "replayed", "kwh", "total"),
        [(PALO_ALTO, 9, "56.805", 1064), (ACN, 6, "91.569", 771)],
    )
    async def test_the_app_pays_what_was_worked_out_by_hand(
        self, tmp_path: Path, path: Path, replayed: int, kwh: str, total: int
    ) -> None:
        parsed = read_sessions(path)

        async with real_app(tmp_path, sync_credit=False) as (http, key):
            client = NeravaClient(http, key=key, sleep=no_wait)
            outcome = await replay_sessions(
                parsed.sessions, client, settle_timeout_s=30
            )
        report = build_report(parsed, outcome, file=path, target="app")

        assert report.sessions_replayed == replayed
        assert report.kwh_total == Decimal(kwh)
        assert report.total_reward_cents == total
        assert report.wallet_check == "ok"
        assert report.wallet_total_cents == total
