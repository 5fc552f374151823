"""How the replay's client puts a request on the wire and takes its answer.

``Transport`` is the port the client sends through. ``AiohttpTransport`` goes
over the network on a pool of kept-alive connections, cheaply enough that the
client does not slow the service it measures; ``HttpxTransport`` goes through
an ``httpx.AsyncClient``, e.g. one whose transport is an app in process or a
mock. Either raises ``TransportFailed`` when no answer came.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Final, NamedTuple, Protocol

import aiohttp
import httpx
from yarl import URL

__all__ = [
    "AiohttpTransport",
    "Answer",
    "HttpxTransport",
    "Transport",
    "TransportFailed",
]

# Below uvicorn's keep-alive of 5 s, so an idle connection is dropped here
# before the server closes it under a request.
_KEEPALIVE_S: Final = 4.0


class Answer(NamedTuple):
    """A response: its status, its body, and ``Retry-After`` on a ``429``."""

    status: int
    content: bytes
    retry_after: str | None = None


class TransportFailed(Exception):
    """No answer came; ``code`` says why: ``timeout`` or ``network_error``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Transport(Protocol):
    """Sends one request and returns its answer, whatever the status."""

    async def send(
        self,
        method: str,
        target: str,
        body: bytes | None,
        headers: Mapping[str, str],
    ) -> Answer:
        """Send ``method`` to ``target`` (an encoded path and query).

        Raises:
            TransportFailed: no answer came.
        """
        ...


class AiohttpTransport:
    """Send over the network through one ``aiohttp.ClientSession``.

    Args:
        session: the session to send with; the caller owns it and closes it.
        base_url: the service's root, to which targets are appended.
    """

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        base_url: str,
        *,
        connections: int,
        timeout_s: float,
        trust_env: bool,
    ) -> AsyncIterator[AiohttpTransport]:
        """Open a session of at most ``connections`` kept-alive connections.

        Args:
            base_url: the service's root.
            connections: connections open at once; requests beyond them wait.
            timeout_s: the longest a request may take, answer included.
            trust_env: take proxies from the environment.
        """
        connector = aiohttp.TCPConnector(
            limit=connections, keepalive_timeout=_KEEPALIVE_S
        )
        async with aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            trust_env=trust_env,
        ) as session:
            yield cls(session, base_url)

    async def send(
        self,
        method: str,
        target: str,
        body: bytes | None,
        headers: Mapping[str, str],
    ) -> Answer:
        """Send one request; see ``Transport.send``."""
        # The target is encoded already: taken as it is, it is not parsed
        # and quoted again on every request.
        url = URL(self._base_url + target, encoded=True)
        try:
            async with self._session.request(
                method, url, data=body, headers=headers
            ) as response:
                content = await response.read()
                status = response.status
                retry_after = (
                    response.headers.get("Retry-After") if status == 429 else None
                )
        except TimeoutError as exc:
            raise TransportFailed("timeout", _failed(method, target, exc)) from exc
        except aiohttp.ClientError as exc:
            raise TransportFailed(
                "network_error", _failed(method, target, exc)
            ) from exc
        return Answer(status, content, retry_after)


class HttpxTransport:
    """Send through an ``httpx.AsyncClient``, whose ``base_url`` is the service.

    Args:
        http: the client to send with; the caller owns it and closes it.
    """

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http
        self._base_url = str(http.base_url).rstrip("/")

    async def send(
        self,
        method: str,
        target: str,
        body: bytes | None,
        headers: Mapping[str, str],
    ) -> Answer:
        """Send one request; see ``Transport.send``."""
        # A whole URL parses once; a path with params would be parsed, merged
        # with the base and encoded again on every request.
        url = httpx.URL(self._base_url + target)
        try:
            response = await self._http.request(
                method, url, content=body, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise TransportFailed("timeout", _failed(method, target, exc)) from exc
        except httpx.TransportError as exc:
            raise TransportFailed(
                "network_error", _failed(method, target, exc)
            ) from exc
        status = response.status_code
        retry_after = response.headers.get("Retry-After") if status == 429 else None
        return Answer(status, response.content, retry_after)


def _failed(method: str, target: str, exc: Exception) -> str:
    path = target.partition("?")[0]
    return f"{method} {path}: {exc!r}"
