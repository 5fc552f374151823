"""Profile a server with py-spy during a run, and say where its time went.

py-spy samples a thread only while it holds the GIL (``--gil``): Python code
and the C it calls without letting go. Time in uvloop's epoll, in SQLite's
engine or in a blocking read, where the GIL is released, is not counted, so
the shares are those of the server's CPU-bound work. It writes collapsed
stacks (``thread;frame;frame;... count``, the root first); the summary counts,
per source line, the samples in which it was the running frame (self) and
those in which it was anywhere on the stack (inclusive). A sample whose
running line is a wait (a queue's ``get``, a lock) is left out of the shares.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from harness.processes import ROOT, BenchError

__all__ = ["Profiler", "summarize"]

RATE_HZ = 200
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*):(?P<line>\d+)\)$")
_SITE_PACKAGES = re.compile(r"^.*/(site|dist)-packages/")
_STDLIB = re.compile(r"^.*/lib/python3\.\d+/")
_WAIT = re.compile(r"\.(get|wait|acquire|join|select|poll|sleep|recv)\(|\bread\(")


class Profiler:
    """Record py-spy profiles of servers into one directory."""

    def __init__(self, directory: Path) -> None:
        executable = shutil.which("py-spy", path=str(Path(sys.executable).parent))
        executable = executable or shutil.which("py-spy")
        if executable is None:
            raise BenchError("py-spy is not installed: pip install -e '.[bench]'")
        self.executable = executable
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def start(
        self, pid: int, name: str, duration_s: float, *, subprocesses: bool = False
    ) -> subprocess.Popen[bytes]:
        """Sample process ``pid`` for about ``duration_s`` into ``<name>.txt``."""
        command = [
            self.executable, "record", "--pid", str(pid), "--rate", str(RATE_HZ),
            "--duration", str(self._seconds(duration_s)), "--format", "raw",
            "--gil", "--full-filenames", "--threads",
            "--output", str(self.directory / f"{name}.txt"),
        ]  # fmt: skip
        if subprocesses:
            command.append("--subprocesses")
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        # Attaching takes a moment; the run should not begin unobserved.
        time.sleep(0.3)
        return process

    @staticmethod
    def _seconds(duration_s: float) -> int:
        return max(1, int(duration_s) - 1)

    def finish(
        self, process: subprocess.Popen[bytes], name: str, duration_s: float
    ) -> dict[str, Any]:
        """Wait for the recording, write ``<name>.top.txt`` and return the summary."""
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        stacks = self.directory / f"{name}.txt"
        if not stacks.exists():
            return {"error": "py-spy wrote no profile"}
        summary = summarize(stacks)
        slots = RATE_HZ * self._seconds(duration_s)
        held = summary["samples"] + summary["waiting_samples_left_out"]
        summary["gil_held_pct_of_wall_time"] = round(100 * held / slots, 1)
        (self.directory / f"{name}.top.txt").write_text(render(summary))
        return summary


def _short(path: str) -> str:
    if _SITE_PACKAGES.match(path):
        return _SITE_PACKAGES.sub("", path)
    if path.startswith(str(ROOT) + "/"):
        return path[len(str(ROOT)) + 1 :]
    return _STDLIB.sub("stdlib/", path)


def _frames(stack: str) -> tuple[str, list[tuple[str, str, str]]]:
    """Return the thread's name and (function, file:line, path) of each frame."""
    process, thread, frames = "", "?", []
    for raw in stack.split(";"):
        if raw.startswith("process "):
            process = raw.split(":", 1)[0].removeprefix("process ").strip() + " "
            continue
        if raw.startswith("thread "):
            thread = process + (raw.partition(": ")[2] or raw)
            continue
        match = _FRAME.match(raw)
        if match:
            where = f"{_short(match['file'])}:{match['line']}"
            frames.append((match["function"], where, match["file"]))
        else:
            frames.append((raw, "?", ""))
    return thread, frames


class _Lines:
    """Source lines, read once, to tell a blocking wait from work."""

    def __init__(self) -> None:
        self._files: dict[str, list[str]] = {}

    def is_wait(self, path: str, where: str) -> bool:
        if path not in self._files:
            try:
                self._files[path] = Path(path).read_text().splitlines()
            except OSError:
                self._files[path] = []
        number = int(where.rsplit(":", 1)[1]) if ":" in where else 0
        lines = self._files[path]
        return 0 < number <= len(lines) and bool(_WAIT.search(lines[number - 1]))


def summarize(path: Path, top: int = 25) -> dict[str, Any]:
    """Count self and inclusive samples per line, per function and per file."""
    total = waiting = 0
    by_thread: Counter[str] = Counter()
    self_lines: Counter[str] = Counter()
    self_files: Counter[str] = Counter()
    inclusive_nerava: Counter[str] = Counter()
    inclusive_functions: Counter[str] = Counter()
    sources = _Lines()
    for row in path.read_text().splitlines():
        stack, _, count_text = row.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        thread, frames = _frames(stack)
        if not frames:
            continue
        function, where, source = frames[-1]
        if sources.is_wait(source, where):
            waiting += count
            continue
        total += count
        by_thread[thread] += count
        self_lines[f"{where} {function}"] += count
        self_files[where.rsplit(":", 1)[0]] += count
        seen_lines, seen_functions = set(), set()
        for function, where, _ in frames:
            name = f"{where.rsplit(':', 1)[0]} {function}"
            if name not in seen_functions:
                seen_functions.add(name)
                inclusive_functions[name] += count
            if where.startswith("nerava/") and where not in seen_lines:
                seen_lines.add(where)
                inclusive_nerava[f"{where} {function}"] += count

    def shares(counter: Counter[str]) -> list[list[Any]]:
        return [
            [name, round(100 * n / total, 1)] for name, n in counter.most_common(top)
        ]

    return {
        "samples": total,
        "waiting_samples_left_out": waiting,
        "by_thread_pct": shares(by_thread),
        "self_by_file_pct": shares(self_files),
        "self_by_line_pct": shares(self_lines),
        "inclusive_by_function_pct": shares(inclusive_functions),
        "inclusive_nerava_lines_pct": shares(inclusive_nerava),
    }


def render(summary: dict[str, Any]) -> str:
    """Write the summary as plain text, one ranking after another."""
    lines = [
        f"{summary['samples']} samples holding the GIL at {RATE_HZ} Hz "
        f"({summary['waiting_samples_left_out']} in a wait left out); "
        f"GIL held {summary.get('gil_held_pct_of_wall_time', '?')}% of the time "
        "(summed over processes)"
    ]
    for key, title in (
        ("by_thread_pct", "busy samples by thread"),
        ("self_by_file_pct", "self time by file"),
        ("self_by_line_pct", "self time by line"),
        ("inclusive_by_function_pct", "inclusive time by function"),
        ("inclusive_nerava_lines_pct", "inclusive time by line of nerava/"),
    ):
        lines += ["", title]
        lines += [f"  {pct:5.1f}%  {name}" for name, pct in summary[key]]
    return "\n".join(lines) + "\n"
