"""The Ledger contract: append-only entries, one reward per session, no overdraft."""

from __future__ import annotations

import pytest

from nerava.domain.errors import InsufficientFunds, ValidationFailed
from nerava.domain.wallet import Entry
from nerava.ports.storage import Database
from tests.contract.examples import a_debit, a_reward, an_adjustment


async def _append(database: Database, *entries: Entry) -> list[bool]:
    async with database.unit_of_work() as uow:
        appended = [await uow.ledger.append(entry) for entry in entries]
        await uow.commit()
    return appended


async def _balance(database: Database, user_id: str = "driver-1") -> int:
    async with database.unit_of_work(readonly=True) as uow:
        return await uow.ledger.balance(user_id)


async def _all_entries(database: Database, user_id: str = "driver-1") -> list[Entry]:
    async with database.unit_of_work(readonly=True) as uow:
        entries, _ = await uow.ledger.entries(user_id, limit=1000)
    return entries


async def test_an_unknown_user_has_a_balance_of_zero(database: Database) -> None:
    assert await _balance(database, "nobody") == 0


async def test_a_reward_adds_to_the_balance(database: Database) -> None:
    appended = await _append(database, a_reward("ses_1", 101), a_reward("ses_2", 50))

    assert appended == [True, True]
    assert await _balance(database) == 151


async def test_a_session_is_credited_at_most_once(database: Database) -> None:
    await _append(database, a_reward("ses_1", 101))

    appended = await _append(database, a_reward("ses_1", 101, entry_id="ent_again"))

    assert appended == [False]
    assert await _balance(database) == 101
    assert [e.entry_id for e in await _all_entries(database)] == ["ent_ses_1"]


async def test_a_second_reward_in_the_same_unit_is_refused(database: Database) -> None:
    appended = await _append(
        database, a_reward("ses_1", 101), a_reward("ses_1", 7, entry_id="ent_2")
    )

    assert appended == [True, False]
    assert await _balance(database) == 101


async def test_a_debit_takes_from_the_balance(database: Database) -> None:
    await _append(database, a_reward("ses_1", 101))

    appended = await _append(database, a_debit("ent_d1", 60))

    assert appended == [True]
    assert await _balance(database) == 41


async def test_a_debit_may_take_the_whole_balance(database: Database) -> None:
    await _append(database, a_reward("ses_1", 101), a_debit("ent_d1", 101))

    assert await _balance(database) == 0


async def test_a_debit_beyond_the_balance_is_refused_and_writes_nothing(
    database: Database,
) -> None:
    await _append(database, a_reward("ses_1", 101))

    async with database.unit_of_work() as uow:
        with pytest.raises(InsufficientFunds) as refused:
            await uow.ledger.append(a_debit("ent_d1", 102))
        balance = await uow.ledger.balance("driver-1")
        entries, _ = await uow.ledger.entries("driver-1", limit=10)
        await uow.commit()

    assert (refused.value.balance_cents, refused.value.amount_cents) == (101, 102)
    assert balance == 101
    assert [e.entry_id for e in entries] == ["ent_ses_1"]
    assert await _balance(database) == 101


async def test_an_empty_wallet_refuses_a_debit(database: Database) -> None:
    async with database.unit_of_work() as uow:
        with pytest.raises(InsufficientFunds):
            await uow.ledger.append(a_debit("ent_d1", 1, user_id="nobody"))


async def test_a_negative_adjustment_may_not_overdraw_either(
    database: Database,
) -> None:
    await _append(database, a_reward("ses_1", 10))

    async with database.unit_of_work() as uow:
        with pytest.raises(InsufficientFunds):
            await uow.ledger.append(an_adjustment("ent_a1", -11))


async def test_the_balance_is_the_sum_of_the_entries(database: Database) -> None:
    await _append(
        database,
        a_reward("ses_1", 101),
        a_debit("ent_d1", 30),
        an_adjustment("ent_a1", 5),
        a_reward("ses_2", 248),
        an_adjustment("ent_a2", -24),
    )

    entries = await _all_entries(database)

    assert await _balance(database) == sum(e.amount_cents for e in entries) == 300


async def test_entries_read_back_equal_newest_first(database: Database) -> None:
    written = [a_reward("ses_1", 101), a_debit("ent_d1", 30), an_adjustment("ent_a", 5)]
    await _append(database, *written)

    assert await _all_entries(database) == written[::-1]


async def test_entries_belong_to_their_user(database: Database) -> None:
    await _append(
        database,
        a_reward("ses_1", 101, user_id="driver-1"),
        a_reward("ses_2", 99, user_id="driver-2"),
    )

    assert [e.session_id for e in await _all_entries(database, "driver-2")] == ["ses_2"]
    assert await _balance(database, "driver-2") == 99


async def test_pages_walk_every_entry_newest_first(database: Database) -> None:
    await _append(database, *(a_reward(f"ses_{i}", i) for i in range(1, 6)))
    pages: list[list[int]] = []
    cursor = None

    while True:
        async with database.unit_of_work(readonly=True) as uow:
            page, cursor = await uow.ledger.entries("driver-1", limit=2, cursor=cursor)
        pages.append([e.amount_cents for e in page])
        if cursor is None:
            break

    assert pages == [[5, 4], [3, 2], [1]]


async def test_a_full_last_page_has_no_next_cursor(database: Database) -> None:
    await _append(database, *(a_reward(f"ses_{i}", i) for i in range(1, 5)))

    async with database.unit_of_work(readonly=True) as uow:
        first, cursor = await uow.ledger.entries("driver-1", limit=2)
        second, last = await uow.ledger.entries("driver-1", limit=2, cursor=cursor)

    assert [e.amount_cents for e in first + second] == [4, 3, 2, 1]
    assert cursor is not None
    assert last is None


async def test_a_cursor_stays_valid_as_new_entries_arrive(database: Database) -> None:
    await _append(database, *(a_reward(f"ses_{i}", i) for i in range(1, 4)))
    async with database.unit_of_work(readonly=True) as uow:
        _, cursor = await uow.ledger.entries("driver-1", limit=1)

    await _append(database, a_reward("ses_9", 9))
    async with database.unit_of_work(readonly=True) as uow:
        page, _ = await uow.ledger.entries("driver-1", limit=5, cursor=cursor)

    assert [e.amount_cents for e in page] == [2, 1]


async def test_an_empty_wallet_has_an_empty_page(database: Database) -> None:
    async with database.unit_of_work(readonly=True) as uow:
        assert await uow.ledger.entries("nobody", limit=20) == ([], None)


@pytest.mark.parametrize("cursor", ["", "abc", "-1", "1.5", "9" * 19, "²", " 1"])
async def test_a_cursor_this_ledger_did_not_make_is_refused(
    database: Database, cursor: str
) -> None:
    async with database.unit_of_work(readonly=True) as uow:
        with pytest.raises(ValidationFailed) as refused:
            await uow.ledger.entries("driver-1", limit=20, cursor=cursor)

    assert [e.field for e in refused.value.errors] == ["cursor"]


async def test_reward_for_finds_the_sessions_reward(database: Database) -> None:
    await _append(database, a_reward("ses_1", 101), a_reward("ses_2", 7))

    async with database.unit_of_work(readonly=True) as uow:
        found = await uow.ledger.reward_for("ses_2")
        missing = await uow.ledger.reward_for("ses_3")

    assert (found, missing) == (a_reward("ses_2", 7), None)


async def test_a_locked_wallet_can_be_read_and_written_by_its_holder(
    database: Database,
) -> None:
    async with database.unit_of_work() as uow:
        await uow.ledger.lock_wallet("driver-1")
        await uow.ledger.lock_wallet("driver-1")
        before = await uow.ledger.balance("driver-1")
        await uow.ledger.append(a_reward("ses_1", 101))
        after = await uow.ledger.balance("driver-1")
        await uow.commit()

    assert (before, after) == (0, 101)


async def test_locking_a_wallet_alone_changes_no_balance(database: Database) -> None:
    async with database.unit_of_work() as uow:
        await uow.ledger.lock_wallet("driver-7")
        await uow.commit()

    assert await _balance(database, "driver-7") == 0
    assert await _all_entries(database, "driver-7") == []


async def test_an_entry_is_found_by_its_id_and_an_unknown_id_is_not(
    database: Database,
) -> None:
    reward = a_reward("ses_1", 101)
    await _append(database, reward)

    async with database.unit_of_work(readonly=True) as uow:
        found = await uow.ledger.entry(reward.entry_id)
        missing = await uow.ledger.entry("ent_unknown")

    assert found == reward
    assert missing is None
