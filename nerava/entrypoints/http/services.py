"""The use cases and settings the routes call, taken from the container once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nerava.config import Settings
from nerava.domain.usecases import Catalog, Charging, Idempotency, Keys, Wallets
from nerava.ports.clock import Clock
from nerava.ports.storage import Database

__all__ = ["Services"]


@dataclass(frozen=True, slots=True)
class Services:
    """What the routes need; the container builds each once per app."""

    settings: Settings
    database: Database
    clock: Clock
    catalog: Catalog
    charging: Charging
    wallets: Wallets
    keys: Keys
    idempotency: Idempotency

    @classmethod
    def from_container(cls, container: Any) -> Services:
        """Take the services from the container."""
        return cls(
            settings=container.settings(),
            database=container.database(),
            clock=container.clock(),
            catalog=container.catalog(),
            charging=container.charging(),
            wallets=container.wallets(),
            keys=container.keys(),
            idempotency=container.idempotency(),
        )
