"""The baselines the benchmark measures Nerava against.

``app`` is a bare Litestar app with one route, ``GET /v1/energyhub/windows``,
that returns the windows JSON Nerava served (read once, at import, from the
file named by ``BENCH_WINDOWS_JSON``) from memory: no middleware, no database,
no logging. Litestar encodes the list on every request, as a handler of a real
service would.

``trivial`` is a plain ASGI callable that answers every request with the same
bytes; it serves only to show how fast the load generator can go.

Both are started with the same uvicorn settings as ``nerava serve``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar, get

__all__ = ["app", "trivial"]

WINDOWS_JSON_VARIABLE = "BENCH_WINDOWS_JSON"


def _load_windows() -> list[dict[str, Any]]:
    path = os.environ.get(WINDOWS_JSON_VARIABLE)
    if not path:
        return []
    windows: list[dict[str, Any]] = msgspec.json.decode(Path(path).read_bytes())
    return windows


WINDOWS = _load_windows()


@get("/v1/energyhub/windows", sync_to_thread=False)
def list_windows() -> list[dict[str, Any]]:
    """Return the windows held in memory."""
    return WINDOWS


app = Litestar(route_handlers=[list_windows], openapi_config=None)

_TRIVIAL_BODY = b'{"status":"ok"}'
_TRIVIAL_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(_TRIVIAL_BODY)).encode()),
    ],
}
_TRIVIAL_END = {"type": "http.response.body", "body": _TRIVIAL_BODY}


async def trivial(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer every HTTP request with the same small JSON body."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send(_TRIVIAL_START)
    await send(_TRIVIAL_END)
