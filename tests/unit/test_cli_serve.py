"""The parts of ``nerava serve`` that need no server: metrics sharing, logging."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from nerava.config import Settings
from nerava.entrypoints.cli.runtime import (
    configure_logging,
    describe_database,
    is_embedded,
)
from nerava.entrypoints.cli.serve import METRICS_DIR_VARIABLE, shared_metrics
from nerava.entrypoints.http.asgi import forget_dead_processes


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def no_metrics_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(METRICS_DIR_VARIABLE, raising=False)


def dead_pid() -> int:
    finished = subprocess.Popen(["true"])
    finished.wait()
    return finished.pid


@pytest.mark.usefixtures("no_metrics_dir")
def test_several_workers_share_a_fresh_metrics_directory_removed_at_the_end() -> None:
    with shared_metrics(2):
        directory = Path(os.environ[METRICS_DIR_VARIABLE])
        was_empty = list(directory.iterdir()) == []

    assert was_empty
    assert not directory.exists()
    assert METRICS_DIR_VARIABLE not in os.environ


@pytest.mark.usefixtures("no_metrics_dir")
def test_one_worker_keeps_metrics_in_its_own_memory() -> None:
    with shared_metrics(1):
        inside = os.environ.get(METRICS_DIR_VARIABLE)

    assert inside is None


def test_a_metrics_directory_the_operator_chose_is_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(METRICS_DIR_VARIABLE, str(tmp_path))

    with shared_metrics(3):
        inside = os.environ[METRICS_DIR_VARIABLE]

    assert inside == str(tmp_path)
    assert tmp_path.exists()


def test_live_gauges_of_dead_processes_are_dropped_and_others_kept(
    tmp_path: Path,
) -> None:
    dead, alive = dead_pid(), os.getpid()
    for name in (
        f"gauge_livesum_{dead}.db",
        f"gauge_livesum_{alive}.db",
        f"counter_{dead}.db",
    ):
        (tmp_path / name).write_bytes(b"")

    dropped = forget_dead_processes(str(tmp_path))

    assert dropped == [dead]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"counter_{dead}.db",
        f"gauge_livesum_{alive}.db",
    ]


def test_the_database_in_log_lines_never_shows_a_password() -> None:
    settings = Settings(database_url="postgresql://nerava:s3cret@db.internal:5433/prod")

    shown = describe_database(settings)

    assert shown == "postgresql://db.internal:5433/prod"
    assert not is_embedded(settings)


def test_a_sqlite_file_is_the_embedded_default() -> None:
    settings = Settings()

    assert is_embedded(settings)
    assert describe_database(settings) == "sqlite:///./nerava.db"


def test_logging_keeps_loggers_made_before_it_and_writes_to_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    early = logging.getLogger("nerava.test.early")

    configure_logging("INFO")
    early.info("relay started for %r", "outbox")
    early.debug("not at this level")

    err = capsys.readouterr().err
    assert "INFO nerava.test.early: relay started for 'outbox'" in err
    assert "not at this level" not in err
