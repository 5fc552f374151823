"""The interfaces the domain needs from the world; adapters implement them."""

from nerava.ports.cache import Cache
from nerava.ports.clock import Clock, IdGenerator
from nerava.ports.events import EventBus, EventHandler, OutboxRecord
from nerava.ports.ratelimit import RateLimitDecision, RateLimitStore
from nerava.ports.storage import (
    ApiKeys,
    IdempotencyStore,
    Ledger,
    Outbox,
    PendingCredits,
    SessionRepository,
    UnitOfWork,
    UnitOfWorkFactory,
    WindowCatalog,
)

__all__ = [
    "ApiKeys",
    "Cache",
    "Clock",
    "EventBus",
    "EventHandler",
    "IdGenerator",
    "IdempotencyStore",
    "Ledger",
    "Outbox",
    "OutboxRecord",
    "PendingCredits",
    "RateLimitDecision",
    "RateLimitStore",
    "SessionRepository",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "WindowCatalog",
]
