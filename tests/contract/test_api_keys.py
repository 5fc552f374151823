"""The ApiKeys contract: keys found by digest, revoked once."""

from __future__ import annotations

import msgspec

from nerava.domain.access import Scope
from nerava.ports.storage import Database
from tests.contract.examples import MINUTE, T0, a_key


async def test_a_key_is_found_by_its_digest(database: Database) -> None:
    key = a_key()
    async with database.unit_of_work() as uow:
        await uow.api_keys.add(key)
        await uow.commit()

    async with database.unit_of_work(readonly=True) as uow:
        found = await uow.api_keys.by_digest(key.digest)
        missing = await uow.api_keys.by_digest("cd" * 32)

    assert (found, missing) == (key, None)


async def test_an_admin_key_without_hubs_reads_back_equal(database: Database) -> None:
    key = msgspec.structs.replace(a_key(), scopes=(Scope.ADMIN,), hub_ids=(), name="")
    async with database.unit_of_work() as uow:
        await uow.api_keys.add(key)
        await uow.commit()

    async with database.unit_of_work(readonly=True) as uow:
        assert await uow.api_keys.by_digest(key.digest) == key


async def test_keys_are_listed_oldest_first(database: Database) -> None:
    keys = [
        a_key("key_b", "01" * 32, T0 + MINUTE),
        a_key("key_a", "02" * 32, T0 + MINUTE),
        a_key("key_c", "03" * 32, T0),
    ]
    async with database.unit_of_work() as uow:
        for key in keys:
            await uow.api_keys.add(key)
        await uow.commit()

    async with database.unit_of_work(readonly=True) as uow:
        listed = [k.key_id for k in await uow.api_keys.list()]

    assert listed == ["key_c", "key_a", "key_b"]


async def test_a_revoked_key_is_still_found_with_its_revocation(
    database: Database,
) -> None:
    async with database.unit_of_work() as uow:
        await uow.api_keys.add(a_key())
        await uow.commit()

    async with database.unit_of_work() as uow:
        revoked = await uow.api_keys.revoke("key_1", T0 + MINUTE)
        await uow.commit()

    async with database.unit_of_work(readonly=True) as uow:
        found = await uow.api_keys.by_digest(a_key().digest)
    assert revoked is True
    assert found is not None
    assert found.revoked_at == T0 + MINUTE


async def test_revoking_twice_keeps_the_first_revocation(database: Database) -> None:
    async with database.unit_of_work() as uow:
        await uow.api_keys.add(a_key())
        await uow.api_keys.revoke("key_1", T0 + MINUTE)
        again = await uow.api_keys.revoke("key_1", T0 + 2 * MINUTE)
        await uow.commit()

    async with database.unit_of_work(readonly=True) as uow:
        (key,) = await uow.api_keys.list()
    assert again is True
    assert key.revoked_at == T0 + MINUTE


async def test_revoking_an_unknown_key_says_there_was_none(database: Database) -> None:
    async with database.unit_of_work() as uow:
        assert await uow.api_keys.revoke("key_unknown", T0) is False
