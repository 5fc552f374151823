"""Errors as the API answers them: a status, a stable code and a message.

The domain's errors carry their code; this module alone decides each code's
HTTP status. Errors only the edge can find (a body that is not JSON, an
``at`` it may not use, a rate limit) are ``HttpError`` with their own code.
Every error body is ``{"status_code", "detail", "message"}``, with
``errors`` for validation failures and ``session_id`` for
``session_already_active``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
)
from litestar.types import ExceptionHandlersMap

from nerava.domain.errors import (
    FieldError,
    NeravaError,
    SessionAlreadyActive,
    ValidationFailed,
)
from nerava.entrypoints.http.context import STATE_KEY
from nerava.entrypoints.http.schemas import (
    ErrorBody,
    FieldErrorOut,
    encode,
)

__all__ = [
    "ERROR_STATUS",
    "HttpError",
    "error_body",
    "exception_handlers",
    "json_error",
]

logger = logging.getLogger(__name__)

ERROR_STATUS: Mapping[str, int] = {
    "malformed_json": 400,
    "invalid_at_param": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "demo_at_disabled": 403,
    "not_found": 404,
    "session_not_found": 404,
    "window_not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "session_already_active": 409,
    "session_already_stopped": 409,
    "request_in_progress": 409,
    "insufficient_funds": 409,
    "payload_too_large": 413,
    "validation_error": 422,
    "idempotency_key_reused": 422,
    "implausible_kwh": 422,
    "rate_limited": 429,
    # Nobody reads this answer; the status names the case in logs and metrics.
    "client_closed_request": 499,
    "internal_error": 500,
    "dependency_unavailable": 503,
}

_JSON = "application/json"


class HttpError(Exception):
    """An error found at the HTTP edge, before any use case ran."""

    def __init__(
        self, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = ERROR_STATUS[code]
        self.message = message
        self.headers = dict(headers or {})


def error_body(
    code: str,
    message: str,
    *,
    errors: list[FieldError] | None = None,
    session_id: str | None = None,
) -> bytes:
    """Encode the error body for ``code``."""
    body = ErrorBody(
        status_code=ERROR_STATUS[code],
        detail=code,
        message=message,
        errors=(
            msgspec.UNSET
            if errors is None
            else [FieldErrorOut(e.field, e.message) for e in errors]
        ),
        session_id=msgspec.UNSET if session_id is None else session_id,
    )
    return encode(body)


def json_error(
    code: str,
    message: str,
    *,
    errors: list[FieldError] | None = None,
    session_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response[bytes]:
    """Return the JSON response of an error."""
    return Response(
        error_body(code, message, errors=errors, session_id=session_id),
        status_code=ERROR_STATUS[code],
        media_type=_JSON,
        headers=dict(headers) if headers else None,
    )


def _domain_error(request: Request[Any, Any, Any], exc: NeravaError) -> Response[bytes]:
    code = exc.code if exc.code in ERROR_STATUS else "internal_error"
    if code == "internal_error":
        return _internal_error(request, exc)
    if isinstance(exc, ValidationFailed):
        return json_error(code, exc.message, errors=exc.errors)
    if isinstance(exc, SessionAlreadyActive):
        return json_error(code, exc.message, session_id=exc.session_id)
    headers = {"WWW-Authenticate": "Bearer"} if code == "unauthenticated" else None
    if code == "dependency_unavailable":
        # The detail names hosts and files: operators read it, clients do not.
        logger.warning("dependency unavailable: %s", exc.message)
        return json_error(
            code,
            "a store the service needs is unavailable; nothing was written, try again",
            headers={"Retry-After": "1"},
        )
    return json_error(code, exc.message, headers=headers)


def _http_error(request: Request[Any, Any, Any], exc: HttpError) -> Response[bytes]:
    return json_error(exc.code, exc.message, headers=exc.headers)


def _framework_error(
    request: Request[Any, Any, Any], exc: HTTPException
) -> Response[bytes]:
    if isinstance(exc, NotFoundException):
        return json_error(
            "not_found", f"no route for {request.method} {request.url.path}"
        )
    if isinstance(exc, MethodNotAllowedException):
        return json_error(
            "method_not_allowed",
            f"{request.method} is not allowed on {request.url.path}",
            headers=exc.headers,
        )
    if exc.status_code == 413:
        return json_error("payload_too_large", "the body is larger than 64 KiB")
    if exc.status_code < 500:
        return json_error("malformed_json", str(exc.detail))
    return _internal_error(request, exc)


def _internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    context = request.scope.get("state", {}).get(STATE_KEY)
    request_id = context.request_id if context is not None else ""
    logger.error(
        "internal error answering %s %s (request %s)",
        request.method,
        request.url.path,
        request_id,
        exc_info=exc,
    )
    return json_error(
        "internal_error",
        f"an internal error occurred; quote request id {request_id}",
    )


exception_handlers: ExceptionHandlersMap = {
    HttpError: _http_error,
    NeravaError: _domain_error,
    HTTPException: _framework_error,
    Exception: _internal_error,
}
