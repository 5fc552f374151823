"""The edge: what every request passes through before and after the app.

It sees every request, those no route matches included, so it is where the
request id, the rate limit, CORS, the metrics and the access log live. In
order: give the request an id; learn its client and, unless the path is
``/healthz``, ``/readyz`` or ``/metrics``, its API key and its rate-limit
verdict (a 429 ends it there); answer a CORS preflight; then let the app
route it, adding the edge's headers to whatever the app answers.
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time
from collections.abc import Iterable, Sequence
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from nerava.domain.errors import NeravaError
from nerava.entrypoints.http import metrics
from nerava.entrypoints.http.auth import KeyCache, bearer_secret
from nerava.entrypoints.http.context import STATE_KEY, RequestContext
from nerava.entrypoints.http.errors import error_body
from nerava.entrypoints.http.logs import AccessLine, log_access
from nerava.entrypoints.http.ratelimit import (
    ClientAddresses,
    RateLimiter,
    limit_headers,
)

__all__ = ["EXEMPT_PATHS", "Cors", "Edge"]

logger = logging.getLogger(__name__)

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
MAX_REQUEST_ID_LENGTH = 200
_JSON_HEADERS = [(b"content-type", b"application/json")]
_EXPOSED = (
    b"X-Request-ID, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, "
    b"Retry-After, Idempotent-Replayed"
)
_ALLOWED_HEADERS = b"Authorization, Content-Type, Idempotency-Key, X-Request-ID"
_ALLOWED_METHODS = b"GET, POST, PUT, DELETE, OPTIONS"


class Cors:
    """Cross-origin answers for ``CORS_ALLOW_ORIGINS``.

    An origin is echoed only when listed; ``*`` answers ``*`` and never
    allows credentials. With no origins configured, no CORS header is sent.
    """

    def __init__(self, origins: Sequence[str]) -> None:
        self.any_origin = "*" in origins
        self._origins = frozenset(o.encode() for o in origins if o != "*")
        self.enabled = self.any_origin or bool(self._origins)

    def headers(self, origin: bytes) -> list[tuple[bytes, bytes]]:
        """Return the headers of an answer to ``origin``; none if not allowed."""
        if self.any_origin:
            return [
                (b"access-control-allow-origin", b"*"),
                (b"access-control-expose-headers", _EXPOSED),
            ]
        if origin in self._origins:
            return [
                (b"access-control-allow-origin", origin),
                (b"access-control-expose-headers", _EXPOSED),
                (b"vary", b"Origin"),
            ]
        return []

    def preflight(self, origin: bytes) -> list[tuple[bytes, bytes]]:
        """Return the headers of a preflight answer; none if not allowed."""
        allowed = self.headers(origin)
        if not allowed:
            return []
        return [
            *allowed,
            (b"access-control-allow-methods", _ALLOWED_METHODS),
            (b"access-control-allow-headers", _ALLOWED_HEADERS),
            (b"access-control-max-age", b"600"),
        ]


class _Headers:
    """The few request headers the edge reads, found in one pass."""

    __slots__ = (
        "authorization",
        "forwarded_for",
        "origin",
        "preflight_method",
        "request_id",
    )

    def __init__(self, raw: Iterable[tuple[bytes, bytes]]) -> None:
        self.authorization: bytes | None = None
        self.request_id: bytes | None = None
        self.forwarded_for: bytes | None = None
        self.origin: bytes | None = None
        self.preflight_method: bytes | None = None
        for name, value in raw:
            if name == b"authorization":
                self.authorization = value
            elif name == b"x-request-id":
                self.request_id = value
            elif name == b"x-forwarded-for":
                self.forwarded_for = value
            elif name == b"origin":
                self.origin = value
            elif name == b"access-control-request-method":
                self.preflight_method = value


# Unique without a random draw per request: a random process prefix and a count.
_REQUEST_ID_PREFIX = secrets.token_hex(8)
_request_numbers = itertools.count(1)


def _request_id(given: bytes | None) -> str:
    if given is not None and 0 < len(given) <= MAX_REQUEST_ID_LENGTH:
        text = given.decode("latin-1")
        if text.isascii() and text.isprintable():
            return text
    return f"{_REQUEST_ID_PREFIX}{next(_request_numbers):016x}"


class RouteTemplates:
    """Tells the route template of a path, for requests no handler labelled.

    Args:
        templates: the routes' path templates with bare parameter names, e.g.
            ``/v1/energyhub/sessions/{session_id}``.
    """

    def __init__(self, templates: Iterable[str]) -> None:
        self._exact: dict[str, str] = {}
        self._patterns: list[tuple[re.Pattern[str], str]] = []
        for template in templates:
            if "{" not in template:
                self._exact[template] = template
                continue
            pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
            self._patterns.append((re.compile(pattern), template))

    def match(self, path: str) -> str:
        """Return the template ``path`` falls under, or ``unmatched``."""
        exact = self._exact.get(path)
        if exact is not None:
            return exact
        for pattern, template in self._patterns:
            if pattern.fullmatch(path):
                return template
        return metrics.UNMATCHED


class Edge:
    """Wraps the app's ASGI handler; see the module's description.

    Args:
        app: the handler it wraps (Litestar's router with its error handling).
        keys: resolves API keys, briefly cached.
        limiter: the rate limit.
        addresses: tells the client address of a request.
        cors: the cross-origin policy.
        auth_disabled: ``AUTH_DISABLED``: every route is open.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        templates: RouteTemplates,
        keys: KeyCache,
        limiter: RateLimiter,
        addresses: ClientAddresses,
        cors: Cors,
        auth_disabled: bool,
    ) -> None:
        self._app = app
        self._templates = templates
        self._keys = keys
        self._limiter = limiter
        self._addresses = addresses
        self._cors = cors
        self._auth_disabled = auth_disabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one ASGI connection."""
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = _Headers(scope["headers"])
        peer = scope.get("client")
        forwarded = headers.forwarded_for
        context = RequestContext(
            _request_id(headers.request_id),
            self._addresses.client(
                peer[0] if peer else None,
                forwarded.decode("latin-1") if forwarded else None,
            ),
            auth_disabled=self._auth_disabled,
        )
        scope["state"][STATE_KEY] = context
        extra = [(b"x-request-id", context.request_id.encode())]
        status = 500
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        metrics.request_started()
        try:
            if await self._admit(scope, headers, context, extra, send_with_headers):
                await self._app(scope, receive, send_with_headers)
        except Exception as exc:
            logger.error(
                "request %s failed outside the app", context.request_id, exc_info=exc
            )
            if not response_started:
                await _respond(
                    send_with_headers,
                    500,
                    error_body(
                        "internal_error",
                        "an internal error occurred; quote request id "
                        + context.request_id,
                    ),
                )
        finally:
            metrics.request_finished()
            elapsed = time.perf_counter() - started
            # A 429 or a 405 never reached a handler, yet its path is a route.
            route = scope.get("path_template") or self._templates.match(scope["path"])
            method = scope["method"]
            metrics.record_request(method, route, status, elapsed)
            log_access(
                AccessLine(
                    method=method,
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 3),
                    request_id=context.request_id,
                    client=context.client,
                )
            )

    async def _admit(
        self,
        scope: HTTPScope,
        headers: _Headers,
        context: RequestContext,
        extra: list[tuple[bytes, bytes]],
        send: Send,
    ) -> bool:
        """Authenticate, count and pre-answer; False when the edge answered."""
        if self._cors.enabled and headers.origin is not None:
            extra.extend(self._cors.headers(headers.origin))
        if scope["path"] in EXEMPT_PATHS:
            return True

        if headers.authorization is not None and not self._auth_disabled:
            await self._authenticate(context, headers.authorization)
        if self._limiter.enabled:
            caller = (
                f"key:{context.key.key_id}"
                if context.key is not None
                else f"client:{context.client}"
            )
            decision = await self._limiter.hit(caller)
            extra.extend(limit_headers(decision))
            if not decision.allowed:
                logger.warning(
                    "Rate limit exceeded by %s on %s %s",
                    caller,
                    scope["method"],
                    scope["path"],
                )
                await _respond(
                    send,
                    429,
                    error_body(
                        "rate_limited",
                        f"more than {decision.limit} requests a minute; "
                        f"retry in {decision.reset_seconds} s",
                    ),
                )
                return False

        if (
            scope["method"] == "OPTIONS"
            and headers.origin is not None
            and headers.preflight_method is not None
        ):
            allowed = self._cors.preflight(headers.origin)
            if allowed:
                extra[:] = [h for h in extra if not h[0].startswith(b"access-")]
                extra.extend(allowed)
                await _respond(send, 204, b"")
                return False
        return True

    async def _authenticate(self, context: RequestContext, header: bytes) -> None:
        secret = bearer_secret(header.decode("latin-1"))
        if secret is None:
            return
        try:
            context.key = await self._keys.resolve(secret)
        except NeravaError as exc:
            # Public routes still answer; protected ones answer this error.
            context.key_error = exc


async def _respond(send: Send, status: int, body: bytes) -> None:
    headers: Any = _JSON_HEADERS if body else []
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
