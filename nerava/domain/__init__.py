"""The rules of Nerava: windows, sessions, rewards and the wallet, without I/O.

The model is imported eagerly; the use cases, which depend on the ports, are
loaded on first use so that ``nerava.ports`` and ``nerava.domain`` can import
each other's types in either order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nerava.domain.access import ApiKey, IdempotencyRecord, Scope, StoredResponse
from nerava.domain.energy import kwh_from_wh, round_kwh, wh_from_kwh
from nerava.domain.errors import (
    Conflict,
    DependencyUnavailable,
    FieldError,
    Forbidden,
    IdempotencyKeyReused,
    ImplausibleEnergy,
    InsufficientFunds,
    NeravaError,
    NotFound,
    RequestInProgress,
    SessionAlreadyActive,
    SessionAlreadyStopped,
    SessionNotFound,
    Unauthenticated,
    ValidationFailed,
    WindowNotFound,
)
from nerava.domain.events import (
    ChargeCancelled,
    ChargeStarted,
    ChargeStopped,
    DomainEvent,
    RewardCredited,
    WalletAdjusted,
    WalletDebited,
    WindowDeleted,
    WindowPut,
    decode_event,
    encode_event,
)
from nerava.domain.rewards import (
    MeterValue,
    ReceiptLine,
    Reward,
    RewardPolicy,
    Terms,
    compute_reward,
)
from nerava.domain.sessions import ChargingRules, CreditStatus, Session, SessionState
from nerava.domain.wallet import Entry, EntryKind, PendingCredit, WalletView
from nerava.domain.windows import (
    Occurrence,
    Window,
    WindowSchedule,
    applying_window,
    default_windows,
    next_occurrence,
    occurrence_at,
    validate_window,
)

if TYPE_CHECKING:
    from nerava.domain.usecases import (
        Actor,
        Catalog,
        Charging,
        Credits,
        Idempotency,
        IdempotentWrite,
        Keys,
        MeterReading,
        Posted,
        Relay,
        SessionView,
        StartCharge,
        StopCharge,
        Wallets,
    )

_USE_CASES = {
    "Actor",
    "Catalog",
    "Charging",
    "Credits",
    "Idempotency",
    "IdempotentWrite",
    "Keys",
    "MeterReading",
    "Posted",
    "Relay",
    "SessionView",
    "StartCharge",
    "StopCharge",
    "Wallets",
}


def __getattr__(name: str) -> Any:
    if name in _USE_CASES:
        from nerava.domain import usecases

        return getattr(usecases, name)
    raise AttributeError(f"module 'nerava.domain' has no attribute {name!r}")


__all__ = [
    "Actor",
    "ApiKey",
    "Catalog",
    "ChargeCancelled",
    "ChargeStarted",
    "ChargeStopped",
    "Charging",
    "ChargingRules",
    "Conflict",
    "CreditStatus",
    "Credits",
    "DependencyUnavailable",
    "DomainEvent",
    "Entry",
    "EntryKind",
    "FieldError",
    "Forbidden",
    "Idempotency",
    "IdempotencyKeyReused",
    "IdempotencyRecord",
    "IdempotentWrite",
    "ImplausibleEnergy",
    "InsufficientFunds",
    "Keys",
    "MeterReading",
    "MeterValue",
    "NeravaError",
    "NotFound",
    "Occurrence",
    "PendingCredit",
    "Posted",
    "ReceiptLine",
    "Relay",
    "RequestInProgress",
    "Reward",
    "RewardCredited",
    "RewardPolicy",
    "Scope",
    "Session",
    "SessionAlreadyActive",
    "SessionAlreadyStopped",
    "SessionNotFound",
    "SessionState",
    "SessionView",
    "StartCharge",
    "StopCharge",
    "StoredResponse",
    "Terms",
    "Unauthenticated",
    "ValidationFailed",
    "WalletAdjusted",
    "WalletDebited",
    "WalletView",
    "Wallets",
    "Window",
    "WindowDeleted",
    "WindowNotFound",
    "WindowPut",
    "WindowSchedule",
    "applying_window",
    "compute_reward",
    "decode_event",
    "default_windows",
    "encode_event",
    "kwh_from_wh",
    "next_occurrence",
    "occurrence_at",
    "round_kwh",
    "validate_window",
    "wh_from_kwh",
]
