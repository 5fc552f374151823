"""``nerava replay`` on the command line: report, plot, exit status, messages."""

from __future__ import annotations

import struct
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner, Result

from nerava.entrypoints.cli.replay import replay
from nerava.replay.embedded import EmbeddedServiceFailed, embedded_service
from tests.unit.test_replay_fake_service import KEY, FakeNerava

DATA = Path(__file__).resolve().parent.parent / "data"
PALO_ALTO = DATA / "palo_alto_sample.csv"
ACN = DATA / "acn_sample.csv"


def _run(fake: FakeNerava, *args: str) -> Result:
    return CliRunner().invoke(replay, [*args, "--key", KEY], obj=fake.transport())


def test_the_report_accounts_for_every_row(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"

    result = _run(FakeNerava(), str(ACN), "--report", str(report_path))

    assert result.exit_code == 0, result.output
    report = msgspec.json.decode(report_path.read_bytes())
    assert report["rows"] == report["sessions_replayed"] + sum(
        report["skipped"].values()
    )
    assert report["wallet_check"] == "ok"
    assert report["total_reward_cents"] == report["wallet_total_cents"] == 771


def test_the_summary_names_the_totals_and_the_skips() -> None:
    result = _run(FakeNerava(), str(PALO_ALTO))

    assert result.exit_code == 0, result.output
    assert "Replay summary" in result.output
    assert "$10.64" in result.output
    assert "session_already_active" in result.output


def test_the_plot_is_a_png_worth_looking_at(tmp_path: Path) -> None:
    plot_path = tmp_path / "plot.png"

    result = _run(FakeNerava(), str(PALO_ALTO), "--plot", str(plot_path))

    assert result.exit_code == 0, result.output
    head = plot_path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    assert width >= 1000
    assert height >= 700


def test_a_wallet_that_did_not_rise_as_paid_fails_the_command() -> None:
    fake = FakeNerava(double_credit_users={"113"})

    result = _run(fake, str(PALO_ALTO))

    assert result.exit_code == 1
    assert "wallet 113" in result.output


def test_a_target_refusing_at_stops_with_a_clear_message() -> None:
    result = _run(FakeNerava(allow_at=False), str(PALO_ALTO))

    assert result.exit_code == 1
    assert "ENERGYHUB_ALLOW_DEMO_AT=true" in result.output


def test_a_file_of_no_known_layout_is_a_usage_error(tmp_path: Path) -> None:
    strange = tmp_path / "strange.csv"
    strange.write_text("a,b\n1,2\n")

    result = _run(FakeNerava(), str(strange))

    assert result.exit_code == 2
    assert "no known layout" in result.output


def test_a_forced_format_that_does_not_fit_names_the_missing_columns() -> None:
    result = _run(FakeNerava(), str(PALO_ALTO), "--format", "acn")

    assert result.exit_code == 2
    assert "stationID" in result.output


def test_an_embedded_service_that_cannot_start_says_why() -> None:
    with (
        pytest.raises(EmbeddedServiceFailed, match="MAX_SESSION_KWH"),
        embedded_service(environ={"MAX_SESSION_KWH": "lots"}),
    ):
        pass
