"""Sum up a replay: what drivers earned, by window and by hub, and how fast.

Energy is summed from the kWh the service returned (already rounded to
watt-hours), money from the cents it returned; nothing here is recomputed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Final

import msgspec

from nerava.domain.energy import KWH_QUANTUM
from nerava.replay.client import Stopped, WindowTerms
from nerava.replay.parsing import ChargeSession, ParsedFile
from nerava.replay.runner import Replayed, WalletMismatch

__all__ = [
    "EMBEDDED",
    "NO_WINDOW",
    "Report",
    "ShadedWindow",
    "Totals",
    "build_report",
    "encode_report",
    "kwh_by_hour",
]

NO_WINDOW: Final = "none"
# The target named in a report when the replay ran its own service.
EMBEDDED: Final = "embedded"
_HOUR: Final = timedelta(hours=1)


class Totals(msgspec.Struct, kw_only=True):
    """Sessions, energy and rewards of one group of replayed sessions."""

    sessions: int = 0
    kwh: Decimal = Decimal("0.000")
    grid_reward_cents: int = 0
    merchant_reward_cents: int = 0
    total_reward_cents: int = 0

    def add(self, stopped: Stopped) -> None:
        """Count one stopped session in."""
        self.sessions += 1
        self.kwh += stopped.kwh
        self.grid_reward_cents += stopped.grid_reward_cents
        self.merchant_reward_cents += stopped.merchant_reward_cents
        self.total_reward_cents += stopped.total_reward_cents


class ShadedWindow(msgspec.Struct, frozen=True, kw_only=True):
    """A window's terms and its UTC hours, as the plot shades it."""

    id: str
    label: str
    start_utc: str | None
    end_utc: str | None
    price_per_kwh: Decimal
    multiplier: Decimal


class Report(msgspec.Struct, kw_only=True):
    """What a replay did and what the drivers would have earned."""

    file: str
    format: str
    target: str
    rows: int
    sessions_replayed: int
    skipped: dict[str, int]
    kwh_total: Decimal
    grid_reward_cents: int
    merchant_reward_cents: int
    total_reward_cents: int
    # How much the touched wallets rose in all; equal to total_reward_cents
    # when the wallet check passes.
    wallet_total_cents: int
    by_window: dict[str, Totals]
    by_hub: dict[str, Totals]
    # Energy spread evenly over each session's charging time: an estimate for
    # the plot, not a sum of answers.
    kwh_by_hour_utc: list[Decimal]
    windows: list[ShadedWindow]
    duration_s: float
    sessions_per_second: float
    settle_s: float
    users_checked: int
    wallet_check: str | list[WalletMismatch]


def build_report(
    parsed: ParsedFile,
    replayed: Replayed,
    *,
    file: Path,
    target: str,
) -> Report:
    """Put a parsed file and the service's answers together."""
    sessions = parsed.sessions
    totals = Totals()
    by_window: dict[str, Totals] = {}
    by_hub: dict[str, Totals] = {}
    for index, stopped in replayed.stops.items():
        totals.add(stopped)
        window = stopped.window_applied or NO_WINDOW
        by_window.setdefault(window, Totals()).add(stopped)
        by_hub.setdefault(sessions[index].hub_id, Totals()).add(stopped)

    skipped = dict(parsed.skipped)
    for code, count in replayed.refused.items():
        skipped[code] = skipped.get(code, 0) + count

    rate = totals.sessions / replayed.duration_s if replayed.duration_s > 0 else 0.0
    return Report(
        file=file.name,
        format=str(parsed.format),
        target=target,
        rows=parsed.rows,
        sessions_replayed=totals.sessions,
        skipped=dict(sorted(skipped.items())),
        kwh_total=totals.kwh.quantize(KWH_QUANTUM),
        grid_reward_cents=totals.grid_reward_cents,
        merchant_reward_cents=totals.merchant_reward_cents,
        total_reward_cents=totals.total_reward_cents,
        wallet_total_cents=replayed.wallet_rise_cents,
        by_window=_sorted_windows(by_window),
        by_hub=dict(sorted(by_hub.items())),
        kwh_by_hour_utc=kwh_by_hour(
            (sessions[index], stopped.kwh) for index, stopped in replayed.stops.items()
        ),
        windows=[_shaded(window) for window in replayed.windows],
        duration_s=round(replayed.duration_s, 3),
        sessions_per_second=round(rate, 1),
        settle_s=round(replayed.settle_s, 3),
        users_checked=replayed.users_checked,
        wallet_check=list(replayed.mismatches) if replayed.mismatches else "ok",
    )


def encode_report(report: Report) -> bytes:
    """Write the report as indented JSON, decimals as JSON numbers."""
    raw = msgspec.json.Encoder(decimal_format="number").encode(report)
    return msgspec.json.format(raw, indent=2) + b"\n"


def kwh_by_hour(delivered: Iterable[tuple[ChargeSession, Decimal]]) -> list[Decimal]:
    """Spread each session's energy evenly over its charging time, by UTC hour."""
    hours = [0.0] * 24
    for session, kwh in delivered:
        start, end = session.started_at, session.charged_until
        seconds = (end - start).total_seconds()
        if seconds <= 0:
            hours[start.hour] += float(kwh)
            continue
        power = float(kwh) / seconds
        for hour, share in _hour_shares(start, end):
            hours[hour] += power * share
    return [Decimal(f"{value:.3f}") for value in hours]


def _hour_shares(start: datetime, end: datetime) -> Iterable[tuple[int, float]]:
    """Yield (UTC hour of day, seconds of [start, end) in it)."""
    # Whole days add the same to every hour; only the rest needs walking.
    days = (end - start) // timedelta(days=1)
    if days:
        for hour in range(24):
            yield hour, days * 3600.0
        start += timedelta(days=days)
    cursor = start
    while cursor < end:
        boundary = cursor.replace(minute=0, second=0, microsecond=0) + _HOUR
        upto = min(boundary, end)
        yield cursor.hour, (upto - cursor).total_seconds()
        cursor = upto


def _sorted_windows(by_window: dict[str, Totals]) -> dict[str, Totals]:
    named = sorted(key for key in by_window if key != NO_WINDOW)
    order = [*named, NO_WINDOW] if NO_WINDOW in by_window else named
    return {key: by_window[key] for key in order}


def _shaded(window: WindowTerms) -> ShadedWindow:
    return ShadedWindow(
        id=window.id,
        label=window.label or window.id,
        start_utc=window.start_utc,
        end_utc=window.end_utc,
        price_per_kwh=window.price_per_kwh,
        multiplier=window.multiplier,
    )
