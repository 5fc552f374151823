"""Who a request comes from, and whether they are over the rate limit.

Requests are counted in fixed windows of 60 seconds, per API key when the
key is valid and per client address otherwise. ``X-Forwarded-For`` names the
client only when the peer is one of ``TRUSTED_PROXIES``; the client is then
the nearest address in the chain that is not itself a trusted proxy.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Sequence

from nerava.ports.ratelimit import RateLimitDecision, RateLimitStore

__all__ = ["WINDOW_SECONDS", "ClientAddresses", "RateLimiter", "limit_headers"]

WINDOW_SECONDS = 60

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ClientAddresses:
    """Tells a request's client address, believing only trusted proxies."""

    def __init__(self, trusted_proxies: Sequence[str]) -> None:
        self._trusted: tuple[Network, ...] = tuple(
            ipaddress.ip_network(p, strict=False) for p in trusted_proxies
        )

    def client(self, peer: str | None, forwarded_for: str | None) -> str:
        """Return the client's address.

        Args:
            peer: the address of the connection's other end.
            forwarded_for: the ``X-Forwarded-For`` header, if any.
        """
        if peer is None:
            return "unknown"
        if not forwarded_for or not self._trusted or not self._is_trusted(peer):
            return peer
        client = peer
        for hop in reversed(forwarded_for.split(",")):
            address = hop.strip()
            if not self._parses(address):
                break
            client = address
            if not self._is_trusted(address):
                break
        return client

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._trusted)

    @staticmethod
    def _parses(address: str) -> bool:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            return False
        return True


class RateLimiter:
    """Counts requests against ``RATE_LIMIT_PER_MINUTE`` (0 turns it off).

    Args:
        store: where the counts live.
        per_minute: requests allowed per caller per window.
        now: the wall clock, in seconds since the epoch.
    """

    def __init__(
        self,
        store: RateLimitStore,
        per_minute: int,
        *,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self.per_minute = per_minute
        self._now = now

    @property
    def enabled(self) -> bool:
        """Whether requests are limited at all."""
        return self.per_minute > 0

    async def hit(self, caller: str) -> RateLimitDecision:
        """Count one request of ``caller`` and judge it."""
        return await self._store.hit(
            caller, self.per_minute, WINDOW_SECONDS, self._now()
        )


def limit_headers(decision: RateLimitDecision) -> list[tuple[bytes, bytes]]:
    """Return the ``RateLimit-*`` headers (and ``Retry-After`` when refused)."""
    reset = str(decision.reset_seconds).encode()
    headers = [
        (b"ratelimit-limit", str(decision.limit).encode()),
        (b"ratelimit-remaining", str(decision.remaining).encode()),
        (b"ratelimit-reset", reset),
    ]
    if not decision.allowed:
        headers.append((b"retry-after", reset))
    return headers
