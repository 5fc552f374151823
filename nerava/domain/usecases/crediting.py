"""Putting a session's reward into its wallet, in the caller's unit of work."""

from __future__ import annotations

from datetime import datetime

from nerava.domain.events import RewardCredited
from nerava.domain.wallet import Entry, EntryKind
from nerava.ports.clock import IdGenerator
from nerava.ports.storage import UnitOfWork

__all__ = ["credit_reward"]


async def credit_reward(
    uow: UnitOfWork,
    ids: IdGenerator,
    *,
    session_id: str,
    user_id: str,
    amount_cents: int,
    now: datetime,
    mode: str,
) -> Entry | None:
    """Append a session's ``charge_reward`` and its event, unless already there.

    Returns:
        The entry appended, or None when the ledger already held the reward.
    """
    await uow.ledger.lock_wallet(user_id)
    entry = Entry(
        entry_id=ids.new_id("ent"),
        user_id=user_id,
        kind=EntryKind.CHARGE_REWARD,
        amount_cents=amount_cents,
        created_at=now,
        session_id=session_id,
    )
    if not await uow.ledger.append(entry):
        return None
    await uow.outbox.append(
        [
            RewardCredited(
                event_id=ids.new_id("evt"),
                occurred_at=now,
                session_id=session_id,
                user_id=user_id,
                entry_id=entry.entry_id,
                amount_cents=amount_cents,
                mode=mode,
            )
        ]
    )
    return entry
