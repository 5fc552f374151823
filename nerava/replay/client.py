"""A polite client of the Nerava HTTP API, as a fleet of hubs would be.

It waits out ``429`` answers as ``Retry-After`` asks, retries server faults and
network errors a few times with backoff (each charge event carries an
``Idempotency-Key``, so a retry never counts twice), and turns every other
refusal into an error carrying the service's stable ``detail`` code::

    ReplayError
    ├── ServiceRefused       the service said no to this request (its code)
    ├── ServiceUnavailable   no answer after the retries (a code still)
    └── ReplayAborted        the target cannot be replayed against at all

Requests go out through a ``Transport``: aiohttp over the network (``connect``),
or an ``httpx.AsyncClient`` for an app in process or a mock.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal
from typing import Final, TypeVar
from urllib.parse import quote

import httpx
import msgspec
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from nerava.replay.transport import (
    AiohttpTransport,
    Answer,
    HttpxTransport,
    Transport,
    TransportFailed,
)

__all__ = [
    "NeravaClient",
    "ReplayAborted",
    "ReplayError",
    "ServiceRefused",
    "ServiceUnavailable",
    "Started",
    "Stopped",
    "WalletState",
    "WindowTerms",
    "connect",
    "iso_z",
]

_R = TypeVar("_R")

# Answers that no row can get past: replaying on would only repeat them.
_FATAL: Final = {
    "demo_at_disabled": (
        "the target refuses the `at` override (403 demo_at_disabled); a replay "
        "needs ENERGYHUB_ALLOW_DEMO_AT=true on the service"
    ),
    "unauthenticated": (
        "the target refuses the API key (401 unauthenticated); pass an admin "
        "key with --key"
    ),
}
_LONGEST_RETRY_AFTER_S: Final = 60.0


class ReplayError(Exception):
    """Root of the errors of the replay's client."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code
        self.message = message or code


class ServiceRefused(ReplayError):
    """The service refused a request with a 4xx answer and a ``detail`` code."""

    def __init__(self, status: int, code: str, message: str = "") -> None:
        super().__init__(code, message)
        self.status = status


class ServiceUnavailable(ReplayError):
    """A server fault or network error outlasted the retries."""


class ReplayAborted(ReplayError):
    """The target cannot take a replay at all; going on would be pointless."""


class _Transient(ReplayError):
    """An answer worth sending the same request again for."""


class Started(msgspec.Struct, frozen=True):
    """The part of a charge-start answer the replay needs."""

    session_id: str


class Stopped(msgspec.Struct, frozen=True, kw_only=True):
    """The part of a charge-stop answer the replay reports."""

    session_id: str
    kwh: Decimal
    grid_reward_cents: int
    merchant_reward_cents: int
    total_reward_cents: int
    window_applied: str | None = None
    credit_status: str = ""


class WalletState(msgspec.Struct, frozen=True, kw_only=True):
    """A wallet's balance and the rewards accepted but not credited yet."""

    balance_cents: int
    pending_cents: int = 0

    @property
    def accepted_cents(self) -> int:
        """Everything accepted for the wallet, credited or still pending."""
        return self.balance_cents + self.pending_cents


class WindowTerms(msgspec.Struct, frozen=True, kw_only=True):
    """A window as the windows list serves it."""

    id: str
    label: str = ""
    price_per_kwh: Decimal
    multiplier: Decimal
    start_utc: str | None = None
    end_utc: str | None = None


class _ErrorBody(msgspec.Struct, frozen=True):
    detail: str = ""
    message: str = ""


_encode = msgspec.json.Encoder(decimal_format="number").encode
_started = msgspec.json.Decoder(Started).decode
_stopped = msgspec.json.Decoder(Stopped).decode
_wallet = msgspec.json.Decoder(WalletState).decode
_windows = msgspec.json.Decoder(list[WindowTerms]).decode
_error = msgspec.json.Decoder(_ErrorBody).decode


def iso_z(instant: datetime) -> str:
    """Write a UTC instant as ISO 8601 with ``Z``."""
    return instant.isoformat().replace("+00:00", "Z")


@asynccontextmanager
async def connect(
    url: str,
    *,
    key: str | None = None,
    connections: int = 8,
    timeout_s: float = 30.0,
    trust_env: bool = True,
    through: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[NeravaClient]:
    """Open a client of the service at ``url`` over kept-alive connections.

    Args:
        url: the service's root.
        key: the API key, sent as a bearer token; ``None`` sends none.
        connections: connections open at once; one per request in flight
            means none is opened mid-run.
        timeout_s: the longest one try of a request may take.
        trust_env: take proxies from the environment.
        through: send through this httpx transport (e.g. an app in process,
            or a mock) instead of the network.
    """
    if through is not None:
        async with httpx.AsyncClient(
            base_url=url, transport=through, timeout=timeout_s
        ) as http:
            yield NeravaClient(http, key=key)
        return
    async with AiohttpTransport.open(
        url, connections=connections, timeout_s=timeout_s, trust_env=trust_env
    ) as transport:
        yield NeravaClient(transport, key=key)


class NeravaClient:
    """Send charge events and read wallets over kept-alive connections.

    Args:
        http: what to send through: a ``Transport``, or an
            ``httpx.AsyncClient`` whose ``base_url`` is the service; the
            caller owns it and closes it.
        key: the API key, sent as a bearer token; ``None`` sends none.
        attempts: tries per request when the server faults or the network
            fails.
        backoff_s: the first wait between tries; it doubles, with jitter, up
            to 5 s.
        max_rate_limited: consecutive ``429`` answers waited out before a
            request is given up as ``rate_limited``.
        sleep: how to wait (tests pass one that does not).
    """

    def __init__(
        self,
        http: Transport | httpx.AsyncClient,
        *,
        key: str | None = None,
        attempts: int = 4,
        backoff_s: float = 0.1,
        max_rate_limited: int = 1000,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._transport = (
            HttpxTransport(http) if isinstance(http, httpx.AsyncClient) else http
        )
        self._headers = {"Content-Type": "application/json"}
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        self._retrying = AsyncRetrying(
            stop=stop_after_attempt(max(1, attempts - 1)),
            wait=wait_exponential_jitter(
                multiplier=backoff_s, max=5.0, jitter=backoff_s
            ),
            retry=retry_if_exception_type(_Transient),
            sleep=sleep,
            reraise=True,
        )
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._max_rate_limited = max_rate_limited
        self._sleep = sleep

    async def start(
        self, user_id: str, hub_id: str, at: datetime, idempotency_key: str
    ) -> Started:
        """Report a plug-in at ``at``."""
        body = _encode({"user_id": user_id, "hub_id": hub_id})
        content = await self._call(
            "POST",
            "/v1/energyhub/events/charge-start",
            at=at,
            body=body,
            idempotency_key=idempotency_key,
        )
        return _decoded(_started, content)

    async def stop(
        self, session_id: str, kwh: Decimal, at: datetime, idempotency_key: str
    ) -> Stopped:
        """Report a plug-out at ``at`` with the energy delivered."""
        body = _encode({"session_id": session_id, "kwh_consumed": kwh})
        content = await self._call(
            "POST",
            "/v1/energyhub/events/charge-stop",
            at=at,
            body=body,
            idempotency_key=idempotency_key,
        )
        return _decoded(_stopped, content)

    async def cancel(self, session_id: str, reason: str, at: datetime) -> None:
        """Cancel an active session, as a hub that lost its stop would."""
        await self._call(
            "POST",
            f"/v1/energyhub/sessions/{quote(session_id, safe='')}/cancel",
            at=at,
            body=_encode({"reason": reason}),
        )

    async def wallet(self, user_id: str) -> WalletState:
        """Read a wallet's balance and pending rewards."""
        content = await self._call("GET", f"/v1/wallet/{quote(user_id, safe='')}")
        return _decoded(_wallet, content)

    async def windows(self, at: datetime | None = None) -> list[WindowTerms]:
        """List the windows (as of ``at`` when given)."""
        content = await self._call("GET", "/v1/energyhub/windows", at=at)
        return _decoded(_windows, content)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        at: datetime | None = None,
        body: bytes | None = None,
        idempotency_key: str | None = None,
    ) -> bytes:
        target = path if at is None else f"{path}?at={iso_z(at)}"
        headers = self._headers
        if idempotency_key is not None:
            headers = {**headers, "Idempotency-Key": idempotency_key}

        # The first try skips the retry machinery: nearly every request needs
        # only one.
        try:
            return await self._once(method, target, body, headers)
        except _Transient as exc:
            if self._attempts <= 1:
                raise ServiceUnavailable(exc.code, exc.message) from exc
            await self._sleep(self._backoff_s)

        try:
            async for attempt in self._retrying.copy():
                with attempt:
                    return await self._once(method, target, body, headers)
        except _Transient as exc:
            raise ServiceUnavailable(exc.code, exc.message) from exc
        raise AssertionError("retrying ended without an outcome")  # pragma: no cover

    async def _once(
        self,
        method: str,
        target: str,
        body: bytes | None,
        headers: Mapping[str, str],
    ) -> bytes:
        for _ in range(self._max_rate_limited + 1):
            try:
                answer = await self._transport.send(method, target, body, headers)
            except TransportFailed as exc:
                raise _Transient(exc.code, exc.message) from exc

            status = answer.status
            if status < 300:
                return answer.content
            if status == 429:
                await self._sleep(_retry_after(answer.retry_after))
                continue
            error = _error_of(answer)
            if status >= 500 or error.detail == "request_in_progress":
                raise _Transient(error.detail, error.message)
            if error.detail in _FATAL:
                raise ReplayAborted(error.detail, _FATAL[error.detail])
            raise ServiceRefused(status, error.detail, error.message)
        path = target.partition("?")[0]
        raise ServiceUnavailable(
            "rate_limited", f"{method} {path}: still rate limited after waiting"
        )


def _decoded(decode: Callable[[bytes], _R], content: bytes) -> _R:
    try:
        return decode(content)
    except msgspec.DecodeError as exc:
        raise ServiceUnavailable("invalid_response", str(exc)) from exc


def _error_of(answer: Answer) -> _ErrorBody:
    try:
        error = _error(answer.content)
    except msgspec.DecodeError:
        error = _ErrorBody()
    if not error.detail:
        return _ErrorBody(f"http_{answer.status}", error.message)
    return error


def _retry_after(header: str | None) -> float:
    """Read ``Retry-After`` (seconds or an HTTP date); one second if absent."""
    value = (header or "").strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - (
                time.time()
            )
        except (TypeError, ValueError):
            seconds = 1.0
    return min(max(seconds, 0.0), _LONGEST_RETRY_AFTER_S)
