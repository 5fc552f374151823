"""``/v1/energyhub/windows``: the reward windows, public to read."""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from typing import Any

from litestar import Request, delete, get, put
from litestar.handlers import HTTPRouteHandler

from nerava.domain.access import Scope
from nerava.domain.errors import ValidationFailed
from nerava.domain.windows import Window
from nerava.entrypoints.http import inputs
from nerava.entrypoints.http.auth import authorize
from nerava.entrypoints.http.bodies import (
    WindowIn,
    convert,
)
from nerava.entrypoints.http.listing import WindowListing
from nerava.entrypoints.http.responses import Answer
from nerava.entrypoints.http.services import Services
from nerava.entrypoints.http.views import window_body

__all__ = ["window_routes"]

AnyRequest = Request[Any, Any, Any]


def _local_time(hhmm: str) -> time:
    hour, minute = hhmm.split(":")
    return time(int(hour), int(minute))


def _window(window_id: str, data: WindowIn) -> Window:
    if data.id is not None and data.id != window_id:
        raise ValidationFailed.on("id", "must equal the window id of the path")
    return Window(
        id=window_id,
        label=data.label,
        start_local=_local_time(data.start_local),
        end_local=_local_time(data.end_local),
        price_per_kwh=Decimal(data.price_per_kwh),
        multiplier=Decimal(data.multiplier),
        timezone=data.timezone,
        days=tuple(data.days),
        start_date=data.start_date,
        end_date=data.end_date,
        hub_ids=tuple(dict.fromkeys(data.hub_ids)),
    )


def window_routes(services: Services) -> list[HTTPRouteHandler]:
    """Build the window routes."""
    catalog = services.catalog
    settings = services.settings
    listing = WindowListing(catalog, services.clock)

    @get("/v1/energyhub/windows", name="list_windows")
    async def list_windows(request: AnyRequest) -> Answer:
        at = inputs.demo_instant(request, settings.allow_demo_at)
        hub_id = inputs.hub_filter(request)
        return Answer(await listing.body(at, hub_id))

    @get("/v1/energyhub/windows/{window_id:str}", name="get_window")
    async def get_window(request: AnyRequest) -> Answer:
        at = inputs.demo_instant(request, settings.allow_demo_at)
        window_id = inputs.window_id(request.path_params["window_id"])
        return Answer(window_body(await catalog.get(window_id, at)))

    @put("/v1/energyhub/windows/{window_id:str}", name="put_window")
    async def put_window(request: AnyRequest) -> Answer:
        authorize(request.scope, Scope.ADMIN)
        body = await inputs.read_json(request)
        at = inputs.demo_instant(request, settings.allow_demo_at)
        window_id = inputs.window_id(request.path_params["window_id"])
        data = convert(body, WindowIn, max_kwh=settings.max_session_kwh)
        view, created = await catalog.put(_window(window_id, data), at)
        return Answer(window_body(view), 201 if created else 200)

    @delete("/v1/energyhub/windows/{window_id:str}", name="delete_window")
    async def delete_window(request: AnyRequest) -> None:
        authorize(request.scope, Scope.ADMIN)
        await catalog.delete(inputs.window_id(request.path_params["window_id"]))

    return [list_windows, get_window, put_window, delete_window]
