"""The Cache contract, run against every cache adapter."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nerava.adapters.memory import MemoryCache
from nerava.ports.cache import Cache


class ManualTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def time_source() -> ManualTime:
    return ManualTime()


CacheFactory = Callable[[ManualTime], Cache]
ADAPTERS: dict[str, CacheFactory] = {"memory": lambda t: MemoryCache(monotonic=t)}


@pytest.fixture(params=sorted(ADAPTERS))
def cache(request: pytest.FixtureRequest, time_source: ManualTime) -> Cache:
    return ADAPTERS[request.param](time_source)


async def test_a_missing_key_is_none(cache: Cache) -> None:
    assert await cache.get("absent") is None


async def test_a_stored_value_comes_back_byte_for_byte(cache: Cache) -> None:
    await cache.set("k", b"\x00windows\xff", ttl_seconds=60)

    assert await cache.get("k") == b"\x00windows\xff"


async def test_a_value_expires_after_its_time_to_live(
    cache: Cache, time_source: ManualTime
) -> None:
    await cache.set("k", b"v", ttl_seconds=60)
    time_source.now += 61

    assert await cache.get("k") is None


async def test_a_deleted_key_is_gone_and_deleting_twice_is_fine(cache: Cache) -> None:
    await cache.set("k", b"v", ttl_seconds=60)

    await cache.delete("k")
    await cache.delete("k")

    assert await cache.get("k") is None


async def test_setting_again_replaces_the_value(cache: Cache) -> None:
    await cache.set("k", b"old", ttl_seconds=60)
    await cache.set("k", b"new", ttl_seconds=60)

    assert await cache.get("k") == b"new"
