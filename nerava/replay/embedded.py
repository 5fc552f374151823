"""Run a throwaway ``nerava serve`` on a fresh SQLite file to replay against.

The service runs as a child process, as it would in production, so the replay
measures the real thing: HTTP, the database and the wallet processor.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import httpx
import msgspec

__all__ = ["EmbeddedService", "EmbeddedServiceFailed", "embedded_service"]

logger = logging.getLogger(__name__)

_CLI: Final = ("-m", "nerava.entrypoints.cli.main")
_LOG_TAIL_CHARS: Final = 2000


class EmbeddedServiceFailed(RuntimeError):
    """The embedded service could not be set up or did not come up."""


class EmbeddedService(msgspec.Struct, frozen=True):
    """Where the embedded service listens, and an admin key for it."""

    url: str
    key: str


@contextmanager
def embedded_service(
    *,
    startup_timeout_s: float = 60.0,
    stop_timeout_s: float = 30.0,
    environ: Mapping[str, str] | None = None,
) -> Iterator[EmbeddedService]:
    """Start ``nerava serve`` on a fresh database; stop it and clean up after.

    Raises:
        EmbeddedServiceFailed: the key could not be made, or the service did
            not answer ``/healthz`` in time; the message ends with its log.
    """
    directory = Path(tempfile.mkdtemp(prefix="nerava-replay-"))
    try:
        env = _environment(directory, os.environ if environ is None else environ)
        key = _create_admin_key(env)
        port = _free_port()
        log_path = directory / "serve.log"
        with log_path.open("wb") as log:
            command = [sys.executable, *_CLI, "serve", "--host", "127.0.0.1"]
            process = subprocess.Popen(
                [*command, "--port", str(port)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                url = f"http://127.0.0.1:{port}"
                _wait_healthy(process, url, startup_timeout_s, log_path)
                logger.info("embedded service up at %s", url)
                yield EmbeddedService(url=url, key=key)
            finally:
                if process.poll() is not None:
                    # Its log goes with the directory; keep the end of it.
                    logger.warning(
                        "embedded service exited early with status %s: %s",
                        process.returncode,
                        _tail(log_path.read_text(errors="replace")),
                    )
                _stop(process, stop_timeout_s)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _environment(directory: Path, base: Mapping[str, str]) -> dict[str, str]:
    env = dict(base)
    env.update(
        DATABASE_URL=f"sqlite:///{directory / 'nerava.db'}",
        ENERGYHUB_ALLOW_DEMO_AT="true",
        RATE_LIMIT_PER_MINUTE="0",
    )
    # A log line per request would cost the service more than the request.
    env.setdefault("LOG_LEVEL", "WARNING")
    return env


def _create_admin_key(env: Mapping[str, str]) -> str:
    command = [sys.executable, *_CLI, "keys", "create", "--scope", "admin"]
    command += ["--name", "replay"]
    done = subprocess.run(
        command, env=dict(env), capture_output=True, text=True, check=False
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise EmbeddedServiceFailed(
            f"`nerava keys create` failed with status {done.returncode}: "
            f"{_tail(done.stderr or done.stdout)}"
        )
    return lines[-1].strip()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_healthy(
    process: subprocess.Popen[bytes], url: str, timeout_s: float, log_path: Path
) -> None:
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=url, timeout=2.0) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise EmbeddedServiceFailed(
                    f"`nerava serve` exited with status {process.returncode}: "
                    f"{_tail(log_path.read_text(errors='replace'))}"
                )
            try:
                if http.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise EmbeddedServiceFailed(
        f"`nerava serve` did not answer /healthz within {timeout_s:.0f} s: "
        f"{_tail(log_path.read_text(errors='replace'))}"
    )


def _stop(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        logger.warning(
            "embedded service ignored SIGTERM for %.0f s; killing it", timeout_s
        )
        process.kill()
        process.wait()


def _tail(text: str) -> str:
    text = text.strip()
    if len(text) > _LOG_TAIL_CHARS:
        text = "..." + text[-_LOG_TAIL_CHARS:]
    return text or "(no output)"
