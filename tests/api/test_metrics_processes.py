"""Metrics of several server processes, summed through the shared directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

RECORD = """
from nerava.entrypoints.http import metrics
metrics.request_started()
metrics.record_request("GET", "/healthz", 200, 0.01)
metrics.record_session("started")
"""
STOP = """
from nerava.entrypoints.http import metrics
metrics.request_started()
metrics.process_stopped()
"""
REPORT = """
from nerava.entrypoints.http import metrics
print(metrics.exposition().decode())
"""


def _run(code: str, directory: Path) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def _sample(report: str, prefix: str) -> float:
    line = next(line for line in report.splitlines() if line.startswith(prefix))
    return float(line.rsplit(" ", 1)[1])


def test_every_process_counts_into_one_report(tmp_path: Path) -> None:
    _run(RECORD, tmp_path)
    _run(RECORD, tmp_path)

    report = _run(REPORT, tmp_path)

    requests = 'http_requests_total{method="GET",path="/healthz",status="200"}'
    assert _sample(report, requests) == 2
    assert _sample(report, 'charging_sessions_total{event="started"}') == 2


def test_a_stopped_process_leaves_no_request_in_flight(tmp_path: Path) -> None:
    _run(STOP, tmp_path)

    report = _run(REPORT, tmp_path)

    assert "http_active_requests 1.0" not in report
