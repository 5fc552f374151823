"""The reused window listing is the listing computed afresh, at every instant."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from nerava.adapters.memory import FixedClock
from nerava.domain.windows import Window, listing_order
from nerava.entrypoints.http.listing import WindowListing
from nerava.entrypoints.http.views import windows_body
from tests.strategies import catalogs, hubs, instants


class StubCatalog:
    """Hands out one tuple of definitions, as a warm cache does."""

    def __init__(self, windows: tuple[Window, ...]) -> None:
        self.definitions = windows

    async def windows(self) -> tuple[Window, ...]:
        return self.definitions


def _fresh(windows: tuple[Window, ...], at: datetime, hub_id: str | None) -> bytes:
    return windows_body(listing_order((w for w in windows if w.applies_to(hub_id)), at))


@settings(max_examples=150, deadline=None)
@given(
    windows=catalogs(),
    start=instants(),
    steps=st.lists(
        st.timedeltas(timedelta(seconds=-3600), timedelta(days=3)), max_size=12
    ),
    hub_id=hubs(),
)
def test_every_answer_equals_the_fresh_listing(
    windows: list[Window], start: datetime, steps: list[timedelta], hub_id: str | None
) -> None:
    catalog = StubCatalog(tuple(windows))
    listing = WindowListing(catalog, FixedClock(start))  # type: ignore[arg-type]
    moments = [start]
    for step in steps:
        moments.append(moments[-1] + step)

    async def answers() -> list[bytes]:
        return [await listing.body(at, hub_id) for at in moments]

    for at, answer in zip(moments, asyncio.run(answers()), strict=True):
        assert answer == _fresh(catalog.definitions, at, hub_id)


def test_an_answer_is_not_reused_across_a_window_boundary() -> None:
    green = next(w for w in _defaults() if w.id == "green_hour")
    catalog = StubCatalog((green,))
    before = datetime.fromisoformat("2026-06-01T13:59:59+00:00")
    listing = WindowListing(catalog, FixedClock(before))  # type: ignore[arg-type]

    async def both() -> tuple[bytes, bytes]:
        first = await listing.body(before, None)
        return first, await listing.body(before + timedelta(seconds=1), None)

    first, second = asyncio.run(both())

    assert b'"active_now":false' in first
    assert b'"active_now":true' in second


def test_an_edited_catalog_is_listed_at_once() -> None:
    windows = _defaults()
    catalog = StubCatalog(windows)
    at = datetime.fromisoformat("2026-06-01T12:00:00+00:00")
    listing = WindowListing(catalog, FixedClock(at))  # type: ignore[arg-type]

    async def both() -> tuple[bytes, bytes]:
        first = await listing.body(at, None)
        catalog.definitions = windows[:1]
        return first, await listing.body(at, None)

    first, second = asyncio.run(both())

    assert first != second
    assert second == _fresh(windows[:1], at, None)


def _defaults() -> tuple[Window, ...]:
    from nerava.domain.windows import default_windows

    return default_windows()
