"""The IdempotencyStore contract: one live claim per (scope, key)."""

from __future__ import annotations

from datetime import datetime, timedelta

from nerava.domain.access import IdempotencyRecord, StoredResponse
from nerava.ports.storage import Database
from tests.contract.examples import MINUTE, T0, a_claim

DAY = timedelta(hours=24)
BODY = StoredResponse(200, b'{"session_id":"ses_1"}\x00\xff')


async def _claim(
    database: Database, record: IdempotencyRecord, now: datetime = T0
) -> IdempotencyRecord | None:
    async with database.unit_of_work() as uow:
        held = await uow.idempotency.claim(record, now=now, expired_before=now - DAY)
        await uow.commit()
    return held


async def _complete(database: Database, record: IdempotencyRecord) -> None:
    async with database.unit_of_work() as uow:
        await uow.idempotency.complete(record.scope, record.key, BODY)
        await uow.commit()


async def test_a_new_key_is_claimed(database: Database) -> None:
    assert await _claim(database, a_claim()) is None


async def test_a_running_claim_holds_the_key(database: Database) -> None:
    await _claim(database, a_claim())

    held = await _claim(database, a_claim(), now=T0 + 30 * timedelta(seconds=1))

    assert held == a_claim()
    assert held.in_progress(T0 + timedelta(seconds=30))


async def test_a_completed_claim_returns_its_exact_response(database: Database) -> None:
    await _claim(database, a_claim())
    await _complete(database, a_claim())

    held = await _claim(database, a_claim(), now=T0 + 10 * MINUTE)

    assert held is not None
    assert held.response == BODY
    assert held.fingerprint == "fp-1"


async def test_a_claim_whose_lock_lapsed_unfinished_is_replaced(
    database: Database,
) -> None:
    await _claim(database, a_claim())
    retry = a_claim(at=T0 + MINUTE)

    held = await _claim(database, retry, now=T0 + MINUTE)

    assert held is None
    assert await _claim(database, a_claim(), now=T0 + MINUTE) == retry


async def test_a_completed_record_outlives_its_lock(database: Database) -> None:
    await _claim(database, a_claim())
    await _complete(database, a_claim())

    held = await _claim(database, a_claim(at=T0 + DAY), now=T0 + DAY)

    assert held is not None
    assert held.response == BODY


async def test_an_expired_record_is_replaced_even_if_completed(
    database: Database,
) -> None:
    await _claim(database, a_claim())
    await _complete(database, a_claim())
    later = a_claim(at=T0 + DAY + MINUTE)

    held = await _claim(database, later, now=T0 + DAY + MINUTE)

    assert held is None
    again = await _claim(database, later, now=T0 + DAY + MINUTE)
    assert again == later


async def test_scopes_keep_their_keys_apart(database: Database) -> None:
    await _claim(database, a_claim(scope="key_1:POST /stop"))

    held = await _claim(database, a_claim(scope="key_2:POST /stop"))

    assert held is None


async def test_release_drops_an_unfinished_claim(database: Database) -> None:
    await _claim(database, a_claim())

    async with database.unit_of_work() as uow:
        await uow.idempotency.release(a_claim().scope, a_claim().key)
        await uow.commit()

    assert await _claim(database, a_claim()) is None


async def test_release_keeps_a_completed_record(database: Database) -> None:
    await _claim(database, a_claim())
    await _complete(database, a_claim())

    async with database.unit_of_work() as uow:
        await uow.idempotency.release(a_claim().scope, a_claim().key)
        await uow.commit()

    held = await _claim(database, a_claim())
    assert held is not None
    assert held.response == BODY


async def test_purge_deletes_records_created_before_the_cutoff(
    database: Database,
) -> None:
    for i in range(3):
        await _claim(database, a_claim(f"idem-{i}", at=T0 + i * MINUTE))

    async with database.unit_of_work() as uow:
        purged = await uow.idempotency.purge(T0 + 2 * MINUTE, limit=10)
        await uow.commit()

    assert purged == 2
    assert await _claim(database, a_claim("idem-0", at=T0 + 3 * MINUTE)) is None
    assert await _claim(database, a_claim("idem-2", at=T0 + 2 * MINUTE)) is not None


async def test_purge_deletes_no_more_than_its_limit(database: Database) -> None:
    for i in range(5):
        await _claim(database, a_claim(f"idem-{i}", at=T0 + i * MINUTE))

    async with database.unit_of_work() as uow:
        first = await uow.idempotency.purge(T0 + 4 * MINUTE, limit=3)
        second = await uow.idempotency.purge(T0 + 4 * MINUTE, limit=3)
        third = await uow.idempotency.purge(T0 + 4 * MINUTE, limit=3)
        await uow.commit()

    assert (first, second, third) == (3, 1, 0)
    assert await _claim(database, a_claim("idem-4", at=T0 + 4 * MINUTE)) is not None
