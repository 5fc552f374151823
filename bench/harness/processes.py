"""Start, measure and stop the server processes a benchmark loads."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent.parent
ROOT = BENCH.parent
HOST = "127.0.0.1"
WINDOWS = "/v1/energyhub/windows"
# The console script beside this interpreter: what an operator runs.
CLI = (str(Path(sys.executable).with_name("nerava")),)
UVICORN = (sys.executable, "-m", "uvicorn")
# The same server settings as `nerava serve` (nerava/entrypoints/cli/serve.py).
UVICORN_FLAGS = (
    "--loop", "uvloop", "--http", "httptools", "--lifespan", "on",
    "--no-access-log", "--no-proxy-headers", "--no-server-header",
    "--timeout-graceful-shutdown", "20", "--log-level", "warning",
)  # fmt: skip
# High enough never to trigger: the limiter still runs on every request.
RATE_LIMIT_PER_MINUTE = "100000000"
NERAVA_VARIABLES = (
    "DATABASE_URL", "REDIS_URL", "CACHE_DRIVER", "EVENTS_DRIVER",
    "RATE_LIMIT_STORE", "LOG_LEVEL", "RATE_LIMIT_PER_MINUTE", "CACHE_TTL_WINDOWS",
    "ENABLE_SYNC_CREDIT", "ENERGYHUB_ALLOW_DEMO_AT", "REWARD_POLICY",
    "MERCHANT_COFUND_CENTS", "MAX_SESSION_KWH", "MAX_CHARGE_POWER_KW",
    "AUTH_DISABLED", "MAX_EVENT_AGE_HOURS", "SQLITE_SYNCHRONOUS",
    "TRUSTED_PROXIES", "CORS_ALLOW_ORIGINS", "PROMETHEUS_MULTIPROC_DIR",
)  # fmt: skip
TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """A step of the benchmark could not be carried out."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found += [int(p) for p in task.read_text().split()]
    return found


def process_tree(pid: int) -> list[int]:
    """Return ``pid`` and all its descendants that are alive."""
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        if Path(f"/proc/{current}").exists():
            tree.append(current)
            pending += _children(current)
    return tree


def _status_kib(pid: int, field_name: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return 0


def _cpu_seconds(pid: int) -> float:
    with contextlib.suppress(OSError, IndexError, ValueError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    return 0.0


@dataclass(frozen=True)
class MachineCpu:
    """CPU seconds of the whole machine since boot, from /proc/stat."""

    busy: float
    total: float
    # Interrupt handling, mostly the loopback network's softirq: not charged
    # to any process.
    interrupts: float

    @classmethod
    def read(cls) -> MachineCpu:
        """Read the counters now."""
        line = Path("/proc/stat").read_text().split("\n")[0]
        user, nice, system, idle, iowait, irq, softirq, steal = (
            int(v) / TICKS for v in line.split()[1:9]
        )
        total = user + nice + system + idle + iowait + irq + softirq + steal
        return cls(total - idle - iowait, total, irq + softirq)


@dataclass
class Server:
    """A server process this run started, and what it needs to be loaded."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path
    key: str | None = None
    workers: int = 1

    @property
    def pid(self) -> int:
        """Return the id of the process that was started."""
        return self.process.pid

    def rss_kib(self) -> int:
        """Return the resident memory of the server's processes, summed."""
        return sum(_status_kib(p, "VmRSS") for p in process_tree(self.pid))

    def peak_rss_kib(self) -> int:
        """Return the largest resident memory any one of its processes had."""
        return max((_status_kib(p, "VmHWM") for p in process_tree(self.pid)), default=0)

    def cpu_seconds(self) -> float:
        """Return the CPU time its processes used so far."""
        return sum(_cpu_seconds(p) for p in process_tree(self.pid))

    def stop(self, timeout_s: float = 30) -> None:
        """Stop the server's process group: SIGTERM, then SIGKILL after the timeout."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                print(f"  {self.name} ignored SIGTERM; killing it", file=sys.stderr)
        # Workers of a supervisor that died would outlive it in the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)

    def access_statuses(self) -> Counter[int]:
        """Count the statuses in the server's request log."""
        statuses: Counter[int] = Counter()
        with self.log_path.open("rb") as log:
            for line in log:
                if line.startswith(b'{"method"'):
                    with contextlib.suppress(ValueError, KeyError):
                        statuses[json.loads(line)["status"]] += 1
        return statuses


def _wait_ready(server: Server, path: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchError(
                f"{server.name} exited with status {server.process.returncode}:\n"
                + tail(server.log_path)
            )
        with contextlib.suppress(OSError):
            status, _ = http_get(server.url + path, timeout_s=2)
            if status == 200:
                return
        time.sleep(0.2)
    raise BenchError(f"{server.name} did not answer {path} in {timeout_s:.0f} s")


def tail(path: Path, chars: int = 3000) -> str:
    """Return the end of a log file, for an error message."""
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def http_get(
    url: str, *, key: str | None = None, timeout_s: float = 5
) -> tuple[int, bytes]:
    """GET ``url`` and return its status and body (urllib: no extra process)."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _run_cli(args: list[str], env: Mapping[str, str], timeout_s: float = 120) -> str:
    done = subprocess.run(
        [*CLI, *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise BenchError(f"nerava {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def base_environment() -> dict[str, str]:
    """Return this process's environment without any Nerava setting."""
    env = {k: v for k, v in os.environ.items() if k not in NERAVA_VARIABLES}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Servers:
    """Start servers, and stop every one of them whatever happens."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.running: list[Server] = []
        self.finished: dict[str, dict[str, Any]] = {}

    def _start(
        self, name: str, command: list[str], env: Mapping[str, str], ready: str
    ) -> Server:
        log_path = self.workdir / f"{name}.log"
        port = _free_port()
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [*command, "--host", HOST, "--port", str(port)],
                env=dict(env),
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = Server(name, process, f"http://{HOST}:{port}", log_path)
        self.running.append(server)
        _wait_ready(server, ready, timeout_s=90)
        return server

    def nerava(
        self, name: str, database_url: str, *, sync_credit: bool, workers: int = 1
    ) -> Server:
        """Migrate ``database_url``, create an admin key and serve it."""
        env = base_environment()
        env.update(
            DATABASE_URL=database_url,
            RATE_LIMIT_PER_MINUTE=RATE_LIMIT_PER_MINUTE,
            ENABLE_SYNC_CREDIT="true" if sync_credit else "false",
        )
        _run_cli(["migrate"], env)
        created = _run_cli(
            ["keys", "create", "--scope", "admin", "--name", "bench"], env
        )
        command = [*CLI, "serve", "--workers", str(workers)]
        server = self._start(name, command, env, "/readyz")
        server.key = created.strip().splitlines()[-1].strip()
        server.workers = workers
        return server

    def uvicorn(self, name: str, app: str, env_extra: Mapping[str, str]) -> Server:
        """Serve ``app`` from bench/ with the same uvicorn settings as Nerava."""
        env = base_environment() | dict(env_extra)
        command = [
            *UVICORN,
            app,
            "--app-dir",
            str(BENCH),
            "--workers",
            "1",
            *UVICORN_FLAGS,
        ]
        ready = WINDOWS if app.endswith(":app") else "/"
        return self._start(name, command, env, ready)

    def stop(self, server: Server) -> dict[str, Any]:
        """Stop ``server`` and return what it left: peak memory, logged statuses."""
        peak = server.peak_rss_kib()
        server.stop()
        self.running.remove(server)
        statuses = server.access_statuses()
        # wrk drops its connections when a run's time is up, with requests in
        # flight; the server logs those as 499, an answer no client waited for.
        aborts = statuses[499]
        non_2xx = sum(n for s, n in statuses.items() if not 200 <= s < 300)
        summary = {
            "peak_rss_mib": round(peak / 1024, 1),
            "logged_requests": sum(statuses.values()),
            "logged_non_2xx": non_2xx - aborts,
            "logged_client_aborts": aborts,
            "logged_statuses": {str(s): n for s, n in sorted(statuses.items())},
            "exit_status": server.process.returncode,
        }
        self.finished[server.name] = summary
        return summary

    def stop_all(self) -> None:
        """Stop every server still running."""
        for server in list(self.running):
            server.stop()
            self.running.remove(server)


@contextlib.contextmanager
def fresh_postgres_database(admin_url: str) -> Iterator[str]:
    """Create a database for one run and drop it afterwards, connections and all."""
    import psycopg
    from psycopg import sql

    name = f"nerava_bench_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = re.sub(r"/[^/?]*(\?|$)", f"/{name}\\1", admin_url.split("://", 1)[1], count=1)
    try:
        yield admin_url.split("://", 1)[0] + "://" + url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )
