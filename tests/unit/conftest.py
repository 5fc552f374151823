"""The business over memory adapters and a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from nerava.adapters.memory import FixedClock, MemoryCache, MemoryDatabase, UuidIds
from nerava.domain.sessions import ChargingRules
from nerava.domain.usecases import (
    Actor,
    Catalog,
    Charging,
    Credits,
    Idempotency,
    Keys,
    Wallets,
)

MONDAY_NOON = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
HUB_KEY = Actor(actor_id="key_hub", hub_ids=("hub-1",))
ADMIN = Actor(actor_id="key_admin", admin=True)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(MONDAY_NOON)


@pytest.fixture
def database() -> MemoryDatabase:
    return MemoryDatabase()


@pytest.fixture
def rules() -> ChargingRules:
    return ChargingRules()


@pytest.fixture
def charging(
    database: MemoryDatabase, clock: FixedClock, rules: ChargingRules
) -> Charging:
    return Charging(database.unit_of_work, clock, UuidIds(), rules)


@pytest.fixture
def sync_charging(database: MemoryDatabase, clock: FixedClock) -> Charging:
    rules = ChargingRules(sync_credit=True)
    return Charging(database.unit_of_work, clock, UuidIds(), rules)


@pytest.fixture
def wallets(database: MemoryDatabase, clock: FixedClock) -> Wallets:
    return Wallets(database.unit_of_work, clock, UuidIds())


@pytest.fixture
def credits(database: MemoryDatabase, clock: FixedClock) -> Credits:
    return Credits(database.unit_of_work, clock, UuidIds())


@pytest.fixture
def catalog(database: MemoryDatabase, clock: FixedClock) -> Catalog:
    return Catalog(
        database.unit_of_work, MemoryCache(), clock, UuidIds(), ttl_seconds=60
    )


@pytest.fixture
def keys(database: MemoryDatabase, clock: FixedClock) -> Keys:
    return Keys(database.unit_of_work, clock, UuidIds())


@pytest.fixture
def idempotency(database: MemoryDatabase, clock: FixedClock) -> Idempotency:
    return Idempotency(database.unit_of_work, clock)
