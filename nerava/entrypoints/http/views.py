"""Domain objects rendered as the API's JSON.

A stop's body is rendered from the stored session alone, so every repeat of
the stop (and the response kept under an idempotency key) has the same bytes
as the first answer, including the wallet balance it reported then.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

import msgspec

from nerava.domain.energy import kwh_from_wh
from nerava.domain.rewards import ReceiptLine
from nerava.domain.sessions import Session, SessionState
from nerava.domain.usecases import Posted, SessionView
from nerava.domain.wallet import Entry, WalletView
from nerava.domain.windows import Window, WindowSchedule
from nerava.entrypoints.http.schemas import (
    ActiveWindowOut,
    EntriesOut,
    EntryOut,
    PostedOut,
    ReceiptLineOut,
    SessionOut,
    StartOut,
    StopOut,
    WalletOut,
    WindowOut,
    encode,
)

__all__ = [
    "cancelled_body",
    "entries_body",
    "entry_out",
    "posted_body",
    "session_body",
    "start_body",
    "stop_body",
    "stop_message",
    "stop_out",
    "wallet_body",
    "window_body",
    "window_out",
    "windows_body",
]


def _utc(at: datetime) -> datetime:
    return at.astimezone(UTC)


def _hhmm(at: time) -> str:
    return f"{at.hour:02d}:{at.minute:02d}"


def _usd(cents: int) -> Decimal:
    return Decimal(cents) / 100


def _plain(value: Decimal) -> Decimal:
    """Write a decimal without an exponent (``1E+1`` as ``10``), same value."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        return value.quantize(Decimal(1))
    return value


def window_out(view: WindowSchedule) -> WindowOut:
    """Describe a window as seen at an instant."""
    window, occurrence = view.window, view.occurrence
    start = _utc(occurrence.start) if occurrence else None
    end = _utc(occurrence.end) if occurrence else None
    return WindowOut(
        id=window.id,
        label=window.label,
        timezone=window.timezone,
        start_local=_hhmm(window.start_local),
        end_local=_hhmm(window.end_local),
        days=list(window.days),
        start_date=window.start_date,
        end_date=window.end_date,
        hub_ids=list(window.hub_ids),
        price_per_kwh=_plain(window.price_per_kwh),
        multiplier=_plain(window.multiplier),
        start_utc=_hhmm(start.time()) if start else None,
        end_utc=_hhmm(end.time()) if end else None,
        active_now=view.active_now,
        next_start=start,
        next_end=end,
    )


def windows_body(views: list[WindowSchedule]) -> bytes:
    """Render a list of windows."""
    return encode([window_out(v) for v in views])


def window_body(view: WindowSchedule) -> bytes:
    """Render one window."""
    return encode(window_out(view))


def _captured(session: Session, window_id: str | None) -> Window | None:
    if window_id is None:
        return None
    return next((w for w in session.terms.windows if w.id == window_id), None)


def _active_window(session: Session) -> ActiveWindowOut | None:
    window = _captured(session, session.active_window_id)
    if window is None:
        return None
    return ActiveWindowOut(
        id=window.id,
        label=window.label,
        price_per_kwh=_plain(window.price_per_kwh),
        multiplier=_plain(window.multiplier),
    )


def start_body(session: Session) -> bytes:
    """Render the answer to a charge start."""
    return encode(
        StartOut(
            session_id=session.session_id,
            user_id=session.user_id,
            hub_id=session.hub_id,
            started_at=_utc(session.started_at),
            active_window=_active_window(session),
        )
    )


def _line(line: ReceiptLine) -> ReceiptLineOut:
    return ReceiptLineOut(
        window_id=line.window_id,
        start=_utc(line.start),
        end=_utc(line.end),
        kwh=line.kwh,
        price_per_kwh=_plain(line.price_per_kwh),
        multiplier=_plain(line.multiplier),
        grid_reward_cents=line.grid_reward_cents,
    )


def _dollars(cents: int) -> str:
    return f"${_usd(cents):.2f}"


def stop_message(session: Session) -> str:
    """Say in one sentence what a stopped session earned, and where from."""
    reward = session.reward
    if reward is None or session.wh is None:
        return ""
    kwh = f"{kwh_from_wh(session.wh).normalize():f}"
    cofund = f"{_dollars(reward.merchant_cents)} merchant co-fund"
    window = _captured(session, reward.window_applied)
    if window is None:
        return (
            f"You earned {_dollars(reward.total_cents)} for {kwh} kWh charged "
            f"outside any reward window: the {cofund}."
        )
    during = window.label
    if len({line.window_id for line in reward.lines}) > 1:
        during += " and other windows"
    return (
        f"You earned {_dollars(reward.total_cents)} for {kwh} kWh charged "
        f"during {during}: {_dollars(reward.grid_cents)} grid reward plus a "
        f"{cofund}."
    )


def stop_out(session: Session) -> StopOut:
    """Describe a stopped session as its stop answered."""
    reward = session.reward
    if (
        reward is None
        or session.stopped_at is None
        or session.wh is None
        or session.credit_status_at_stop is None
    ):
        raise ValueError(f"session {session.session_id!r} is not stopped")
    return StopOut(
        session_id=session.session_id,
        user_id=session.user_id,
        hub_id=session.hub_id,
        started_at=_utc(session.started_at),
        stopped_at=_utc(session.stopped_at),
        kwh=kwh_from_wh(session.wh),
        window_applied=reward.window_applied,
        grid_reward_cents=reward.grid_cents,
        merchant_reward_cents=reward.merchant_cents,
        total_reward_cents=reward.total_cents,
        grid_reward_usd=_usd(reward.grid_cents),
        merchant_reward_usd=_usd(reward.merchant_cents),
        total_reward_usd=_usd(reward.total_cents),
        credit_status=session.credit_status_at_stop.value,
        wallet_balance_cents=session.balance_at_stop_cents,
        breakdown=[_line(line) for line in reward.lines],
        message=stop_message(session),
    )


def stop_body(session: Session) -> bytes:
    """Render the answer to a charge stop, the same bytes for every repeat."""
    return encode(stop_out(session))


def session_body(view: SessionView) -> bytes:
    """Render a session with the live state of its credit.

    A stopped session carries every field of its stop's answer, except that
    ``credit_status`` is live; ``wallet_balance_cents`` stays what the stop
    answered (the balance right after a synchronous credit, else null).
    """
    session = view.session
    base = SessionOut(
        state=session.state.value,
        session_id=session.session_id,
        user_id=session.user_id,
        hub_id=session.hub_id,
        started_at=_utc(session.started_at),
        active_window=_active_window(session),
    )
    if session.state is SessionState.STOPPED:
        stop = stop_out(session)
        status = view.credit_status or session.credit_status_at_stop
        stop_fields = {f: getattr(stop, f) for f in stop.__struct_fields__}
        stop_fields["credit_status"] = status.value if status else stop.credit_status
        base = msgspec.structs.replace(base, **stop_fields)
    elif session.state is SessionState.CANCELLED and session.cancelled_at:
        base = msgspec.structs.replace(
            base,
            cancelled_at=_utc(session.cancelled_at),
            cancel_reason=session.cancel_reason or "",
        )
    return encode(base)


def cancelled_body(session: Session) -> bytes:
    """Render a cancelled session."""
    return session_body(SessionView(session, None))


def entry_out(entry: Entry) -> EntryOut:
    """Describe one ledger entry."""
    return EntryOut(
        entry_id=entry.entry_id,
        kind=entry.kind.value,
        amount_cents=entry.amount_cents,
        session_id=entry.session_id,
        reason=entry.reason,
        actor=entry.actor,
        reverses_entry_id=entry.reverses_entry_id,
        created_at=_utc(entry.created_at),
    )


def wallet_body(view: WalletView) -> bytes:
    """Render a wallet."""
    return encode(
        WalletOut(
            user_id=view.user_id,
            balance_cents=view.balance_cents,
            pending_cents=view.pending_cents,
            entries=[entry_out(e) for e in view.entries],
        )
    )


def entries_body(entries: list[Entry], next_cursor: str | None) -> bytes:
    """Render a page of entries."""
    return encode(
        EntriesOut(entries=[entry_out(e) for e in entries], next_cursor=next_cursor)
    )


def posted_body(posted: Posted) -> bytes:
    """Render a debit or adjustment with the balance after it."""
    return encode(
        PostedOut(entry=entry_out(posted.entry), balance_cents=posted.balance_cents)
    )
