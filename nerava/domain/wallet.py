"""The wallet: an append-only ledger of integer-cent entries per user."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import msgspec

__all__ = [
    "SYSTEM_ACTOR",
    "Entry",
    "EntryKind",
    "PendingCredit",
    "WalletView",
]

SYSTEM_ACTOR = "system"


class EntryKind(StrEnum):
    """Why money moved."""

    CHARGE_REWARD = "charge_reward"
    REDEMPTION = "redemption"
    ADJUSTMENT = "adjustment"


class Entry(msgspec.Struct, frozen=True, kw_only=True):
    """One ledger line; a redemption is negative, a reward positive."""

    entry_id: str
    user_id: str
    kind: EntryKind
    amount_cents: int
    created_at: datetime
    session_id: str | None = None
    reason: str | None = None
    actor: str = SYSTEM_ACTOR
    reverses_entry_id: str | None = None


class PendingCredit(msgspec.Struct, frozen=True, kw_only=True):
    """A reward accepted at a stop and not yet in the wallet."""

    session_id: str
    user_id: str
    amount_cents: int
    created_at: datetime
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None


class WalletView(msgspec.Struct, frozen=True, kw_only=True):
    """A wallet as read: balance, rewards still pending, latest entries."""

    user_id: str
    balance_cents: int
    pending_cents: int
    entries: tuple[Entry, ...]
