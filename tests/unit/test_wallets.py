"""Reading wallets, debits and adjustments."""

from __future__ import annotations

import asyncio

import pytest

from nerava.domain.errors import InsufficientFunds, ValidationFailed
from nerava.domain.usecases import Wallets
from nerava.domain.wallet import EntryKind
from tests.unit.conftest import ADMIN


async def test_an_unknown_user_has_a_wallet_of_zeros(wallets: Wallets) -> None:
    view = await wallets.view("nobody")

    assert (view.balance_cents, view.pending_cents, view.entries) == (0, 0, ())


async def test_a_debit_is_a_negative_redemption_entry(wallets: Wallets) -> None:
    await wallets.adjust("u", 500, "welcome bonus", actor=ADMIN)

    posted = await wallets.debit("u", 200, "coffee", actor=ADMIN)

    assert posted.entry.kind is EntryKind.REDEMPTION
    assert posted.entry.amount_cents == -200
    assert posted.entry.actor == ADMIN.actor_id
    assert posted.balance_cents == 300


async def test_a_debit_larger_than_the_balance_is_refused_and_changes_nothing(
    wallets: Wallets,
) -> None:
    await wallets.adjust("u", 100, "bonus", actor=ADMIN)

    with pytest.raises(InsufficientFunds):
        await wallets.debit("u", 101, "too much", actor=ADMIN)

    view = await wallets.view("u")
    assert view.balance_cents == 100
    assert len(view.entries) == 1


async def test_an_adjustment_below_zero_is_refused(wallets: Wallets) -> None:
    with pytest.raises(InsufficientFunds):
        await wallets.adjust("u", -1, "claw back", actor=ADMIN)


async def test_concurrent_debits_never_spend_more_than_the_balance(
    wallets: Wallets,
) -> None:
    await wallets.adjust("u", 1000, "bonus", actor=ADMIN)

    results = await asyncio.gather(
        *(wallets.debit("u", 40, "snack", actor=ADMIN) for _ in range(50)),
        return_exceptions=True,
    )

    spent = sum(40 for r in results if not isinstance(r, BaseException))
    assert spent == 1000
    assert (await wallets.view("u")).balance_cents == 0


@pytest.mark.parametrize("amount", [0, -5, 100_000_001])
async def test_a_debit_amount_outside_its_range_is_refused(
    wallets: Wallets, amount: int
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await wallets.debit("u", amount, "x", actor=ADMIN)

    assert refused.value.errors[0].field == "amount_cents"


@pytest.mark.parametrize("reason", ["", "x" * 201, "line\nbreak", "bell\x07"])
async def test_a_reason_must_be_short_printable_text(
    wallets: Wallets, reason: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await wallets.adjust("u", 5, reason, actor=ADMIN)

    assert refused.value.errors[0].field == "reason"


async def test_entries_page_newest_first_with_a_cursor(wallets: Wallets) -> None:
    for amount in range(1, 6):
        await wallets.adjust("u", amount, f"bonus {amount}", actor=ADMIN)

    first, cursor = await wallets.entries("u", limit=2)
    second, cursor2 = await wallets.entries("u", limit=2, cursor=cursor)
    third, cursor3 = await wallets.entries("u", limit=2, cursor=cursor2)

    amounts = [e.amount_cents for e in first + second + third]
    assert amounts == [5, 4, 3, 2, 1]
    assert cursor3 is None


@pytest.mark.parametrize("limit", [0, 201])
async def test_a_page_limit_outside_one_to_two_hundred_is_refused(
    wallets: Wallets, limit: int
) -> None:
    with pytest.raises(ValidationFailed):
        await wallets.entries("u", limit=limit)


async def test_a_foreign_cursor_is_refused(wallets: Wallets) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await wallets.entries("u", cursor="not-a-cursor")

    assert refused.value.errors[0].field == "cursor"


async def test_an_adjustment_reverses_only_an_entry_of_the_same_wallet(
    wallets: Wallets,
) -> None:
    bonus = await wallets.adjust("u", 500, "bonus by mistake", actor=ADMIN)
    other = await wallets.adjust("v", 100, "bonus", actor=ADMIN)

    reversal = await wallets.adjust(
        "u", -500, "undo", actor=ADMIN, reverses_entry_id=bonus.entry.entry_id
    )
    for unknown in ("ent_nope", other.entry.entry_id):
        with pytest.raises(ValidationFailed) as refused:
            await wallets.adjust("u", 5, "undo", actor=ADMIN, reverses_entry_id=unknown)
        assert refused.value.errors[0].field == "reverses_entry_id"

    assert reversal.entry.reverses_entry_id == bonus.entry.entry_id
    assert reversal.balance_cents == 0
