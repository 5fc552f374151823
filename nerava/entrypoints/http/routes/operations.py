"""``/healthz``, ``/readyz`` and ``/metrics``: for the platform, not for clients."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler

from nerava.domain.errors import NeravaError
from nerava.entrypoints.http import metrics
from nerava.entrypoints.http.responses import Answer
from nerava.entrypoints.http.schemas import (
    HealthOut,
    ReadyOut,
    encode,
)
from nerava.ports.storage import Database

__all__ = ["READINESS_TIMEOUT_SECONDS", "operation_routes"]

logger = logging.getLogger(__name__)

READINESS_TIMEOUT_SECONDS = 2.0
_HEALTHY = encode(HealthOut(status="ok"))

AnyRequest = Request[Any, Any, Any]


async def _check(database: Database) -> str:
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
            await database.ping()
    except TimeoutError:
        logger.warning(
            "readiness: the database did not answer in %.0f s",
            READINESS_TIMEOUT_SECONDS,
        )
        return "timeout"
    except NeravaError as exc:
        logger.warning("readiness: the database is unavailable: %s", exc.message)
        return "unavailable"
    except Exception:
        logger.exception("readiness: the database check failed")
        return "error"
    return "ok"


def operation_routes(database: Database) -> list[HTTPRouteHandler]:
    """Build the health, readiness and metrics routes."""

    @get("/healthz", name="healthz")
    async def healthz(request: AnyRequest) -> Answer:
        return Answer(_HEALTHY)

    @get("/readyz", name="readyz")
    async def readyz(request: AnyRequest) -> Answer:
        checks = {"database": await _check(database)}
        ready = all(result == "ok" for result in checks.values())
        body = ReadyOut(status="ready" if ready else "unready", checks=checks)
        return Answer(encode(body), 200 if ready else 503)

    @get("/metrics", name="metrics")
    async def metrics_route(request: AnyRequest) -> Response[bytes]:
        return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)

    return [healthz, readyz, metrics_route]
