"""The OpenAPI document the app serves at ``/schema/openapi.json``, and its docs.

Bodies are decoded by the routes themselves (strictly, from raw bytes), so
the document is written here from one table of operations and the JSON
schemas msgspec derives from the request and response Structs; it states
the field rules, the error answers and the scopes each route needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import Response, get
from litestar.handlers import HTTPRouteHandler

from nerava import __version__
from nerava.config import Settings
from nerava.entrypoints.http.bodies import (
    USER_ID_PATTERN,
    WINDOW_ID_PATTERN,
    AdjustmentIn,
    CancelIn,
    ChargeStartIn,
    ChargeStopIn,
    DebitIn,
    WindowIn,
)
from nerava.entrypoints.http.schemas import (
    EntriesOut,
    ErrorBody,
    HealthOut,
    PostedOut,
    ReadyOut,
    SessionOut,
    StartOut,
    StopOut,
    WalletOut,
    WindowOut,
    encode,
    json_schema_components,
)

__all__ = ["DOCS_PATH", "docs_routes", "openapi_document"]

DOCS_PATH = "/schema"

_ERRORS: dict[int, str] = {
    400: "`malformed_json` (the body is not a JSON object) or `invalid_at_param`.",
    401: "`unauthenticated`: no valid API key (`Authorization: Bearer <key>`).",
    403: "`forbidden` (the key lacks the scope or the hub) or `demo_at_disabled`.",
    404: "`not_found`, `session_not_found` or `window_not_found`.",
    409: "`session_already_active` (with `session_id`), `session_already_stopped`, "
    "`request_in_progress` or `insufficient_funds`.",
    413: "`payload_too_large`: the body is over 64 KiB.",
    422: "`validation_error` (with `errors`: `[{field, message}]`), "
    "`idempotency_key_reused` or `implausible_kwh`.",
    429: "`rate_limited`: over `RATE_LIMIT_PER_MINUTE`; see `Retry-After`.",
    503: "`dependency_unavailable`: the database is down; nothing was written.",
}

_RULES = (
    "Bodies are JSON objects decoded strictly: numbers must be JSON numbers "
    '(`"12.5"` is refused), read as exact decimals; text fields refuse control '
    "characters; unknown fields are ignored. Errors are "
    '`{"status_code", "detail", "message"}` with a stable `detail` code. '
    "Every response carries `X-Request-ID` (the request's own when it is printable "
    "ASCII of at most 200 characters); every response but those of `/healthz`, "
    "`/readyz` and `/metrics` carries `RateLimit-Limit`, `RateLimit-Remaining` and "
    "`RateLimit-Reset` (seconds) while a limit is set."
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _path(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": schema,
        "description": description,
    }


AT = _query(
    "at",
    {"type": "string", "format": "date-time"},
    "Stands in for now (ISO 8601 date-time; naive is UTC). Only when the server "
    "runs with ENERGYHUB_ALLOW_DEMO_AT=true, else 403 `demo_at_disabled`; a "
    "value that is not a date-time (a date alone) is 400 `invalid_at_param`.",
)
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "Repeats with the same key and request replay the first answer "
    "(`Idempotent-Replayed: true`); another request with the key is 422 "
    "`idempotency_key_reused`; while the first runs, 409 `request_in_progress`. "
    "Scoped per API key and route, kept 24 hours.",
}
WINDOW_ID = _path(
    "window_id",
    {"type": "string", "pattern": WINDOW_ID_PATTERN},
    "The window's id; another shape is 422.",
)
SESSION_ID = _path(
    "session_id",
    {"type": "string"},
    "The session's opaque id; an unknown one is 404 `session_not_found`.",
)
USER_ID = _path(
    "user_id",
    {"type": "string", "pattern": USER_ID_PATTERN},
    "The driver's id: 1-128 of A-Z a-z 0-9 . _ : @ + -; another shape is 422.",
)


@dataclass(frozen=True)
class _Operation:
    method: str
    path: str
    summary: str
    success: int
    answer: str | None
    errors: tuple[int, ...]
    scopes: tuple[str, ...] = ()
    body: str | None = None
    parameters: tuple[dict[str, Any], ...] = ()
    description: str = ""
    tags: tuple[str, ...] = field(default=("energyhub",))


_OPERATIONS = (
    _Operation(
        "get",
        "/v1/energyhub/windows",
        "List the reward windows",
        200,
        "WindowList",
        (400, 403, 422, 429, 503),
        parameters=(
            AT,
            _query(
                "hub_id",
                {"type": "string", "minLength": 1, "maxLength": 128},
                "Only the windows that apply to this hub.",
            ),
        ),
        description="Public. Ordered by the UTC time of day of the current or next "
        "start, then id; windows with no occurrence left come last.",
    ),
    _Operation(
        "get",
        "/v1/energyhub/windows/{window_id}",
        "Read one window",
        200,
        "WindowOut",
        (400, 403, 404, 422, 429, 503),
        parameters=(WINDOW_ID, AT),
        description="Public.",
    ),
    _Operation(
        "put",
        "/v1/energyhub/windows/{window_id}",
        "Create or replace a window",
        200,
        "WindowOut",
        (400, 401, 403, 413, 422, 429, 503),
        scopes=("admin",),
        body="WindowIn",
        parameters=(WINDOW_ID, AT),
        description="200 when replaced, 201 when created. An `id` in the body must "
        "equal the path's; read-only fields are ignored.",
    ),
    _Operation(
        "delete",
        "/v1/energyhub/windows/{window_id}",
        "Delete a window",
        204,
        None,
        (401, 403, 404, 422, 429, 503),
        scopes=("admin",),
        parameters=(WINDOW_ID,),
    ),
    _Operation(
        "post",
        "/v1/energyhub/events/charge-start",
        "Start a charging session",
        200,
        "StartOut",
        (400, 401, 403, 409, 413, 422, 429, 503),
        scopes=("events:write",),
        body="ChargeStartIn",
        parameters=(AT, IDEMPOTENCY_KEY),
        description="A driver has at most one active session: a second start is "
        "409 `session_already_active` with the active `session_id`. `occurred_at` "
        "may be at most 5 minutes ahead and MAX_EVENT_AGE_HOURS old.",
    ),
    _Operation(
        "post",
        "/v1/energyhub/events/charge-stop",
        "Stop a charging session",
        200,
        "StopOut",
        (400, 401, 403, 404, 409, 413, 422, 429, 503),
        scopes=("events:write",),
        body="ChargeStopIn",
        parameters=(AT, IDEMPOTENCY_KEY),
        description="The same stop again answers the same bytes and never credits "
        "twice; other `kwh_consumed` is 409 `session_already_stopped`. A stop "
        "before the start is 422 on field `at` (or `occurred_at`); more energy "
        "than MAX_CHARGE_POWER_KW allows is 422 `implausible_kwh`.",
    ),
    _Operation(
        "get",
        "/v1/energyhub/sessions/{session_id}",
        "Read a session",
        200,
        "SessionOut",
        (401, 403, 404, 429, 503),
        scopes=("events:write", "wallet:read"),
        parameters=(SESSION_ID,),
        description="Once stopped, every field of the stop's answer, with the live "
        "`credit_status`; `wallet_balance_cents` is the balance the stop reported "
        "(after a synchronous credit, else null): read the wallet for the live "
        "balance.",
    ),
    _Operation(
        "post",
        "/v1/energyhub/sessions/{session_id}/cancel",
        "Cancel a session",
        200,
        "SessionOut",
        (400, 401, 403, 404, 409, 413, 422, 429, 503),
        scopes=("events:write",),
        body="CancelIn",
        parameters=(SESSION_ID, AT),
        description="Only an active session (else 409 `session_already_stopped`); "
        "cancelling twice answers the same. No reward; the driver may start again.",
    ),
    _Operation(
        "get",
        "/v1/wallet/{user_id}",
        "Read a wallet",
        200,
        "WalletOut",
        (401, 403, 422, 429, 503),
        scopes=("wallet:read",),
        parameters=(USER_ID,),
        tags=("wallet",),
        description="An unknown user has a wallet of zeros. `pending_cents` are "
        "rewards accepted and not yet credited.",
    ),
    _Operation(
        "get",
        "/v1/wallet/{user_id}/entries",
        "List wallet entries",
        200,
        "EntriesOut",
        (401, 403, 422, 429, 503),
        scopes=("wallet:read",),
        tags=("wallet",),
        parameters=(
            USER_ID,
            _query(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                "Entries per page, 1-200.",
            ),
            _query(
                "cursor", {"type": "string"}, "The `next_cursor` of the previous page."
            ),
        ),
        description="Newest first.",
    ),
    _Operation(
        "post",
        "/v1/wallet/{user_id}/debits",
        "Redeem from a wallet",
        201,
        "PostedOut",
        (400, 401, 403, 409, 413, 422, 429, 503),
        scopes=("wallet:write",),
        body="DebitIn",
        tags=("wallet",),
        parameters=(USER_ID, IDEMPOTENCY_KEY),
        description="A `redemption` entry with a negative amount; more than the "
        "balance is 409 `insufficient_funds`.",
    ),
    _Operation(
        "post",
        "/v1/wallet/{user_id}/adjustments",
        "Adjust a wallet",
        201,
        "PostedOut",
        (400, 401, 403, 409, 413, 422, 429, 503),
        scopes=("admin",),
        body="AdjustmentIn",
        tags=("wallet",),
        parameters=(USER_ID,),
        description="A signed correction; below zero is 409 `insufficient_funds`.",
    ),
    _Operation(
        "get",
        "/healthz",
        "Liveness",
        200,
        "HealthOut",
        (),
        tags=("operations",),
        description="Public, not rate limited; touches no dependency.",
    ),
    _Operation(
        "get",
        "/readyz",
        "Readiness",
        200,
        "ReadyOut",
        (),
        tags=("operations",),
        description="Public, not rate limited. 503 with the same shape and "
        '`"status": "unready"` when a check fails (each within 2 s).',
    ),
)

_STRUCTS = [
    ChargeStartIn,
    ChargeStopIn,
    CancelIn,
    DebitIn,
    AdjustmentIn,
    WindowIn,
    WindowOut,
    StartOut,
    StopOut,
    SessionOut,
    WalletOut,
    EntriesOut,
    PostedOut,
    HealthOut,
    ReadyOut,
    ErrorBody,
]


def _as_numbers(schema: Any) -> Any:
    """Describe decimals as what the API reads and writes: JSON numbers."""
    if isinstance(schema, dict):
        if schema.get("type") == "string" and schema.get("format") == "decimal":
            schema = {k: v for k, v in schema.items() if k != "format"}
            schema["type"] = "number"
        return {k: _as_numbers(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_as_numbers(v) for v in schema]
    return schema


def _operation(op: _Operation) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    if op.answer is None:
        responses[str(op.success)] = {"description": "Done; no body."}
    else:
        content = {"application/json": {"schema": _ref(op.answer)}}
        responses[str(op.success)] = {"description": "Success.", "content": content}
        if op.method == "put":
            responses["201"] = {"description": "Created.", "content": content}
    for status in op.errors:
        responses[str(status)] = {
            "description": _ERRORS[status],
            "content": {"application/json": {"schema": _ref("ErrorBody")}},
        }
    operation: dict[str, Any] = {
        "operationId": op.summary.lower().replace(" ", "_"),
        "summary": op.summary,
        "tags": list(op.tags),
        "parameters": list(op.parameters),
        "responses": responses,
    }
    needs = (
        f" Needs an API key with scope {' or '.join(op.scopes)} (or admin)."
        if op.scopes
        else ""
    )
    if op.description or needs:
        operation["description"] = (op.description + needs).strip()
    if op.scopes:
        operation["security"] = [{"bearerAuth": []}]
    if op.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(op.body)}},
        }
    return operation


def openapi_document(settings: Settings) -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of the API under ``settings``."""
    schemas = _as_numbers(json_schema_components(_STRUCTS))
    schemas["WindowList"] = {"type": "array", "items": _ref("WindowOut")}
    stop = schemas["ChargeStopIn"]["properties"]["kwh_consumed"]
    stop["maximum"] = float(settings.max_session_kwh)
    paths: dict[str, Any] = {}
    for op in _OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    paths["/metrics"] = {
        "get": {
            "operationId": "metrics",
            "summary": "Prometheus metrics",
            "tags": ["operations"],
            "description": "Public, not rate limited; Prometheus text format.",
            "responses": {
                "200": {
                    "description": "The metrics.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Nerava",
            "version": __version__,
            "description": "Rewards EV drivers for charging when the grid wants "
            "them to. " + _RULES,
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key from `nerava keys create`.",
                }
            },
        },
    }


_SWAGGER = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Nerava API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/schema/openapi.json", dom_id: "#swagger-ui"});</script>
</body>
</html>
"""

_REDOC = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Nerava API</title></head>
<body>
<redoc spec-url="/schema/openapi.json"></redoc>
<script src="https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js"></script>
</body>
</html>
"""


def docs_routes(document: dict[str, Any]) -> list[HTTPRouteHandler]:
    """Build the routes that serve the document and its browsable docs."""
    encoded = encode(document)

    @get(f"{DOCS_PATH}/openapi.json", name="openapi_json")
    async def openapi_json() -> Response[bytes]:
        return Response(encoded, media_type="application/json")

    @get([DOCS_PATH, f"{DOCS_PATH}/swagger"], name="swagger")
    async def swagger() -> Response[bytes]:
        return Response(_SWAGGER.encode(), media_type="text/html")

    @get(f"{DOCS_PATH}/redoc", name="redoc")
    async def redoc() -> Response[bytes]:
        return Response(_REDOC.encode(), media_type="text/html")

    return [openapi_json, swagger, redoc]
