"""Example values for the contract suites: sessions, entries, credits, keys."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import msgspec

from nerava.domain.access import ApiKey, IdempotencyRecord, Scope
from nerava.domain.events import ChargeStarted, ChargeStopped, DomainEvent
from nerava.domain.rewards import MeterValue, ReceiptLine, Reward, RewardPolicy, Terms
from nerava.domain.sessions import CreditStatus, Session, SessionState
from nerava.domain.wallet import Entry, EntryKind, PendingCredit
from nerava.domain.windows import Window, default_windows

T0 = datetime(2024, 6, 3, 10, 30, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def a_window(window_id: str = "night_owl", **changes: object) -> Window:
    """A window unlike the defaults in every field."""
    window = Window(
        id=window_id,
        label="Night Owl",
        start_local=time(22, 30),
        end_local=time(6, 0),
        price_per_kwh=Decimal("0.125"),
        multiplier=Decimal("1.50"),
        timezone="Europe/Paris",
        days=(1, 3, 5),
        start_date=date(2024, 1, 1),
        end_date=date(2025, 1, 1),
        hub_ids=("hub-1", "hub-2"),
    )
    return msgspec.structs.replace(window, **changes)


def some_terms() -> Terms:
    """The terms a session captures: the default windows and a custom one."""
    return Terms(
        windows=(*default_windows(), a_window()),
        policy=RewardPolicy.PRORATED,
        cofund_cents=75,
    )


def a_session(session_id: str = "ses_1", user_id: str = "driver-1") -> Session:
    """An active session started at ``T0``."""
    return Session(
        session_id=session_id,
        user_id=user_id,
        hub_id="hub-1",
        started_at=T0,
        terms=some_terms(),
        active_window_id="solar_surplus",
    )


def stopped(session: Session, *, wh: int = 8500) -> Session:
    """The session stopped 40 minutes after its start, with its reward."""
    stop = session.started_at + 40 * MINUTE
    line = ReceiptLine(
        window_id="solar_surplus",
        start=session.started_at,
        end=stop,
        kwh=Decimal(wh) / 1000,
        price_per_kwh=Decimal("0.03"),
        multiplier=Decimal("1.0"),
        grid_reward_cents=26,
    )
    return msgspec.structs.replace(
        session,
        state=SessionState.STOPPED,
        stopped_at=stop,
        wh=wh,
        meter_values=(MeterValue(session.started_at + 20 * MINUTE, wh // 2),),
        reward=Reward(
            window_applied="solar_surplus",
            grid_cents=26,
            merchant_cents=75,
            lines=(line,),
        ),
        credit_status_at_stop=CreditStatus.CREDITED,
        balance_at_stop_cents=101,
    )


def cancelled(session: Session) -> Session:
    """The session cancelled five minutes after its start."""
    return msgspec.structs.replace(
        session,
        state=SessionState.CANCELLED,
        cancelled_at=session.started_at + 5 * MINUTE,
        cancel_reason="hub lost the stop",
    )


def a_reward(
    session_id: str, cents: int = 101, user_id: str = "driver-1", entry_id: str = ""
) -> Entry:
    """A session's charge reward."""
    return Entry(
        entry_id=entry_id or f"ent_{session_id}",
        user_id=user_id,
        kind=EntryKind.CHARGE_REWARD,
        amount_cents=cents,
        created_at=T0,
        session_id=session_id,
    )


def a_debit(entry_id: str, cents: int, user_id: str = "driver-1") -> Entry:
    """A redemption of ``cents`` (stored negative)."""
    return Entry(
        entry_id=entry_id,
        user_id=user_id,
        kind=EntryKind.REDEMPTION,
        amount_cents=-cents,
        created_at=T0 + MINUTE,
        reason="coffee",
        actor="key_wallet",
    )


def an_adjustment(entry_id: str, cents: int, user_id: str = "driver-1") -> Entry:
    """An operator's correction that reverses another entry."""
    return Entry(
        entry_id=entry_id,
        user_id=user_id,
        kind=EntryKind.ADJUSTMENT,
        amount_cents=cents,
        created_at=T0 + 2 * MINUTE,
        reason="goodwill",
        actor="key_admin",
        reverses_entry_id="ent_0",
    )


def a_credit(
    session_id: str,
    cents: int = 101,
    user_id: str = "driver-1",
    created_at: datetime = T0,
) -> PendingCredit:
    """A reward waiting to be credited."""
    return PendingCredit(
        session_id=session_id,
        user_id=user_id,
        amount_cents=cents,
        created_at=created_at,
    )


def a_key(
    key_id: str = "key_1", digest: str = "ab" * 32, created_at: datetime = T0
) -> ApiKey:
    """An API key limited to two hubs."""
    return ApiKey(
        key_id=key_id,
        name="hub fleet",
        digest=digest,
        scopes=(Scope.EVENTS_WRITE, Scope.WALLET_READ),
        hub_ids=("hub-1", "hub-2"),
        created_at=created_at,
    )


def a_claim(
    key: str = "idem-1", scope: str = "key_1:POST /stop", at: datetime = T0
) -> IdempotencyRecord:
    """A claim of an idempotency key, locked for a minute."""
    return IdempotencyRecord(
        scope=scope,
        key=key,
        fingerprint="fp-1",
        created_at=at,
        locked_until=at + MINUTE,
    )


def a_start(session_id: str, event_id: str = "") -> ChargeStarted:
    """The event of a session's start."""
    return ChargeStarted(
        event_id=event_id or f"evt_start_{session_id}",
        occurred_at=T0,
        session_id=session_id,
        user_id="driver-1",
        hub_id="hub-1",
        started_at=T0,
        window_id="solar_surplus",
    )


def a_stop(session_id: str) -> ChargeStopped:
    """The event of a session's stop."""
    return ChargeStopped(
        event_id=f"evt_stop_{session_id}",
        occurred_at=T0 + 40 * MINUTE,
        session_id=session_id,
        user_id="driver-1",
        hub_id="hub-1",
        stopped_at=T0 + 40 * MINUTE,
        wh=8500,
        window_applied="solar_surplus",
        grid_reward_cents=26,
        merchant_reward_cents=75,
        total_reward_cents=101,
        credit_status="credited",
    )


def events_of(session_id: str) -> list[DomainEvent]:
    """A session's start and stop events."""
    return [a_start(session_id), a_stop(session_id)]
