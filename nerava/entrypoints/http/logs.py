"""The access log: one JSON object per line, one line per request.

Its lines go to stderr through their own handler, as bare JSON, so that
log shippers read them without parsing a prefix; every other record goes
wherever the process's logging sends it.
"""

from __future__ import annotations

import contextlib
import logging
import sys

import msgspec

__all__ = ["ACCESS_LOGGER", "AccessLine", "configure_access_log", "log_access"]

ACCESS_LOGGER = "nerava.access"

_logger = logging.getLogger(ACCESS_LOGGER)
_encoder = msgspec.json.Encoder()


class AccessLine(msgspec.Struct, frozen=True):
    """What is logged of a request; never a header, a body or a key."""

    method: str
    route: str
    status: int
    duration_ms: float
    request_id: str
    client: str


class _StderrHandler(logging.Handler):
    """Writes to the process's stderr as it is when the record comes."""

    def emit(self, record: logging.LogRecord) -> None:
        """Write the record's message as one line."""
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


def configure_access_log(level: str) -> None:
    """Send access lines at ``level`` (``LOG_LEVEL``) to stderr as bare JSON."""
    _logger.setLevel(level.upper())
    _logger.propagate = False
    if not any(isinstance(h, _StderrHandler) for h in _logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        _logger.addHandler(handler)


def log_access(line: AccessLine) -> None:
    """Write one access line, if the log level lets it through."""
    if not _logger.isEnabledFor(logging.INFO):
        return
    text = _encoder.encode(line).decode()
    handlers = _logger.handlers
    if (
        len(handlers) == 1
        and type(handlers[0]) is _StderrHandler
        and not (_logger.filters or handlers[0].filters)
    ):
        # Only this module's own handler listens: the line can go straight
        # out, without a LogRecord that would cost more than the request.
        _write_line(text)
        return
    _logger.handle(
        _logger.makeRecord(ACCESS_LOGGER, logging.INFO, "", 0, text, (), None)
    )


def _write_line(text: str) -> None:
    # A closed or broken stderr must not fail the request it logs.
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(text + "\n")
