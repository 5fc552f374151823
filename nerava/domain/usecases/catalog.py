"""The window catalog: cached definitions, exact schedules computed per call."""

from __future__ import annotations

from datetime import datetime

import msgspec

from nerava.domain.errors import WindowNotFound
from nerava.domain.events import WindowDeleted, WindowPut
from nerava.domain.validation import require_aware
from nerava.domain.windows import (
    Window,
    WindowSchedule,
    listing_order,
    schedule,
    validate_window,
)
from nerava.ports.cache import Cache
from nerava.ports.clock import Clock, IdGenerator
from nerava.ports.storage import UnitOfWorkFactory

__all__ = ["CATALOG_CACHE_KEY", "Catalog"]

CATALOG_CACHE_KEY = "nerava:windows:catalog"


class _CachedCatalog(msgspec.Struct, frozen=True):
    version: int
    windows: tuple[Window, ...]


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(_CachedCatalog)


class Catalog:
    """The window use cases.

    Only the definitions are cached, with the catalog's version; whether a
    window is active and when it next runs are computed from them and the
    instant on every call, so they are exact whatever the cache holds. A
    change drops the cached copy, so this process sees it at once and others
    within ``ttl_seconds``; this process also refuses a cached copy older
    than its own last change, which a read that began before the change may
    store after it.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        cache: Cache,
        clock: Clock,
        ids: IdGenerator,
        *,
        ttl_seconds: float,
    ) -> None:
        self._uow = uow
        self._cache = cache
        self._clock = clock
        self._ids = ids
        self._ttl = ttl_seconds
        self._decoded: tuple[bytes, _CachedCatalog] | None = None
        self._changed_at_version = -1

    async def windows(self) -> tuple[Window, ...]:
        """Return every window definition, from the cache when it holds them."""
        raw = await self._cache.get(CATALOG_CACHE_KEY) if self._ttl > 0 else None
        if raw is not None:
            cached = self._decode(raw)
            if cached.version >= self._changed_at_version:
                return cached.windows
        async with self._uow(readonly=True) as uow:
            windows = tuple(await uow.windows.list())
            version = await uow.windows.version()
        if self._ttl > 0:
            fresh = _CachedCatalog(version, windows)
            raw = _encoder.encode(fresh)
            await self._cache.set(CATALOG_CACHE_KEY, raw, self._ttl)
            self._decoded = (raw, fresh)
        return windows

    async def list(
        self, at: datetime | None = None, hub_id: str | None = None
    ) -> list[WindowSchedule]:
        """Return the windows (those of ``hub_id`` if given) in listing order."""
        instant = self._instant(at)
        windows = await self.windows()
        return listing_order((w for w in windows if w.applies_to(hub_id)), instant)

    async def get(self, window_id: str, at: datetime | None = None) -> WindowSchedule:
        """Return one window as seen at ``at`` (or now).

        Raises:
            WindowNotFound: no window has this id.
        """
        instant = self._instant(at)
        for window in await self.windows():
            if window.id == window_id:
                return schedule(window, instant)
        raise WindowNotFound(window_id)

    async def put(
        self, window: Window, at: datetime | None = None
    ) -> tuple[WindowSchedule, bool]:
        """Create or replace a window; return it and whether it was created."""
        validate_window(window)
        now = self._clock.now()
        async with self._uow() as uow:
            created = await uow.windows.put(window)
            await uow.outbox.append(
                [
                    WindowPut(
                        event_id=self._ids.new_id("evt"),
                        occurred_at=now,
                        window_id=window.id,
                        created=created,
                    )
                ]
            )
            version = await uow.windows.version()
            await uow.commit()
        await self._forget(version)
        return schedule(window, self._instant(at)), created

    async def delete(self, window_id: str) -> None:
        """Delete a window.

        Raises:
            WindowNotFound: no window has this id.
        """
        now = self._clock.now()
        async with self._uow() as uow:
            if not await uow.windows.delete(window_id):
                raise WindowNotFound(window_id)
            await uow.outbox.append(
                [
                    WindowDeleted(
                        event_id=self._ids.new_id("evt"),
                        occurred_at=now,
                        window_id=window_id,
                    )
                ]
            )
            version = await uow.windows.version()
            await uow.commit()
        await self._forget(version)

    def _decode(self, raw: bytes) -> _CachedCatalog:
        if self._decoded is not None and self._decoded[0] == raw:
            return self._decoded[1]
        cached = _decoder.decode(raw)
        self._decoded = (raw, cached)
        return cached

    async def _forget(self, changed_at_version: int) -> None:
        self._changed_at_version = max(self._changed_at_version, changed_at_version)
        self._decoded = None
        await self._cache.delete(CATALOG_CACHE_KEY)

    def _instant(self, at: datetime | None) -> datetime:
        return self._clock.now() if at is None else require_aware(at, "at")
