"""The HTTP API: a Litestar app behind the edge, over the container's services."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from nerava.container import Container
from nerava.entrypoints.http import metrics
from nerava.entrypoints.http.auth import KeyCache
from nerava.entrypoints.http.edge import Cors, Edge, RouteTemplates
from nerava.entrypoints.http.errors import exception_handlers
from nerava.entrypoints.http.inputs import MAX_BODY_BYTES
from nerava.entrypoints.http.logs import configure_access_log
from nerava.entrypoints.http.openapi import docs_routes, openapi_document
from nerava.entrypoints.http.ratelimit import ClientAddresses, RateLimiter
from nerava.entrypoints.http.routes.charging import charging_routes
from nerava.entrypoints.http.routes.operations import operation_routes
from nerava.entrypoints.http.routes.wallet import wallet_routes
from nerava.entrypoints.http.routes.windows import window_routes
from nerava.entrypoints.http.services import Services
from nerava.entrypoints.workers import background_loops

__all__ = ["create_app"]

logger = logging.getLogger(__name__)


def create_app(container: Container, *, background: bool = True) -> Litestar:
    """Build the app over ``container``'s services.

    Its lifespan opens the database (which must be migrated already) and,
    with ``background``, runs the wallet processor, the outbox relay and the
    purges until shutdown.
    """
    services = Services.from_container(container)
    settings = services.settings
    configure_access_log(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if settings.auth_disabled:
            logger.warning(
                "authentication is disabled (AUTH_DISABLED=true): every route "
                "is open to anyone; use this for local demos only"
            )
        await services.database.open()
        loops = background_loops(container) if background else None
        if loops is not None:
            loops.start()
        try:
            yield
        finally:
            if loops is not None:
                await loops.stop()
            await services.database.close()
            metrics.process_stopped()

    app = Litestar(
        route_handlers=[
            *window_routes(services),
            *charging_routes(services),
            *wallet_routes(services),
            *operation_routes(services.database),
            *docs_routes(openapi_document(settings)),
        ],
        exception_handlers=exception_handlers,
        lifespan=[lifespan],
        openapi_config=None,
        logging_config=None,
        request_max_body_size=MAX_BODY_BYTES,
    )
    # Litestar's own middleware never sees a request no route matched, so
    # the edge wraps the handler that routes.
    app.asgi_handler = Edge(
        app.asgi_handler,
        templates=RouteTemplates(
            route.path_format for route in app.routes if hasattr(route, "path_format")
        ),
        keys=KeyCache(services.keys),
        limiter=RateLimiter(container.rate_limits(), settings.rate_limit_per_minute),
        addresses=ClientAddresses(settings.trusted_proxies),
        cors=Cors(settings.cors_allow_origins),
        auth_disabled=settings.auth_disabled,
    )
    return app
