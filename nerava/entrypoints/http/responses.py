"""Responses of already encoded JSON, handed to the server as they are.

Routes render their bodies with msgspec themselves, so the framework has
nothing left to encode; sending the bytes directly keeps the hot routes lean.
"""

from __future__ import annotations

from collections.abc import Sequence

from litestar.types import Receive, Scope, Send

__all__ = ["REPLAYED", "Answer"]

REPLAYED = (b"idempotent-replayed", b"true")
_JSON = (b"content-type", b"application/json")


class Answer:
    """A JSON response: status, body bytes and any extra headers."""

    __slots__ = ("body", "headers", "status")

    def __init__(
        self,
        body: bytes,
        status: int = 200,
        headers: Sequence[tuple[bytes, bytes]] = (),
    ) -> None:
        self.body = body
        self.status = status
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the response."""
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": [
                    _JSON,
                    (b"content-length", str(len(self.body)).encode()),
                    *self.headers,
                ],
            }
        )
        await send(
            {"type": "http.response.body", "body": self.body, "more_body": False}
        )
