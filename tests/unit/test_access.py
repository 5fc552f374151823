"""API keys and idempotency keys."""

from __future__ import annotations

from datetime import timedelta

import pytest

from nerava.adapters.memory import FixedClock
from nerava.domain.access import Scope, StoredResponse
from nerava.domain.errors import IdempotencyKeyReused, RequestInProgress
from nerava.domain.usecases import Idempotency, Keys
from nerava.domain.usecases.keys import digest_of


async def test_a_key_is_stored_only_as_its_digest(keys: Keys) -> None:
    stored, secret = await keys.create([Scope.EVENTS_WRITE], ["hub-1"], name="hub one")

    assert secret not in repr(stored)
    assert stored.digest == digest_of(secret)
    assert len(secret) >= 32


async def test_a_revoked_key_no_longer_authenticates(keys: Keys) -> None:
    stored, secret = await keys.create([Scope.WALLET_READ])

    assert await keys.authenticate(secret) == stored
    assert await keys.revoke(stored.key_id)
    assert await keys.authenticate(secret) is None


async def test_an_unknown_key_does_not_authenticate(keys: Keys) -> None:
    assert await keys.authenticate("nrv_made_up") is None
    assert not await keys.revoke("key_unknown")


async def test_admin_exists_only_after_one_is_created(keys: Keys) -> None:
    assert not await keys.has_admin()

    await keys.create([Scope.ADMIN], name="bootstrap")

    assert await keys.has_admin()


async def test_a_first_request_claims_its_key(idempotency: Idempotency) -> None:
    assert await idempotency.begin("key_a:POST /x", "k1", "fp") is None


async def test_the_same_key_while_running_is_in_progress(
    idempotency: Idempotency,
) -> None:
    await idempotency.begin("s", "k1", "fp")

    with pytest.raises(RequestInProgress):
        await idempotency.begin("s", "k1", "fp")


async def test_a_stalled_claim_lapses_after_sixty_seconds(
    idempotency: Idempotency, clock: FixedClock
) -> None:
    await idempotency.begin("s", "k1", "fp")
    clock.advance(timedelta(seconds=61))

    assert await idempotency.begin("s", "k1", "fp") is None


async def test_a_released_key_may_be_sent_again(idempotency: Idempotency) -> None:
    await idempotency.begin("s", "k1", "fp")
    await idempotency.release("s", "k1")

    assert await idempotency.begin("s", "k1", "other") is None


async def test_a_completed_key_replays_and_refuses_another_body(
    idempotency: Idempotency, database: object
) -> None:
    from nerava.adapters.memory import MemoryDatabase

    assert isinstance(database, MemoryDatabase)
    await idempotency.begin("s", "k1", "fp")
    async with database.unit_of_work() as uow:
        await uow.idempotency.complete("s", "k1", StoredResponse(200, b"{}"))
        await uow.commit()

    assert await idempotency.begin("s", "k1", "fp") == StoredResponse(200, b"{}")
    with pytest.raises(IdempotencyKeyReused):
        await idempotency.begin("s", "k1", "other")


async def test_keys_are_scoped(idempotency: Idempotency) -> None:
    await idempotency.begin("key_a:POST /x", "k1", "fp")

    assert await idempotency.begin("key_b:POST /x", "k1", "fp") is None


async def test_records_expire_after_a_day(
    idempotency: Idempotency, clock: FixedClock
) -> None:
    await idempotency.begin("s", "k1", "fp")
    clock.advance(timedelta(hours=25))

    assert await idempotency.purge(limit=10) == 1
