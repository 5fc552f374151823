"""Turn the runs into one table, verdicts on the targets, and a machine note."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

from harness.scenarios import Bench
from harness.wrk import Load


def machine_description(postgres_admin_url: str | None) -> dict[str, Any]:
    """Describe the machine and the software the figures were taken on."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text()
    memory = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.MULTILINE)
    wrk = subprocess.run(
        ["wrk", "--version"], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    described: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "cpu_model": model.group(1).strip() if model else platform.processor(),
        "memory_gib": round(int(memory.group(1)) / 1024**2, 1) if memory else None,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "server": (
            f"uvicorn {version('uvicorn')} (uvloop {version('uvloop')}, "
            f"httptools {version('httptools')}), litestar {version('litestar')}"
        ),
        "load_generator": wrk[0].split(" Copyright")[0].strip() if wrk else "wrk",
        "sqlite": __import__("sqlite3").sqlite_version,
    }
    if postgres_admin_url:
        import psycopg

        with psycopg.connect(postgres_admin_url) as connection:
            row = connection.execute("SHOW server_version").fetchone()
            described["postgres"] = row[0] if row else None
    return described


HEADER = (
    "run", "saturation", "half-load rate", "p50 ms", "p95 ms", "p99 ms",
    "CPU % server/wrk/other", "errors", "throughput target", "latency target",
)  # fmt: skip


def _row(label: str, saturation: str, **cells: str) -> list[str]:
    names = ("rate", "p50", "p95", "p99", "cpu", "errors", "throughput", "latency")
    return [label, saturation, *(cells.get(name, "-") for name in names)]


def _workers(count: int) -> str:
    return f"{count} worker{'s' * (count > 1)}"


def _cpu(load: Load) -> str:
    shares = (load.server_cpu_pct, load.loadgen_cpu_pct, load.others_cpu_pct)
    return " / ".join(f"{share:.0f}" for share in shares)


def _load_cells(sat: Load, half: Load | None) -> dict[str, str]:
    loads = [x for x in (sat, half) if x is not None]
    cells = {
        "cpu": _cpu(sat),
        "errors": str(sum(x.non_2xx + x.socket_errors for x in loads)),
    }
    if half is not None:
        cells["rate"] = f"{half.rps:,.0f} req/s"
        for name in ("p50", "p95", "p99"):
            cells[name] = f"{half.latency_ms[name]:.2f}"
    return cells


class Verdicts:
    """The targets, each checked once, in the order the table shows them."""

    def __init__(self) -> None:
        self.targets: list[dict[str, Any]] = []

    def check(self, name: str, ok: bool, measured: str) -> str:
        """Record target ``name`` as met or missed; return the table's cell."""
        text = f"{'PASS' if ok else 'FAIL'} ({measured})"
        self.targets.append({"target": name, "pass": ok, "text": text})
        return text


def evaluate(bench: Bench) -> tuple[list[list[str]], list[dict[str, Any]]]:
    """Build the printed table's rows and the list of targets with verdicts."""
    loads, runs = bench.loads, bench.runs
    verdicts = Verdicts()
    rows: list[list[str]] = []

    def pair(key: str) -> tuple[Load | None, Load | None]:
        return loads.get(f"{key}_saturation"), loads.get(f"{key}_half_load")

    ceiling = loads.get("loadgen_ceiling")
    if ceiling:
        cells = _load_cells(ceiling, None)
        rows.append(_row("wrk ceiling: trivial ASGI app", f"{ceiling.rps:,.0f} req/s",
                         cpu=cells["cpu"], errors=cells["errors"]))  # fmt: skip

    bare, bare_half = pair("bare_windows")
    if bare:
        rows.append(_row("windows, bare Litestar", f"{bare.rps:,.0f} req/s",
                         **_load_cells(bare, bare_half)))  # fmt: skip
    windows, windows_half = pair("windows")
    if windows:
        cells = _load_cells(windows, windows_half)
        if bare:
            ratio = windows.rps / bare.rps
            runs["windows_vs_bare"] = round(ratio, 4)
            cells["throughput"] = verdicts.check(
                "windows throughput >= 60% of bare Litestar",
                ratio >= 0.60,
                f"{100 * ratio:.0f}% of bare >= 60%",
            )
        if windows_half:
            p99 = windows_half.latency_ms["p99"]
            cells["latency"] = verdicts.check(
                "windows p99 <= 10 ms at half load", p99 <= 10, f"{p99:.1f} <= 10 ms"
            )
        rows.append(
            _row("windows, Nerava SQLite", f"{windows.rps:,.0f} req/s", **cells)
        )

    for key, label, floor in (
        ("pairs_sqlite_async", "pairs, SQLite, async credit", 800),
        ("pairs_sqlite_sync", "pairs, SQLite, sync credit", 800),
        ("pairs_postgres_async", "pairs, Postgres, async credit", 1000),
        ("pairs_postgres_sync", "pairs, Postgres, sync credit", 1000),
    ):
        sat, half = pair(key)
        if sat is None:
            continue
        if "postgres" in key:
            label += f", {_workers(bench.pg_workers)}"
        cells = _load_cells(sat, half)
        cells["throughput"] = verdicts.check(
            f"{label}: >= {floor} pairs/s",
            sat.pairs_per_s >= floor,
            f"{sat.pairs_per_s:,.0f} >= {floor}/s",
        )
        if half:
            p99 = half.latency_ms["p99"]
            cells["latency"] = verdicts.check(
                f"{label}: p99 <= 50 ms at half load", p99 <= 50, f"{p99:.1f} <= 50 ms"
            )
        saturation = f"{sat.pairs_per_s:,.0f} pairs/s ({sat.rps:,.0f} req/s)"
        rows.append(_row(label, saturation, **cells))

    for key, label in (
        ("wallet_sqlite", "wallet reads, SQLite"),
        ("wallet_postgres", f"wallet reads, Postgres, {_workers(bench.pg_workers)}"),
    ):
        sat, half = pair(key)
        if sat:
            rows.append(_row(label, f"{sat.rps:,.0f} req/s", **_load_cells(sat, half)))

    peaks = [
        summary["peak_rss_mib"]
        for name, summary in bench.servers.finished.items()
        if name.startswith("nerava")
    ]
    if peaks:
        runs["peak_rss_mib_of_any_nerava_process"] = max(peaks)
    memory = runs.get("memory")
    if memory:
        growth = memory["growth"]
        errors = sum(
            loads[k].non_2xx + loads[k].socket_errors
            for k in ("memory_first", "memory_rest")
        )
        rows.append(_row(
            f"RSS after {memory['requests_first']:,} / "
            f"{memory['requests_total']:,} mixed requests",
            f"{memory['rss_after_first_mib']:.1f} / "
            f"{memory['rss_after_total_mib']:.1f} MiB",
            rate=f"peak {memory['peak_rss_mib']:.1f} MiB (any run {max(peaks):.1f})",
            errors=str(errors),
            throughput=verdicts.check(
                "RSS growth <= 10% from 20k to 200k requests",
                growth <= 0.10,
                f"growth {100 * growth:+.1f}% <= 10%",
            ),
        ))  # fmt: skip

    replay = runs.get("replay")
    if replay:
        rate = replay["sessions_per_s"]
        wallets = "ok" if replay["wallet_check"] == "ok" else "MISMATCH"
        rows.append(_row(
            "nerava replay, Palo Alto file",
            f"{rate:,.1f} sessions/s",
            rate=f"{replay['sessions_replayed']:,} sessions",
            errors=str(sum(replay["refused_by_service"].values())),
            throughput=verdicts.check(
                "replay >= 500 sessions/s", rate >= 500, f"{rate:,.0f} >= 500/s"
            ),
            latency=f"wallet check {wallets}",
        ))  # fmt: skip

    for part, reason in bench.failures.items():
        verdicts.check(f"{part} runs to its end", False, reason.splitlines()[0][:120])
    failing = [
        f"{key} ({reason})"
        for key, run in runs.items()
        if isinstance(run, dict) and (reason := _failure(run))
    ]
    verdicts.check(
        "error rate 0 in every run (any non-2xx counts)",
        not failing,
        ", ".join(failing) or "no errors",
    )
    return rows, verdicts.targets


def _failure(run: Mapping[str, Any]) -> str:
    """Say what went wrong in a run, or return "" when nothing did."""
    statuses = dict(run.get("statuses") or run.get("logged_statuses") or {})
    # wrk drops its connections when time is up; the server logs those
    # requests as 499, an answer no client waited for.
    statuses.pop("499", None)
    bad = {c: n for c, n in statuses.items() if n and not c.startswith("2")}
    reasons = [f"{n} x {code}" for code, n in sorted(bad.items())]
    if run.get("socket_errors"):
        reasons.append(f"{run['socket_errors']} socket errors")
    refused = run.get("refused_by_service") or {}
    reasons += [f"{n} x {code}" for code, n in sorted(refused.items())]
    if run.get("wallet_check", "ok") != "ok":
        reasons.append("wallet check failed")
    return ", ".join(reasons)


def render(
    rows: list[list[str]], targets: list[dict[str, Any]], runs: Mapping[str, Any]
) -> str:
    """Render the table as Markdown, with the headline and the error check."""
    table = [list(HEADER), *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADER))]
    lines = []
    for index, row in enumerate(table):
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        lines.append("| " + " | ".join(cells) + " |")
        if index == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    passed = sum(1 for t in targets if t["pass"])
    lines.append("")
    if "windows_vs_bare" in runs:
        lines.append(
            "headline: GET /v1/energyhub/windows on Nerava runs at "
            f"{100 * runs['windows_vs_bare']:.0f}% of the bare Litestar app's rate"
        )
    lines.append(f"errors in every run: {targets[-1]['text']}")
    lines.append(f"targets met: {passed} of {len(targets)}")
    return "\n".join(lines)
