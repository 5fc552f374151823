"""Draw a replay's report: when the energy flowed, and what each window paid."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

from nerava.replay.report import EMBEDDED, NO_WINDOW, Report, ShadedWindow

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.patches import Patch

__all__ = ["draw_report"]

_COLOURS: Final = {
    "solar_surplus": "#f0a30a",
    "green_hour": "#2a9d5c",
    NO_WINDOW: "#aab4be",
}
_PALETTE: Final = ("#3b75af", "#c4488f", "#7b5ea7", "#d1603d", "#2f8f9d")
_OFF_WINDOW: Final = "#c3cbd3"
_INK: Final = "#2b2f33"
_MUTED: Final = "#5f6870"
_RULE: Final = "#e6e9ec"


def draw_report(report: Report, path: Path) -> None:
    """Write a PNG: energy by UTC hour with the windows shaded, then rewards."""
    # Figure without pyplot: no global state, and Agg renders the PNG.
    from matplotlib.figure import Figure
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    figure = Figure(
        figsize=(12, 8.5),
        dpi=110,
        layout=ConstrainedLayoutEngine(h_pad=0.15, hspace=0.08),
    )
    hours, rewards = figure.subplots(2, 1, height_ratios=[3, 2])
    colours = _colours(report)
    _draw_hours(hours, report, colours)
    _draw_rewards(rewards, report, colours)
    figure.suptitle(
        _text(
            f"Drivers would have earned {_usd(report.total_reward_cents)} for "
            f"{_kwh(float(report.kwh_total))} in {report.sessions_replayed:,} "
            "sessions"
        ),
        fontsize=14,
        fontweight="bold",
        color=_INK,
        x=0.01,
        ha="left",
    )
    where = (
        "an embedded Nerava service"
        if report.target == EMBEDDED
        else f"the Nerava API at {report.target}"
    )
    figure.supxlabel(
        f"{report.file} ({report.format}), replayed through {where}; windows "
        "as the service lists them",
        fontsize=8.5,
        color=_MUTED,
        x=0.99,
        ha="right",
    )
    figure.savefig(path, facecolor="white")


def _draw_hours(ax: Axes, report: Report, colours: dict[str, str]) -> None:
    spans = {w.id: _span_hours(w) for w in report.windows}
    energy = [float(kwh) for kwh in report.kwh_by_hour_utc]

    for window in report.windows:
        for start, end in spans[window.id]:
            ax.axvspan(start, end, color=colours[window.id], alpha=0.13, lw=0)
    ax.bar(
        [hour + 0.5 for hour in range(24)],
        energy,
        width=0.8,
        color=[_hour_colour(h, report.windows, spans, colours) for h in range(24)],
        zorder=3,
    )

    handles = [
        _patch(
            colours[w.id],
            _text(f"{w.label}  {w.start_utc}–{w.end_utc} UTC  {_terms(w)}"),
        )
        for w in report.windows
        if spans[w.id]
    ]
    handles.append(_patch(_OFF_WINDOW, "outside every window"))
    ax.legend(handles=handles, loc="upper left", frameon=False, fontsize=9.5)
    ax.set_title(
        "Energy delivered by hour of day (UTC): "
        f"{_share(_kwh_in_windows(energy, spans), sum(energy))} of it flowed "
        "inside a window",
        loc="left",
        fontsize=11,
        color=_INK,
    )
    ax.set_xlim(0, 24)
    ax.set_xticks(range(0, 25, 2), [f"{hour:02d}:00" for hour in range(0, 25, 2)])
    ax.set_ylabel("kWh (spread over each session's charging time)", color=_MUTED)
    ax.set_ylim(0, max([*energy, 1.0]) * 1.3)
    ax.yaxis.set_major_formatter(lambda value, _: f"{value:,.0f}")
    ax.grid(axis="y", color=_RULE, zorder=0)
    _tidy(ax)


def _draw_rewards(ax: Axes, report: Report, colours: dict[str, str]) -> None:
    labels = {w.id: w.label for w in report.windows}
    keys = list(report.by_window)
    grid = [report.by_window[key].grid_reward_cents / 100 for key in keys]
    cofund = [report.by_window[key].merchant_reward_cents / 100 for key in keys]
    widest = max([g + c for g, c in zip(grid, cofund, strict=True)] + [1.0])
    rows = list(range(len(keys)))
    total_kwh = float(report.kwh_total)

    palette = [colours[key] for key in keys]
    ax.barh(rows, grid, color=palette, height=0.62, zorder=3)
    ax.barh(rows, cofund, left=grid, color=palette, alpha=0.35, height=0.62, zorder=3)
    for row, key in enumerate(keys):
        totals = report.by_window[key]
        x = grid[row] + cofund[row] + widest * 0.012
        ax.text(
            x,
            row - 0.1,
            _text(
                f"{_usd(totals.total_reward_cents)}   {totals.sessions:,} "
                f"sessions, {_kwh(float(totals.kwh))}"
            ),
            va="bottom",
            fontsize=10,
            fontweight="bold",
            color=_INK,
        )
        ax.text(
            x,
            row + 0.05,
            _text(
                f"{_usd(totals.grid_reward_cents)} grid + "
                f"{_usd(totals.merchant_reward_cents)} co-fund"
            ),
            va="top",
            fontsize=9,
            color=_MUTED,
        )

    ax.set_yticks(
        rows,
        [labels.get(key, key) if key != NO_WINDOW else "No window" for key in keys],
    )
    ax.invert_yaxis()
    ax.set_xlim(0, widest * 1.55)
    ax.xaxis.set_major_formatter(lambda value, _: _text(f"${value:,.0f}"))
    ax.set_title(
        "Rewards by the window active at plug-in (solid: grid reward, light: "
        f"merchant co-fund); {_share(_plugged_in_windows(report), total_kwh)} "
        "of the energy was paid at a window's rate",
        loc="left",
        fontsize=11,
        color=_INK,
    )
    ax.grid(axis="x", color=_RULE, zorder=0)
    _tidy(ax)


def _colours(report: Report) -> dict[str, str]:
    colours = dict(_COLOURS)
    spare = iter(_PALETTE * (1 + len(report.windows) // len(_PALETTE)))
    for key in [w.id for w in report.windows] + list(report.by_window):
        if key not in colours:
            colours[key] = next(spare)
    return colours


def _span_hours(window: ShadedWindow) -> list[tuple[float, float]]:
    """The window's UTC hours as spans on a 0-24 axis, split at midnight."""
    if window.start_utc is None or window.end_utc is None:
        return []
    start, end = _hour(window.start_utc), _hour(window.end_utc)
    if end > start:
        return [(start, end)]
    return [(start, 24.0), (0.0, end)]


def _hour_colour(
    hour: int,
    windows: list[ShadedWindow],
    spans: dict[str, list[tuple[float, float]]],
    colours: dict[str, str],
) -> str:
    """Colour an hour by the best-paying window covering half of it or more."""
    best: tuple[float, str] | None = None
    for window in windows:
        covered = sum(
            max(0.0, min(end, hour + 1) - max(start, hour))
            for start, end in spans[window.id]
        )
        rate = float(window.price_per_kwh * window.multiplier)
        if covered >= 0.5 and (best is None or rate > best[0]):
            best = (rate, window.id)
    return _OFF_WINDOW if best is None else colours[best[1]]


def _kwh_in_windows(
    energy: list[float], spans: dict[str, list[tuple[float, float]]]
) -> float:
    """Energy of the hours the windows cover, pro rata for partial hours."""
    inside = 0.0
    for hour, kwh in enumerate(energy):
        covered = max(
            (
                sum(max(0.0, min(e, hour + 1) - max(s, hour)) for s, e in window)
                for window in spans.values()
            ),
            default=0.0,
        )
        inside += kwh * min(covered, 1.0)
    return inside


def _plugged_in_windows(report: Report) -> float:
    outside = report.by_window.get(NO_WINDOW)
    return float(report.kwh_total) - (float(outside.kwh) if outside else 0.0)


def _share(part: float, whole: float) -> str:
    return f"{part / whole:.0%}" if whole else "none"


def _text(text: str) -> str:
    """Keep dollar signs literal: two in one label would start mathtext."""
    return text.replace("$", r"\$")


def _hour(text: str) -> float:
    hours, minutes = text.split(":")[:2]
    return int(hours) + int(minutes) / 60


def _terms(window: ShadedWindow) -> str:
    return f"${window.price_per_kwh}/kWh ×{window.multiplier.normalize()}"


def _usd(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def _kwh(kwh: float) -> str:
    return f"{kwh:,.0f} kWh" if kwh >= 100 else f"{kwh:,.1f} kWh"


def _patch(colour: str, label: str) -> Patch:
    from matplotlib.patches import Patch

    return Patch(facecolor=colour, label=label)


def _tidy(ax: Axes) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#c5ccd3")
    ax.tick_params(colors=_INK, length=0, labelsize=9.5)
