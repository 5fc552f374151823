"""The composition root: settings in, adapters and use cases out.

Only this module knows which adapter implements which port. Nothing
connects while the container is built: the database opens in the app's
lifespan (or the command's), and tests override providers before first use.
"""

from __future__ import annotations

from dependency_injector import containers, providers

from nerava.adapters.memory import (
    MemoryCache,
    MemoryEventBus,
    MemoryRateLimitStore,
    SystemClock,
    UuidIds,
)
from nerava.adapters.storage_factory import MigratableDatabase, database_from_url
from nerava.config import Settings
from nerava.domain.usecases import (
    Catalog,
    Charging,
    Credits,
    Idempotency,
    Keys,
    Relay,
    Wallets,
)

__all__ = ["Container", "build_container"]


def _database(settings: Settings) -> MigratableDatabase:
    if settings.database_url.startswith("sqlite:"):
        return database_from_url(
            settings.database_url, synchronous=settings.sqlite_synchronous
        )
    return database_from_url(settings.database_url)


class Container(containers.DeclarativeContainer):
    """Every service of Nerava, built once per container on first use.

    ``CACHE_DRIVER``, ``EVENTS_DRIVER`` and ``RATE_LIMIT_STORE`` accept only
    their in-process drivers for now (``Settings`` refuses ``redis``), so the
    cache, the event bus and the rate-limit counts are the memory adapters.
    """

    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(UuidIds)
    database = providers.Singleton(_database, settings)
    unit_of_work = database.provided.unit_of_work
    cache = providers.Singleton(MemoryCache)
    rate_limits = providers.Singleton(MemoryRateLimitStore)
    event_bus = providers.Singleton(MemoryEventBus)

    catalog = providers.Singleton(
        Catalog,
        unit_of_work,
        cache,
        clock,
        ids,
        ttl_seconds=settings.provided.cache_ttl_windows,
    )
    charging = providers.Singleton(
        Charging, unit_of_work, clock, ids, settings.provided.rules.call()
    )
    wallets = providers.Singleton(Wallets, unit_of_work, clock, ids)
    credits = providers.Singleton(Credits, unit_of_work, clock, ids)
    keys = providers.Singleton(Keys, unit_of_work, clock, ids)
    idempotency = providers.Singleton(Idempotency, unit_of_work, clock)
    relay = providers.Singleton(Relay, unit_of_work, event_bus, clock)


def build_container(settings: Settings) -> Container:
    """Return a container for ``settings``; nothing is built until asked for."""
    return Container(settings=settings)
