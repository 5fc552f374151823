"""The runs of the benchmark, one method each."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.processes import (
    CLI,
    ROOT,
    WINDOWS,
    BenchError,
    Server,
    Servers,
    base_environment,
    fresh_postgres_database,
    http_get,
    process_tree,
    tail,
)
from harness.wrk import Load, LoadGenerator

SHARED_DATA = ROOT.parent / "shared" / "data"
PALO_ALTO = SHARED_DATA / "palo_alto_sessions_2011-07_to_2013-03.csv"


@dataclass(frozen=True)
class Plan:
    """How long and how hard each run is."""

    warmup_s: float
    saturation_s: float
    fixed_s: float
    connections: int
    leak_first: int
    leak_total: int
    replay_rows: int | None  # None: the whole file
    quick: bool

    @classmethod
    def full(cls) -> Plan:
        """Return the plan of the real measurement (about five minutes)."""
        return cls(2, 10, 10, 32, 20_000, 200_000, None, quick=False)

    @classmethod
    def smoke(cls) -> Plan:
        """Return the plan of ``--quick``: every run, briefly."""
        return cls(1, 2, 2, 32, 2_000, 20_000, 400, quick=True)


@dataclass
class Bench:
    """The whole benchmark: its plan, its servers, and what it found."""

    plan: Plan
    servers: Servers
    load: LoadGenerator
    postgres_admin_url: str | None
    pg_workers: int
    runs: dict[str, Any] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    loads: dict[str, Load] = field(default_factory=dict)
    log: Callable[[str], None] = print

    def record(self, key: str, load: Load) -> Load:
        """Keep ``load`` under ``key`` and say what it measured."""
        self.loads[key] = load
        self.runs[key] = load.as_json()
        pairs = f", {load.pairs_per_s:,.0f} pairs/s" if load.pairs else ""
        self.log(
            f"  {key}: {load.rps:,.0f} req/s{pairs}, "
            f"p50 {load.latency_ms.get('p50', 0):.2f} ms, "
            f"p99 {load.latency_ms.get('p99', 0):.2f} ms, "
            f"errors {load.non_2xx + load.socket_errors} "
            f"(CPU: server {load.server_cpu_pct:.0f}%, "
            f"wrk {load.loadgen_cpu_pct:.0f}%, others {load.others_cpu_pct:.0f}%)"
        )
        if load.first_failure:
            self.log(f"    first failure: {load.first_failure[:200]}")
        return load

    def saturate_then_half(
        self,
        server: Server,
        key: str,
        mode: str,
        *,
        paths: str = WINDOWS,
        auth: bool = False,
        profile: str | None = None,
        users: tuple[str, int] | None = None,
    ) -> tuple[Load, Load]:
        """Find the throughput at saturation, then measure latency at half of it."""
        api_key = server.key if auth else None
        if self.plan.warmup_s:
            warmup = self.load.run(
                server,
                f"{key} warm-up",
                mode,
                duration_s=self.plan.warmup_s,
                paths=paths,
                key=api_key,
                users=users,
            )
            # Kept for the error check only: its figures are not reported.
            self.runs[f"{key}_warmup"] = warmup.as_json()
        saturated = self.record(
            f"{key}_saturation",
            self.load.run(
                server,
                f"{key} at saturation",
                mode,
                duration_s=self.plan.saturation_s,
                paths=paths,
                key=api_key,
                users=users,
                profile=profile,
            ),
        )
        half = saturated.rps / 2
        fixed = self.load.run(
            server,
            f"{key} at half load",
            mode,
            duration_s=self.plan.fixed_s,
            rate=half,
            paths=paths,
            key=api_key,
            users=users,
        )
        fixed.extra["achieved_share_of_target_rate"] = round(fixed.rps / half, 3)
        return saturated, self.record(f"{key}_half_load", fixed)

    def loadgen_ceiling(self) -> None:
        """Load a trivial ASGI app as hard as wrk can, to show wrk's ceiling."""
        self.log("trivial ASGI app (the load generator's ceiling)")
        server = self.servers.uvicorn("trivial", "bare_app:trivial", {})
        try:
            warmup = self.load.run(
                server, "warm-up", "get", duration_s=self.plan.warmup_s or 1
            )
            self.runs["loadgen_ceiling_warmup"] = warmup.as_json()
            self.record(
                "loadgen_ceiling",
                self.load.run(
                    server, "ceiling", "get", duration_s=self.plan.saturation_s
                ),
            )
        finally:
            self.servers.stop(server)

    def windows(self, workdir: Path) -> None:
        """Windows reads: bare Litestar, then Nerava on the embedded default."""
        nerava = self.servers.nerava(
            "nerava-sqlite-async",
            f"sqlite:///{workdir / 'async.db'}",
            sync_credit=False,
        )
        status, body = http_get(nerava.url + WINDOWS)
        if status != 200:
            raise BenchError(f"GET {WINDOWS} answered {status}: {body[:300]!r}")
        windows_json = workdir / "windows.json"
        windows_json.write_bytes(body)

        self.log("bare Litestar app, GET /v1/energyhub/windows")
        bare = self.servers.uvicorn(
            "bare-litestar", "bare_app:app", {"BENCH_WINDOWS_JSON": str(windows_json)}
        )
        try:
            status, bare_body = http_get(bare.url + WINDOWS)
            if json.loads(bare_body) != json.loads(body):
                raise BenchError("the bare app does not serve Nerava's windows JSON")
            self.saturate_then_half(bare, "bare_windows", "get")
        finally:
            self.runs["bare_windows_server"] = self.servers.stop(bare)

        self.log("Nerava on SQLite (async credit): windows, then start+stop pairs")
        try:
            self.saturate_then_half(nerava, "windows", "get", profile="windows")
            self.saturate_then_half(
                nerava,
                "pairs_sqlite_async",
                "pairs",
                auth=True,
                profile="pairs_sqlite_async",
            )
        finally:
            self.runs["nerava_sqlite_async_server"] = self.servers.stop(nerava)

    def sqlite_sync(self, workdir: Path) -> None:
        """Pairs with ENABLE_SYNC_CREDIT=true, then wallet reads of those users."""
        self.log("Nerava on SQLite (sync credit): pairs, then wallet reads")
        server = self.servers.nerava(
            "nerava-sqlite-sync", f"sqlite:///{workdir / 'sync.db'}", sync_credit=True
        )
        try:
            self.saturate_then_half(
                server,
                "pairs_sqlite_sync",
                "pairs",
                auth=True,
                profile="pairs_sqlite_sync",
            )
            self.wallets(server, "wallet_sqlite", "pairs_sqlite_sync_saturation")
        finally:
            self.runs["nerava_sqlite_sync_server"] = self.servers.stop(server)

    def wallets(self, server: Server, key: str, pairs_key: str) -> None:
        """Read the wallets of the users an earlier pairs run credited."""
        pairs_run = self.loads[pairs_key]
        users = min(1000, pairs_run.extra["starts"])
        self.saturate_then_half(
            server,
            key,
            "wallets",
            auth=True,
            profile=key,
            users=(pairs_run.extra["user_prefix"], users),
        )

    def postgres(self) -> None:
        """Pairs in both credit modes, each on a fresh Postgres database."""
        self._postgres(sync_credit=False)
        self._postgres(sync_credit=True)

    def _postgres(self, sync_credit: bool) -> None:
        """Pairs on a fresh Postgres database (and wallet reads in sync mode)."""
        assert self.postgres_admin_url is not None
        mode = "sync" if sync_credit else "async"
        with fresh_postgres_database(self.postgres_admin_url) as url:
            workers = self.pg_workers
            self.log(f"Nerava on Postgres ({mode} credit, --workers {workers}): pairs")
            server = self.servers.nerava(
                f"nerava-postgres-{mode}",
                url,
                sync_credit=sync_credit,
                workers=self.pg_workers,
            )
            try:
                self.saturate_then_half(
                    server,
                    f"pairs_postgres_{mode}",
                    "pairs",
                    auth=True,
                    profile=f"pairs_postgres_{mode}",
                )
                if sync_credit:
                    self.wallets(
                        server, "wallet_postgres", f"pairs_postgres_{mode}_saturation"
                    )
            finally:
                self.runs[f"nerava_postgres_{mode}_server"] = self.servers.stop(server)

    def memory(self, workdir: Path) -> None:
        """Mixed traffic on a fresh server; resident memory at 20k and 200k answers."""
        first, total = self.plan.leak_first, self.plan.leak_total
        self.log(
            f"Nerava on SQLite (async credit): memory over {total:,} mixed requests"
        )
        server = self.servers.nerava(
            "nerava-memory", f"sqlite:///{workdir / 'memory.db'}", sync_credit=False
        )
        try:
            at_start = server.rss_kib()
            one = self.load.run(
                server,
                "first requests",
                "mix",
                duration_s=600,
                key=server.key,
                limit=first,
            )
            after_first = server.rss_kib()
            two = self.load.run(
                server,
                "more requests",
                "mix",
                duration_s=900,
                key=server.key,
                limit=total - first,
            )
            after_total = server.rss_kib()
            peak = server.peak_rss_kib()
            for key, load in (("memory_first", one), ("memory_rest", two)):
                self.record(key, load)
            self.runs["memory"] = {
                "requests_first": one.requests,
                "requests_total": one.requests + two.requests,
                "rss_at_start_mib": round(at_start / 1024, 1),
                "rss_after_first_mib": round(after_first / 1024, 1),
                "rss_after_total_mib": round(after_total / 1024, 1),
                "growth": round((after_total - after_first) / after_first, 4),
                "peak_rss_mib": round(peak / 1024, 1),
            }
        finally:
            self.runs["nerava_memory_server"] = self.servers.stop(server)

    def replay(self, workdir: Path) -> None:
        """Run `nerava replay` on the Palo Alto file and read its report."""
        source = PALO_ALTO
        if not source.exists():
            raise BenchError(f"the replay input is missing: {source}")
        if self.plan.replay_rows is not None:
            source = workdir / "palo_alto_head.csv"
            with PALO_ALTO.open("rb") as full, source.open("wb") as head:
                for _, line in zip(
                    range(self.plan.replay_rows + 1), full, strict=False
                ):
                    head.write(line)
        report_path = workdir / "replay.json"
        self.log(f"nerava replay {source.name}")
        started = time.monotonic()
        log_path = workdir / "replay.log"
        with (
            log_path.open("wb") as log,
            subprocess.Popen(
                [*CLI, "replay", str(source), "--report", str(report_path)],
                env=base_environment(),
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=log,
            ) as replay,
        ):
            if self.load.profiler is not None:
                self._profile_replay(replay.pid)
            try:
                replay.wait(timeout=600)
            except subprocess.TimeoutExpired:
                replay.kill()
                raise BenchError("nerava replay did not finish in 600 s") from None
        wall_s = time.monotonic() - started
        if not report_path.exists():
            raise BenchError(f"nerava replay wrote no report:\n{tail(log_path)}")
        report = json.loads(report_path.read_text())
        refused = _replay_refusals(source, report)
        attempted = report["sessions_replayed"] + sum(refused.values())
        self.runs["replay"] = {
            "file": report["file"],
            "rows": report["rows"],
            "sessions_replayed": report["sessions_replayed"],
            "sessions_per_s": report["sessions_per_second"],
            "replay_duration_s": report["duration_s"],
            "settle_s": report["settle_s"],
            "wall_s_including_startup": round(wall_s, 1),
            "skipped": report["skipped"],
            "refused_by_service": refused,
            "error_rate": sum(refused.values()) / attempted if attempted else 1.0,
            "wallet_check": report["wallet_check"],
            "exit_status": replay.returncode,
        }
        self.log(
            f"  replay: {report['sessions_replayed']:,} sessions at "
            f"{report['sessions_per_second']:,.1f} sessions/s, "
            f"wallet check {report['wallet_check']!s:.40}"
        )

    def _profile_replay(self, pid: int) -> None:
        """Profile the replay's client and its embedded server side by side."""
        assert self.load.profiler is not None
        deadline = time.monotonic() + 60
        server = None
        while server is None and time.monotonic() < deadline:
            server = next(
                (p for p in process_tree(pid)[1:] if "serve" in _command_line(p)), None
            )
            time.sleep(0.2)
        if server is None:
            return
        # Leave the server time to start and the replay to read the windows.
        time.sleep(3)
        duration = 5 if self.plan.quick else 10
        recordings = [
            (
                self.load.profiler.start(server, "replay_server", duration),
                "replay_server",
            ),
            (self.load.profiler.start(pid, "replay_client", duration), "replay_client"),
        ]
        for recording, name in recordings:
            self.runs[f"{name}_profile"] = self.load.profiler.finish(
                recording, name, duration
            )


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


# A driver's sessions that overlap in the file are refused by the rules, as
# they must be: that is the service answering right, not failing.
EXPECTED_REFUSALS = frozenset({"session_already_active"})


def _replay_refusals(source: Path, report: Mapping[str, Any]) -> dict[str, int]:
    """Return the skips the service made that the file itself does not explain."""
    from nerava.replay.parsing import read_sessions

    parsed = read_sessions(source)
    refused = {
        code: count - parsed.skipped.get(code, 0)
        for code, count in report["skipped"].items()
        if code not in EXPECTED_REFUSALS
    }
    return {code: n for code, n in refused.items() if n > 0}
