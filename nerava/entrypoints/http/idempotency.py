"""``Idempotency-Key``: run a write once, answer its repeats from storage.

A request is the same when its method, path, query and JSON body are equal;
JSON-equal bodies (key order, ``1.0`` and ``1``) give the same fingerprint.
Keys are scoped per API key and per route (method and path template).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import msgspec
from litestar import Request

from nerava.domain.access import StoredResponse
from nerava.domain.errors import NeravaError, ValidationFailed
from nerava.domain.usecases import Actor, Idempotency, IdempotentWrite
from nerava.entrypoints.http.responses import REPLAYED, Answer

__all__ = ["answer_once", "fingerprint"]

logger = logging.getLogger(__name__)

R = TypeVar("R")

_canonical = msgspec.json.Encoder(order="sorted", decimal_format="number")


def _normalized(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normalized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return _plain(Decimal(value))
    return value


def _plain(number: Decimal) -> Decimal:
    """Drop trailing zeros without the decimal context, which may overflow."""
    sign, digits, exponent = number.as_tuple()
    if not isinstance(exponent, int) or not any(digits):
        return Decimal(0) if isinstance(exponent, int) else number
    end = len(digits)
    while digits[end - 1] == 0:
        end -= 1
        exponent += 1
    return Decimal((sign, digits[:end], exponent))


def fingerprint(method: str, path: str, query: str, body: dict[str, Any]) -> str:
    """Return the SHA-256 of a request's method, path, query and canonical body."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode()):
        digest.update(part)
        digest.update(b"\n")
    try:
        digest.update(_canonical.encode(_normalized(body)))
    except RecursionError:
        raise ValidationFailed.on("body", "is nested too deeply") from None
    return digest.hexdigest()


async def answer_once(
    request: Request[Any, Any, Any],
    *,
    idempotency: Idempotency,
    actor: Actor,
    route: str,
    key: str | None,
    body: dict[str, Any],
    status: int,
    render: Callable[[R], bytes],
    run: Callable[[IdempotentWrite | None], Awaitable[R]],
) -> tuple[Answer, R | None]:
    """Run a write under its idempotency key, or replay the stored answer.

    Args:
        request: the request, for its method, path and query.
        idempotency: the idempotency use case.
        actor: who calls; keys are scoped per actor.
        route: the route's method and path template.
        key: the ``Idempotency-Key``, or None to just run.
        body: the decoded body.
        status: the status of a success.
        render: the body of a success, rendered from the use case's result.
        run: calls the use case with the write to store its answer.

    Returns:
        The response, and the use case's result (None for a replay).

    Raises:
        RequestInProgress, IdempotencyKeyReused: from the key's claim.
    """
    if key is None:
        result = await run(None)
        return Answer(render(result), status), result

    scope = f"{actor.actor_id} {route}"
    query = request.scope.get("query_string", b"").decode("latin-1")
    stored = await idempotency.begin(
        scope, key, fingerprint(request.method, request.scope["path"], query, body)
    )
    if stored is not None:
        return Answer(stored.body, stored.status, (REPLAYED,)), None

    rendered: list[bytes] = []

    def store(result: Any) -> StoredResponse:
        rendered.append(render(result))
        return StoredResponse(status, rendered[-1])

    try:
        result = await run(IdempotentWrite(scope, key, store))
    except BaseException:
        await _release(idempotency, scope, key)
        raise
    body_bytes = rendered[-1] if rendered else render(result)
    return Answer(body_bytes, status), result


async def _release(idempotency: Idempotency, scope: str, key: str) -> None:
    try:
        await idempotency.release(scope, key)
    except NeravaError as exc:
        # The claim lapses by itself within 60 s; the request's own error
        # is what the client must see.
        logger.warning("could not release an idempotency key: %s", exc.message)
