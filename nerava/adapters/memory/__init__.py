"""In-memory adapters: complete, usable implementations of every port.

They keep state in the process, so they suit tests, demos and other services'
own test suites; they are not a fake that cuts corners on the rules.
"""

from nerava.adapters.memory.cache import MemoryCache
from nerava.adapters.memory.clock import FixedClock, SystemClock, UuidIds
from nerava.adapters.memory.events import MemoryEventBus
from nerava.adapters.memory.ratelimit import MemoryRateLimitStore
from nerava.adapters.memory.storage import MemoryDatabase, MemoryUnitOfWork

__all__ = [
    "FixedClock",
    "MemoryCache",
    "MemoryDatabase",
    "MemoryEventBus",
    "MemoryRateLimitStore",
    "MemoryUnitOfWork",
    "SystemClock",
    "UuidIds",
]
