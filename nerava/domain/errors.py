"""The one error tree of Nerava; each error carries the stable code clients see.

::

    NeravaError
    ├── ValidationFailed          validation_error (with the failing fields)
    │   └── ImplausibleEnergy     implausible_kwh
    ├── NotFound                  not_found
    │   ├── SessionNotFound       session_not_found
    │   └── WindowNotFound        window_not_found
    ├── Conflict
    │   ├── SessionAlreadyActive  session_already_active (with the active id)
    │   ├── SessionAlreadyStopped session_already_stopped
    │   ├── InsufficientFunds     insufficient_funds
    │   └── RequestInProgress     request_in_progress
    ├── IdempotencyKeyReused      idempotency_key_reused
    ├── Unauthenticated           unauthenticated
    ├── Forbidden                 forbidden
    └── DependencyUnavailable     dependency_unavailable

The domain raises these; only the HTTP edge maps a code to a status.
"""

from __future__ import annotations

import msgspec

__all__ = [
    "Conflict",
    "DependencyUnavailable",
    "FieldError",
    "Forbidden",
    "IdempotencyKeyReused",
    "ImplausibleEnergy",
    "InsufficientFunds",
    "NeravaError",
    "NotFound",
    "RequestInProgress",
    "SessionAlreadyActive",
    "SessionAlreadyStopped",
    "SessionNotFound",
    "Unauthenticated",
    "ValidationFailed",
    "WindowNotFound",
]


class FieldError(msgspec.Struct, frozen=True):
    """One broken field rule: the field's name and what is wrong with it."""

    field: str
    message: str


class NeravaError(Exception):
    """Root of every error the domain raises on purpose."""

    code: str = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationFailed(NeravaError):
    """Input that is well-formed but breaks a field rule."""

    code = "validation_error"

    def __init__(self, errors: list[FieldError] | FieldError) -> None:
        self.errors = [errors] if isinstance(errors, FieldError) else list(errors)
        first = self.errors[0]
        super().__init__(f"{first.field}: {first.message}")

    @classmethod
    def on(cls, field: str, message: str) -> ValidationFailed:
        """Build the error for a single field."""
        return cls(FieldError(field, message))


class ImplausibleEnergy(ValidationFailed):
    """More energy than the hub could have delivered in the session's time."""

    code = "implausible_kwh"


class NotFound(NeravaError):
    """An unknown id."""

    code = "not_found"


class SessionNotFound(NotFound):
    """No charging session has this id."""

    code = "session_not_found"

    def __init__(self, session_id: str) -> None:
        super().__init__(f"no charging session with id {session_id!r}")
        self.session_id = session_id


class WindowNotFound(NotFound):
    """No window has this id."""

    code = "window_not_found"

    def __init__(self, window_id: str) -> None:
        super().__init__(f"no window with id {window_id!r}")
        self.window_id = window_id


class Conflict(NeravaError):
    """The request contradicts the current state."""

    code = "conflict"


class SessionAlreadyActive(Conflict):
    """The user already has an active session; carries its id."""

    code = "session_already_active"

    def __init__(self, user_id: str, session_id: str) -> None:
        super().__init__(
            f"user {user_id!r} already has an active session {session_id!r}"
        )
        self.user_id = user_id
        self.session_id = session_id


class SessionAlreadyStopped(Conflict):
    """The session is no longer active, or was stopped with other energy."""

    code = "session_already_stopped"


class InsufficientFunds(Conflict):
    """A debit (or negative adjustment) larger than the balance."""

    code = "insufficient_funds"

    def __init__(self, user_id: str, balance_cents: int, amount_cents: int) -> None:
        super().__init__(
            f"wallet of {user_id!r} holds {balance_cents} cents, "
            f"cannot take {amount_cents} cents"
        )
        self.balance_cents = balance_cents
        self.amount_cents = amount_cents


class RequestInProgress(Conflict):
    """The same idempotency key is still being processed."""

    code = "request_in_progress"


class IdempotencyKeyReused(NeravaError):
    """The same idempotency key came with a different request."""

    code = "idempotency_key_reused"


class Unauthenticated(NeravaError):
    """No valid API key."""

    code = "unauthenticated"


class Forbidden(NeravaError):
    """The key lacks the scope or the hub for this action."""

    code = "forbidden"


class DependencyUnavailable(NeravaError):
    """A store the service needs is down or timed out; nothing was written."""

    code = "dependency_unavailable"
