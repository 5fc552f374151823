"""``nerava replay`` on the real session files, through an embedded service.

Each file is replayed in full by the command as a user runs it: it starts its
own ``nerava serve`` on a fresh SQLite file, sends every start and stop, and
checks every wallet. The files live outside the repository (NERAVA_DATA_DIR,
by default ``../shared/data`` from the repository's root).
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tests import services

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("NERAVA_DATA_DIR", ROOT.parent / "shared" / "data"))
PALO_ALTO = "palo_alto_sessions_2011-07_to_2013-03.csv"
ACN = "acn_caltech_sessions_2021-01_to_2021-09.csv"
SAMPLES = ROOT / "tests" / "data"
# Settings the replay's expectations assume at their defaults.
SETTINGS = (
    "DATABASE_URL",
    "ENABLE_SYNC_CREDIT",
    "ENERGYHUB_ALLOW_DEMO_AT",
    "REWARD_POLICY",
    "MERCHANT_COFUND_CENTS",
    "MAX_SESSION_KWH",
    "MAX_CHARGE_POWER_KW",
    "AUTH_DISABLED",
    "MAX_EVENT_AGE_HOURS",
    "RATE_LIMIT_PER_MINUTE",
    "NERAVA_API_KEY",
)
REPLAY_TIMEOUT_S = 1800

_decode = msgspec.json.Decoder(float_hook=Decimal).decode


@pytest.fixture(scope="module")
def data_dir() -> Path:
    if not DATA_DIR.is_dir():
        services.unavailable(
            "the real session files", f"{DATA_DIR} is absent (set NERAVA_DATA_DIR)"
        )
    return DATA_DIR


def _replay(path: Path, workdir: Path) -> tuple[subprocess.CompletedProcess[str], Any]:
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    env["COLUMNS"] = "120"
    report_path = workdir / f"{path.stem}.json"
    plot_path = workdir / f"{path.stem}.png"
    command = [sys.executable, "-m", "nerava.entrypoints.cli.main", "replay"]
    done = subprocess.run(
        [*command, str(path), "--report", str(report_path), "--plot", str(plot_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=REPLAY_TIMEOUT_S,
        check=False,
    )
    report = _decode(report_path.read_bytes()) if report_path.exists() else None
    return done, report


def _records(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        yield from csv.DictReader(handle)


def _assert_consistent(report: Any) -> None:
    assert (
        report["sessions_replayed"] + sum(report["skipped"].values()) == report["rows"]
    )
    assert report["wallet_check"] == "ok"
    assert report["wallet_total_cents"] == report["total_reward_cents"]
    assert report["total_reward_cents"] == (
        report["grid_reward_cents"] + report["merchant_reward_cents"]
    )
    assert report["merchant_reward_cents"] == 75 * report["sessions_replayed"]
    for groups in (report["by_window"], report["by_hub"]):
        assert (
            sum(g["sessions"] for g in groups.values()) == report["sessions_replayed"]
        )
        assert sum(g["kwh"] for g in groups.values()) == report["kwh_total"]
        assert (
            sum(g["grid_reward_cents"] for g in groups.values())
            == report["grid_reward_cents"]
        )
    assert set(report["by_window"]) <= {"solar_surplus", "green_hour", "none"}
    assert report["by_window"]["green_hour"]["grid_reward_cents"] > 0


@pytest.mark.parametrize(
    ("name", "station", "user", "blank_users"),
    [
        (PALO_ALTO, "Station Name", "User ID", {"", "0"}),
        (ACN, "stationID", "userID", {""}),
    ],
    ids=["palo-alto", "acn"],
)
def test_a_real_file_replays_in_full_and_every_wallet_checks_out(
    data_dir: Path,
    tmp_path: Path,
    name: str,
    station: str,
    user: str,
    blank_users: set[str],
) -> None:
    path = data_dir / name
    records = list(_records(path))

    done, report = _replay(path, tmp_path)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert report["rows"] == len(records)
    _assert_consistent(report)
    no_driver = sum(1 for r in records if r[user].strip() in blank_users)
    assert report["skipped"]["missing_user"] == no_driver
    assert set(report["by_hub"]) <= {r[station] for r in records}
    assert (tmp_path / f"{path.stem}.png").stat().st_size > 20_000
    assert "wallet check" in done.stdout


def test_the_embedded_service_pays_the_sample_as_worked_out_by_hand(
    tmp_path: Path,
) -> None:
    # The hand computation is in tests/unit/test_replay_run.py.
    done, report = _replay(SAMPLES / "palo_alto_sample.csv", tmp_path)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    _assert_consistent(report)
    assert report["kwh_total"] == Decimal("56.805")
    assert report["grid_reward_cents"] == 389
    assert report["total_reward_cents"] == 1064
    assert report["skipped"] == {
        "invalid_energy": 3,
        "invalid_times": 2,
        "missing_user": 2,
        "session_already_active": 1,
    }
