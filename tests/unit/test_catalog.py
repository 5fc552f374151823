"""What the window catalog's cache may serve after a change."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

from nerava.adapters.memory import FixedClock, MemoryCache, MemoryDatabase, UuidIds
from nerava.domain.usecases import Catalog
from nerava.domain.usecases.catalog import CATALOG_CACHE_KEY
from nerava.domain.windows import Window

NIGHT_OWL = Window(
    id="night_owl",
    label="Night Owl",
    start_local=time(22, 30),
    end_local=time(6, 0),
    price_per_kwh=Decimal("0.125"),
    multiplier=Decimal("1.5"),
)


def _catalog(
    database: MemoryDatabase, cache: MemoryCache, clock: FixedClock
) -> Catalog:
    return Catalog(database.unit_of_work, cache, clock, UuidIds(), ttl_seconds=60)


async def test_a_copy_read_before_a_change_and_stored_after_it_is_not_served(
    database: MemoryDatabase, clock: FixedClock
) -> None:
    cache = MemoryCache()
    catalog = _catalog(database, cache, clock)
    await catalog.windows()
    read_before_the_change = await cache.get(CATALOG_CACHE_KEY)
    assert read_before_the_change is not None

    await catalog.put(NIGHT_OWL)
    await cache.set(CATALOG_CACHE_KEY, read_before_the_change, 60)
    served = await catalog.get("night_owl")

    assert served.window == NIGHT_OWL


async def test_a_change_made_elsewhere_is_served_once_the_cached_copy_expires(
    database: MemoryDatabase, clock: FixedClock
) -> None:
    cache = MemoryCache()
    catalog = _catalog(database, cache, clock)
    await catalog.windows()

    async with database.unit_of_work() as uow:
        await uow.windows.put(NIGHT_OWL)
        await uow.commit()
    before_expiry = {w.id for w in await catalog.windows()}
    await cache.delete(CATALOG_CACHE_KEY)
    after_expiry = {w.id for w in await catalog.windows()}

    assert "night_owl" not in before_expiry
    assert "night_owl" in after_expiry
