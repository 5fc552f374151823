"""``nerava replay``: play real charging sessions through the HTTP API.

Each row of the file becomes a charge-start at its plug-in and a charge-stop
at its plug-out, sent with ``at`` set to those instants, as the hubs would
have reported them. At the end every touched wallet must have risen by exactly
the rewards the stops returned.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType

import click
import httpx
import msgspec
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from nerava.replay.client import ReplayError, connect
from nerava.replay.embedded import EmbeddedServiceFailed, embedded_service
from nerava.replay.parsing import FileFormat, ParsedFile, UnknownFormat, read_sessions
from nerava.replay.report import EMBEDDED, Report, build_report, encode_report
from nerava.replay.runner import replay_sessions

__all__ = ["replay"]

MISMATCH_STATUS = 1


@click.command()
@click.argument(
    "file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)
)
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["auto", *(f.value for f in FileFormat)]),
    default="auto",
    show_default=True,
    help="The file's layout; auto tells it from the header.",
)
@click.option(
    "--url",
    default=None,
    help="A running service to replay against (it must allow `at`). "
    "Default: start an embedded one on a fresh database.",
)
@click.option(
    "--key",
    envvar="NERAVA_API_KEY",
    default=None,
    help="An admin API key for --url (or NERAVA_API_KEY).",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the report as JSON here.",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Draw energy by hour and rewards by window into this PNG.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 512),
    default=8,
    show_default=True,
    help="Events in flight at once; one driver's events never overlap.",
)
@click.option(
    "--settle-timeout",
    type=click.FloatRange(0),
    default=120.0,
    show_default=True,
    help="Seconds to wait for pending credits to reach the wallets.",
)
@click.pass_context
def replay(
    ctx: click.Context,
    file: Path,
    file_format: str,
    url: str | None,
    key: str | None,
    report_path: Path | None,
    plot_path: Path | None,
    concurrency: int,
    settle_timeout: float,
) -> None:
    """Replay FILE's charging sessions and report what drivers would have earned.

    Without --url, a `nerava serve` on a fresh SQLite file is started for the
    run; it takes its other settings (REWARD_POLICY, MERCHANT_COFUND_CENTS...)
    from the environment. Exits with status 1 when a wallet did not rise by
    exactly the rewards its sessions returned.
    """
    try:
        parsed = read_sessions(
            file, None if file_format == "auto" else FileFormat(file_format)
        )
    except UnknownFormat as exc:
        raise click.BadParameter(str(exc), param_hint="FILE") from exc

    console = Console()
    console.print(
        f"[bold]{file.name}[/]: {parsed.rows:,} rows ({parsed.format}), "
        f"{len(parsed.sessions):,} sessions to replay"
    )
    # Tests hand in a transport (e.g. one over the app in process) as the
    # context object; otherwise requests go over the network.
    transport = ctx.obj if isinstance(ctx.obj, httpx.AsyncBaseTransport) else None
    name = url or ("in-process" if transport else EMBEDDED)
    try:
        with ExitStack() as stack:
            if url is None and transport is None:
                with console.status("starting an embedded service..."):
                    service = stack.enter_context(embedded_service())
                url, key = service.url, service.key
            target = _Target(
                url=url or "http://nerava.local",
                key=key,
                name=name,
                transport=transport,
                # Proxies from the environment never apply to our own child.
                trust_env=name != EMBEDDED,
                concurrency=concurrency,
                settle_timeout_s=settle_timeout,
            )
            report = asyncio.run(_replay(parsed, file, console, target))
    except ReplayError as exc:
        raise click.ClickException(exc.message) from exc
    except EmbeddedServiceFailed as exc:
        raise click.ClickException(str(exc)) from exc

    if report_path is not None:
        report_path.write_bytes(encode_report(report))
    if plot_path is not None:
        from nerava.replay.plot import draw_report

        draw_report(report, plot_path)
    _print_summary(console, report, report_path, plot_path)
    if report.wallet_check != "ok":
        ctx.exit(MISMATCH_STATUS)


class _Target(msgspec.Struct, frozen=True, kw_only=True):
    """The service to replay against, and how hard to drive it."""

    url: str
    key: str | None
    name: str
    transport: httpx.AsyncBaseTransport | None
    trust_env: bool
    concurrency: int
    settle_timeout_s: float


async def _replay(
    parsed: ParsedFile, file: Path, console: Console, target: _Target
) -> Report:
    # One kept-alive connection per request in flight, never a new one.
    async with connect(
        target.url,
        key=target.key,
        connections=target.concurrency,
        timeout_s=30.0,
        trust_env=target.trust_env,
        through=target.transport,
    ) as client:
        with _ProgressBar(console) as progress:
            replayed = await replay_sessions(
                parsed.sessions,
                client,
                concurrency=target.concurrency,
                settle_timeout_s=target.settle_timeout_s,
                observer=progress,
            )
    return build_report(parsed, replayed, file=file, target=target.name)


class _ProgressBar:
    """Show each step of the run as a rich progress bar."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<17}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task: TaskID | None = None
        self._began = 0.0

    def __enter__(self) -> _ProgressBar:
        self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._finish()
        self._progress.stop()

    def phase(self, name: str, total: int) -> None:
        """Begin a step: finish the bar of the one before."""
        self._finish()
        self._task = self._progress.add_task(name, total=total, rate="")
        self._began = time.perf_counter()

    def advance(self, count: int = 1) -> None:
        """Move the current bar on."""
        if self._task is not None:
            self._progress.advance(self._task, count)

    def _finish(self) -> None:
        if self._task is None:
            return
        task = self._progress.tasks[-1]
        elapsed = max(time.perf_counter() - self._began, 1e-9)
        self._progress.update(
            self._task,
            total=task.completed,
            rate=f"{task.completed / elapsed:,.0f}/s",
        )
        self._task = None


def _print_summary(
    console: Console, report: Report, report_path: Path | None, plot_path: Path | None
) -> None:
    table = Table(title="Replay summary", title_justify="left", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("target", report.target)
    table.add_row("rows", f"{report.rows:,}")
    table.add_row("sessions replayed", f"{report.sessions_replayed:,}")
    for reason, count in report.skipped.items():
        table.add_row(f"  skipped: {reason}", f"{count:,}")
    table.add_row("energy", f"{report.kwh_total:,} kWh")
    table.add_row("grid reward", _usd(report.grid_reward_cents))
    table.add_row("merchant co-fund", _usd(report.merchant_reward_cents))
    table.add_row("total reward", _usd(report.total_reward_cents))
    table.add_row("wallets rose by", _usd(report.wallet_total_cents))
    check = (
        "[green]ok[/]"
        if report.wallet_check == "ok"
        else f"[red]{len(report.wallet_check)} mismatch(es)[/]"
    )
    table.add_row(f"wallet check ({report.users_checked:,} drivers)", check)
    table.add_row(
        "replay time",
        f"{report.duration_s:,.1f} s ({report.sessions_per_second:,.0f} sessions/s)",
    )
    console.print(table)

    windows = Table(title="By window (at plug-in)", title_justify="left")
    for heading in ("window", "sessions", "kWh", "grid", "total"):
        windows.add_column(heading, justify="left" if heading == "window" else "right")
    for window, totals in report.by_window.items():
        windows.add_row(
            window,
            f"{totals.sessions:,}",
            f"{totals.kwh:,}",
            _usd(totals.grid_reward_cents),
            _usd(totals.total_reward_cents),
        )
    console.print(windows)

    if not isinstance(report.wallet_check, str):
        for mismatch in report.wallet_check[:10]:
            if mismatch.actual_cents is None:
                seen = "could not be read"
            else:
                seen = (
                    f"rose {mismatch.actual_cents} cents (pending "
                    f"{mismatch.pending_cents})"
                )
            console.print(
                f"[red]wallet {mismatch.user_id}[/]: {seen}, expected "
                f"{mismatch.expected_cents}"
            )
    for label, path in (("report", report_path), ("plot", plot_path)):
        if path is not None:
            console.print(f"{label} written to {path}")


def _usd(cents: int) -> str:
    return f"${cents / 100:,.2f}"
