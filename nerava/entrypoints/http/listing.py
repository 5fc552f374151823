"""The answer to ``GET /v1/energyhub/windows``, reused while it cannot change.

Between two window boundaries (a start or an end of any listed window's
current or next occurrence) every instant has the same answer: the same
windows active, the same current or next occurrences, the same order. So an
answer computed at ``t0`` is reused for instants in ``[t0, next boundary)``
over the same catalog, and recomputed otherwise; it is exact at every
instant, like the computation it stands for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from nerava.domain.usecases import Catalog
from nerava.domain.windows import Window, WindowSchedule, listing_order
from nerava.entrypoints.http.views import windows_body
from nerava.ports.clock import Clock

__all__ = ["WindowListing"]

MAX_REMEMBERED = 256


@dataclass(frozen=True, slots=True)
class _Answer:
    windows: tuple[Window, ...]
    valid_from: datetime
    valid_until: datetime | None
    body: bytes


def _next_change(views: list[WindowSchedule], instant: datetime) -> datetime | None:
    """Return the first instant after ``instant`` at which the listing may change."""
    boundaries = [
        view.occurrence.end if view.active_now else view.occurrence.start
        for view in views
        if view.occurrence is not None
    ]
    return min(boundaries, default=None)


class WindowListing:
    """Renders the window list for an instant and a hub, reusing exact answers.

    Args:
        catalog: the window catalog (its definitions are cached there).
        clock: the current instant when no ``at`` is given.
    """

    def __init__(self, catalog: Catalog, clock: Clock) -> None:
        self._catalog = catalog
        self._clock = clock
        self._answers: dict[str | None, _Answer] = {}

    async def body(self, at: datetime | None, hub_id: str | None) -> bytes:
        """Return the JSON list of windows (those of ``hub_id``) at ``at`` or now."""
        windows = await self._catalog.windows()
        instant = self._clock.now() if at is None else at
        answer = self._answers.get(hub_id)
        if (
            answer is not None
            and (answer.windows is windows or answer.windows == windows)
            and answer.valid_from <= instant
            and (answer.valid_until is None or instant < answer.valid_until)
        ):
            return answer.body

        views = listing_order((w for w in windows if w.applies_to(hub_id)), instant)
        body = windows_body(views)
        if len(self._answers) >= MAX_REMEMBERED:
            # Hub filters are chosen by clients: never remember without bound.
            self._answers.clear()
        self._answers[hub_id] = _Answer(
            windows, instant, _next_change(views, instant), body
        )
        return body
