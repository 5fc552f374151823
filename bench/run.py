"""Measure Nerava's HTTP service under load, as ``nox -s bench`` runs it.

Real ``nerava serve`` processes (SQLite and Postgres, both credit modes) are
loaded by wrk from a separate process, next to a bare Litestar app and a
trivial ASGI app started the same way. One table is printed and every figure
is written to ``bench/results.json``. See ``bench/README.md`` for how to read it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness.processes import BENCH, RATE_LIMIT_PER_MINUTE, ROOT, BenchError, Servers
from harness.profiles import Profiler
from harness.report import evaluate, machine_description, render
from harness.scenarios import Bench, Plan
from harness.wrk import LoadGenerator


def _loadavg() -> list[float]:
    return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]


PARTS = "ceiling,windows,sqlite_sync,postgres,memory,replay"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write the results (default bench/results.json, "
        "bench/results-quick.json with --quick)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="an admin connection used to create and drop the bench databases",
    )
    parser.add_argument("--no-postgres", action="store_true", help="skip Postgres")
    parser.add_argument(
        "--pg-workers", type=int, default=1, help="`nerava serve --workers` on Postgres"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="record py-spy profiles of every saturation run into DIR "
        "(the profiler slows the server: do not quote these figures)",
    )
    parser.add_argument(
        "--only",
        default=None,
        help=f"comma-separated parts of: {PARTS}",
    )
    return parser.parse_args(argv)


def _interrupt(signum: int, frame: object) -> None:
    # SIGTERM ends the run as Ctrl-C does, so that the servers are stopped.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and return the exit status (1 when a target is missed)."""
    args = parse_args(argv)
    plan = Plan.smoke() if args.quick else Plan.full()
    out = args.out or BENCH / ("results-quick.json" if args.quick else "results.json")
    postgres = None if args.no_postgres else args.postgres_url
    parts = set((args.only or PARTS).split(","))

    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    load_before = _loadavg()
    if load_before[0] > 1.0:
        print(
            f"warning: load average {load_before[0]:.2f} before the run; "
            "other work on this machine will lower the figures",
            file=sys.stderr,
        )
    workdir = Path(tempfile.mkdtemp(prefix="nerava-bench-"))
    servers = Servers(workdir)
    bench = Bench(
        plan=plan,
        servers=servers,
        load=LoadGenerator(
            plan.connections, Profiler(args.profile) if args.profile else None
        ),
        postgres_admin_url=postgres,
        pg_workers=args.pg_workers,
    )
    steps: dict[str, Callable[[], None]] = {
        "ceiling": bench.loadgen_ceiling,
        "windows": lambda: bench.windows(workdir),
        "sqlite_sync": lambda: bench.sqlite_sync(workdir),
        "postgres": bench.postgres,
        "memory": lambda: bench.memory(workdir),
        "replay": lambda: bench.replay(workdir),
    }
    if postgres is None:
        del steps["postgres"]
    try:
        machine = machine_description(postgres)
        for name, step in steps.items():
            if name not in parts:
                continue
            try:
                step()
            except BenchError as exc:
                # One broken part should not cost the figures of the others.
                print(f"  {name} could not run: {exc}", file=sys.stderr)
                bench.failures[name] = str(exc)
                servers.stop_all()
    except KeyboardInterrupt:
        print("interrupted; stopping the servers", file=sys.stderr)
        return 130
    finally:
        servers.stop_all()
        if any(summary["logged_non_2xx"] for summary in servers.finished.values()):
            print(f"server logs with errors kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    rows, targets = evaluate(bench)
    table = render(rows, targets, bench.runs)
    results = {
        "quick": plan.quick,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "wall_time_s": round(time.monotonic() - started, 1),
        "load_average_before": load_before,
        "load_average_after": _loadavg(),
        "machine": machine,
        "settings": {
            "connections": plan.connections,
            "wrk_threads": 1,
            "warmup_s": plan.warmup_s,
            "saturation_s": plan.saturation_s,
            "fixed_rate_s": plan.fixed_s,
            "nerava_workers": 1,
            "postgres_workers": args.pg_workers,
            "rate_limit_per_minute": int(RATE_LIMIT_PER_MINUTE),
            "log_level": "INFO (default); request log to a file",
            "auth": "on, key from `nerava keys create --scope admin`",
            "profiled": args.profile is not None,
        },
        "runs": bench.runs,
        "targets": targets,
        "table": table,
    }
    out.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(table)
    print(
        f"\nwrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}"
        f" in {results['wall_time_s']:.0f} s"
    )
    return 0 if all(t["pass"] for t in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
