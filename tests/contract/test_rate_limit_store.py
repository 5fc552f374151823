"""The RateLimitStore contract, run against every store."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nerava.adapters.memory import MemoryRateLimitStore
from nerava.ports.ratelimit import RateLimitStore

ADAPTERS: dict[str, Callable[[], RateLimitStore]] = {"memory": MemoryRateLimitStore}
WINDOW_START = 1_800_000_000.0  # a multiple of 60 seconds


@pytest.fixture(params=sorted(ADAPTERS))
def store(request: pytest.FixtureRequest) -> RateLimitStore:
    return ADAPTERS[request.param]()


async def test_hits_up_to_the_limit_are_allowed_and_counted_down(
    store: RateLimitStore,
) -> None:
    decisions = [await store.hit("key", 3, 60, WINDOW_START + i) for i in range(3)]

    assert [d.allowed for d in decisions] == [True, True, True]
    assert [d.remaining for d in decisions] == [2, 1, 0]


async def test_the_hit_over_the_limit_is_refused(store: RateLimitStore) -> None:
    for _ in range(3):
        await store.hit("key", 3, 60, WINDOW_START)

    decision = await store.hit("key", 3, 60, WINDOW_START + 1)

    assert not decision.allowed
    assert decision.remaining == 0


async def test_reset_counts_the_seconds_left_in_the_window(
    store: RateLimitStore,
) -> None:
    decision = await store.hit("key", 3, 60, WINDOW_START + 45.5)

    assert decision.reset_seconds == 15
    assert 1 <= decision.reset_seconds <= 60


async def test_a_new_window_starts_a_new_count(store: RateLimitStore) -> None:
    for _ in range(4):
        await store.hit("key", 3, 60, WINDOW_START)

    decision = await store.hit("key", 3, 60, WINDOW_START + 60)

    assert decision.allowed
    assert decision.remaining == 2


async def test_keys_are_counted_apart(store: RateLimitStore) -> None:
    for _ in range(3):
        await store.hit("a", 3, 60, WINDOW_START)

    decision = await store.hit("b", 3, 60, WINDOW_START)

    assert decision.allowed
