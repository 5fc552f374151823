"""What the edge learns about a request before the app routes it."""

from __future__ import annotations

from typing import Any

from nerava.domain.access import ApiKey
from nerava.domain.errors import NeravaError

__all__ = ["STATE_KEY", "RequestContext", "context_of"]

STATE_KEY = "nerava"


class RequestContext:
    """The request's id, its client, and the API key it authenticated with.

    ``key_error`` holds why the key could not be checked (the store was
    down); a protected route answers it instead of 401.
    """

    __slots__ = ("auth_disabled", "client", "key", "key_error", "request_id")

    def __init__(self, request_id: str, client: str, *, auth_disabled: bool) -> None:
        self.request_id = request_id
        self.client = client
        self.auth_disabled = auth_disabled
        self.key: ApiKey | None = None
        self.key_error: NeravaError | None = None


def context_of(scope: Any) -> RequestContext:
    """Return the context the edge put in the request's ASGI scope."""
    context: RequestContext = scope["state"][STATE_KEY]
    return context
