"""Reading wallets, and moving money out of or into them."""

from __future__ import annotations

from nerava.domain.errors import InsufficientFunds, ValidationFailed
from nerava.domain.events import WalletAdjusted, WalletDebited
from nerava.domain.usecases.commands import Actor, IdempotentWrite, Posted
from nerava.domain.validation import require_text, require_user_id
from nerava.domain.wallet import Entry, EntryKind, WalletView
from nerava.ports.clock import Clock, IdGenerator
from nerava.ports.storage import UnitOfWorkFactory

__all__ = ["MAX_AMOUNT_CENTS", "Wallets"]

MAX_AMOUNT_CENTS = 100_000_000
LATEST_ENTRIES = 20
MAX_PAGE = 200


class Wallets:
    """The wallet use cases."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids

    async def view(self, user_id: str) -> WalletView:
        """Return the balance, the pending rewards and the latest entries.

        An unknown user has a wallet of zeros.
        """
        require_user_id(user_id)
        async with self._uow(readonly=True) as uow:
            balance = await uow.ledger.balance(user_id)
            pending = await uow.credits.pending_cents(user_id)
            entries, _ = await uow.ledger.entries(user_id, limit=LATEST_ENTRIES)
        return WalletView(
            user_id=user_id,
            balance_cents=balance,
            pending_cents=pending,
            entries=tuple(entries),
        )

    async def entries(
        self, user_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[Entry], str | None]:
        """Return a page of entries, newest first, and the next page's cursor."""
        require_user_id(user_id)
        if not 1 <= limit <= MAX_PAGE:
            raise ValidationFailed.on("limit", f"must be between 1 and {MAX_PAGE}")
        async with self._uow(readonly=True) as uow:
            return await uow.ledger.entries(user_id, limit=limit, cursor=cursor)

    async def debit(
        self,
        user_id: str,
        amount_cents: int,
        reason: str,
        *,
        actor: Actor,
        idempotency: IdempotentWrite | None = None,
    ) -> Posted:
        """Redeem money from a wallet; never more than its balance.

        Raises:
            ValidationFailed: a bad user id, amount or reason.
            InsufficientFunds: the amount exceeds the balance.
        """
        require_user_id(user_id)
        if not 1 <= amount_cents <= MAX_AMOUNT_CENTS:
            raise ValidationFailed.on(
                "amount_cents", f"must be between 1 and {MAX_AMOUNT_CENTS}"
            )
        require_text(reason, "reason")
        return await self._post(
            user_id,
            -amount_cents,
            reason,
            EntryKind.REDEMPTION,
            actor,
            None,
            idempotency,
        )

    async def adjust(
        self,
        user_id: str,
        amount_cents: int,
        reason: str,
        *,
        actor: Actor,
        reverses_entry_id: str | None = None,
    ) -> Posted:
        """Correct a wallet by a signed amount; never below zero.

        Raises:
            ValidationFailed: a bad user id, amount or reason, or
                ``reverses_entry_id`` naming no entry of this wallet.
            InsufficientFunds: the adjustment would make the balance negative.
        """
        require_user_id(user_id)
        if amount_cents == 0 or abs(amount_cents) > MAX_AMOUNT_CENTS:
            raise ValidationFailed.on(
                "amount_cents",
                f"must be non-zero and at most {MAX_AMOUNT_CENTS} either way",
            )
        require_text(reason, "reason")
        if reverses_entry_id is not None:
            require_text(reverses_entry_id, "reverses_entry_id", 128)
            await self._require_entry_of(user_id, reverses_entry_id)
        return await self._post(
            user_id,
            amount_cents,
            reason,
            EntryKind.ADJUSTMENT,
            actor,
            reverses_entry_id,
            None,
        )

    async def _require_entry_of(self, user_id: str, entry_id: str) -> None:
        async with self._uow(readonly=True) as uow:
            entry = await uow.ledger.entry(entry_id)
        if entry is None or entry.user_id != user_id:
            raise ValidationFailed.on(
                "reverses_entry_id", f"names no entry of wallet {user_id!r}"
            )

    async def _post(
        self,
        user_id: str,
        amount_cents: int,
        reason: str,
        kind: EntryKind,
        actor: Actor,
        reverses_entry_id: str | None,
        idempotency: IdempotentWrite | None,
    ) -> Posted:
        now = self._clock.now()
        entry = Entry(
            entry_id=self._ids.new_id("ent"),
            user_id=user_id,
            kind=kind,
            amount_cents=amount_cents,
            created_at=now,
            reason=reason,
            actor=actor.actor_id,
            reverses_entry_id=reverses_entry_id,
        )
        event_type = WalletDebited if kind is EntryKind.REDEMPTION else WalletAdjusted
        async with self._uow() as uow:
            await uow.ledger.lock_wallet(user_id)
            balance = await uow.ledger.balance(user_id)
            if balance + amount_cents < 0:
                raise InsufficientFunds(user_id, balance, -amount_cents)
            await uow.ledger.append(entry)
            await uow.outbox.append(
                [
                    event_type(
                        event_id=self._ids.new_id("evt"),
                        occurred_at=now,
                        user_id=user_id,
                        entry_id=entry.entry_id,
                        amount_cents=amount_cents,
                    )
                ]
            )
            posted = Posted(entry, balance + amount_cents)
            if idempotency is not None:
                await uow.idempotency.complete(
                    idempotency.scope, idempotency.key, idempotency.render(posted)
                )
            await uow.commit()
        return posted
