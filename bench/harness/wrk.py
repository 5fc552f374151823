"""Load a server with wrk and read what it measured."""

from __future__ import annotations

import json
import resource
import secrets
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from harness.processes import BENCH, WINDOWS, BenchError, MachineCpu, Server
from harness.profiles import Profiler

LOAD_SCRIPT = BENCH / "load.lua"


@dataclass
class Load:
    """What one wrk run measured."""

    label: str
    mode: str
    target_rate: float
    duration_s: float
    requests: int
    pairs: int
    latency_ms: dict[str, float]
    statuses: dict[str, int]
    socket_errors: int
    loadgen_cpu_pct: float
    server_cpu_pct: float
    machine_busy_pct: float
    others_cpu_pct: float
    interrupts_cpu_pct: float
    first_failure: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        """Return requests answered per second."""
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def pairs_per_s(self) -> float:
        """Return start+stop pairs completed per second."""
        return self.pairs / self.duration_s if self.duration_s else 0.0

    @property
    def non_2xx(self) -> int:
        """Return the answers whose status was not 2xx."""
        return sum(n for s, n in self.statuses.items() if not s.startswith("2"))

    @property
    def error_rate(self) -> float:
        """Return the share of requests that failed (non-2xx or socket error)."""
        attempts = self.requests + self.socket_errors
        return (self.non_2xx + self.socket_errors) / attempts if attempts else 1.0

    def as_json(self) -> dict[str, Any]:
        """Return the run as JSON-ready values."""
        return {
            "label": self.label,
            "mode": self.mode,
            "target_rate_rps": round(self.target_rate, 1) or None,
            "duration_s": round(self.duration_s, 3),
            "requests": self.requests,
            "requests_per_s": round(self.rps, 1),
            "pairs": self.pairs,
            "pairs_per_s": round(self.pairs_per_s, 1),
            "latency_ms": self.latency_ms,
            "statuses": self.statuses,
            "non_2xx": self.non_2xx,
            "socket_errors": self.socket_errors,
            "error_rate": self.error_rate,
            "loadgen_cpu_pct_of_one_core": round(self.loadgen_cpu_pct, 1),
            "server_cpu_pct_of_one_core": round(self.server_cpu_pct, 1),
            "machine_busy_pct_of_all_cores": round(self.machine_busy_pct, 1),
            "other_processes_cpu_pct_of_one_core": round(self.others_cpu_pct, 1),
            "interrupts_cpu_pct_of_one_core": round(self.interrupts_cpu_pct, 1),
            "first_failure": self.first_failure or None,
            **self.extra,
        }


@dataclass(frozen=True)
class _Meters:
    at: float
    # CPU seconds of the children this process waited for: the wrk runs.
    loadgen: float
    server: float
    machine: MachineCpu


class LoadGenerator:
    """Run wrk against a server, always with a duration and a timeout."""

    def __init__(self, connections: int, profiler: Profiler | None) -> None:
        wrk = shutil.which("wrk")
        if wrk is None:
            raise BenchError("wrk is not installed: apt-get install -y wrk")
        self.wrk = wrk
        self.connections = connections
        self.profiler = profiler
        self.runs = 0

    def run(
        self,
        server: Server,
        label: str,
        mode: str,
        *,
        duration_s: float,
        rate: float = 0,
        paths: str = WINDOWS,
        key: str | None = None,
        limit: int = 0,
        users: tuple[str, int] | None = None,
        profile: str | None = None,
    ) -> Load:
        """Load ``server`` for ``duration_s`` (or until ``limit`` answers)."""
        self.runs += 1
        prefix = f"b{secrets.token_hex(3)}{self.runs}"
        args = [
            f"mode={mode}",
            f"paths={paths}",
            f"key={key or ''}",
            f"prefix={prefix}",
            f"rate={rate:.3f}",
            f"limit={limit}",
            "threads=1",
        ]
        if users is not None:
            args += [f"users_prefix={users[0]}", f"users={users[1]}"]
        command = [
            self.wrk,
            "-t1",
            f"-c{self.connections}",
            f"-d{max(1, round(duration_s))}s",
            "--timeout",
            "5s",
            "-s",
            str(LOAD_SCRIPT),
            server.url,
            "--",
            *args,
        ]
        recording = None
        if self.profiler is not None and profile is not None:
            recording = self.profiler.start(
                server.pid, profile, duration_s, subprocesses=server.workers > 1
            )
        before = self._meters(server)
        output = self._run_wrk(command, timeout_s=duration_s + 60)
        after = self._meters(server)
        load = self._load(label, mode, rate, output, before, after)
        if self.profiler is not None and recording is not None and profile:
            load.extra["profile"] = self.profiler.finish(recording, profile, duration_s)
        # wrk's thread 1 names its users <prefix>-1-<n>.
        load.extra.update(user_prefix=f"{prefix}-1", starts=output["starts"])
        return load

    def _meters(self, server: Server) -> _Meters:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return _Meters(
            at=time.monotonic(),
            loadgen=children.ru_utime + children.ru_stime,
            server=server.cpu_seconds(),
            machine=MachineCpu.read(),
        )

    def _run_wrk(self, command: list[str], timeout_s: float) -> dict[str, Any]:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        lines: list[str] = []

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                if line.startswith("BENCH_LIMIT_REACHED"):
                    process.send_signal(signal.SIGINT)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise BenchError(f"wrk did not finish in {timeout_s:.0f} s") from None
        reader.join(timeout=5)
        for line in lines:
            if line.startswith("BENCH_RESULT "):
                result: dict[str, Any] = json.loads(line.removeprefix("BENCH_RESULT "))
                return result
        stderr = process.stderr.read() if process.stderr else ""
        raise BenchError(f"wrk printed no result:\n{''.join(lines)}\n{stderr}")

    def _load(
        self,
        label: str,
        mode: str,
        rate: float,
        output: dict[str, Any],
        before: _Meters,
        after: _Meters,
    ) -> Load:
        elapsed = after.at - before.at
        duration_s = output["duration_us"] / 1e6
        errors = output["errors"]
        latency = {
            name: round(value / 1000, 3)
            for name, value in output["latency_us"].items()
            if value is not None
        }
        loadgen = after.loadgen - before.loadgen
        server = after.server - before.server
        busy = after.machine.busy - before.machine.busy
        interrupts = after.machine.interrupts - before.machine.interrupts
        # What neither side of the run used: Postgres in the Postgres runs,
        # and any other work on the machine.
        others = max(0.0, busy - interrupts - loadgen - server)
        machine_total = after.machine.total - before.machine.total
        return Load(
            label=label,
            mode=mode,
            target_rate=rate,
            duration_s=duration_s,
            requests=output["requests"],
            pairs=output["pairs"],
            latency_ms=latency,
            statuses=output["statuses"],
            socket_errors=sum(
                errors[k] for k in ("connect", "read", "write", "timeout")
            ),
            loadgen_cpu_pct=100 * loadgen / elapsed,
            server_cpu_pct=100 * server / elapsed,
            machine_busy_pct=100 * busy / machine_total if machine_total else 0.0,
            others_cpu_pct=100 * others / elapsed,
            interrupts_cpu_pct=100 * interrupts / elapsed,
            first_failure=output.get("first_failure", ""),
        )
