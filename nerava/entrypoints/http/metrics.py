"""Every Prometheus metric of Nerava, and their exposition.

Labels stay low-cardinality: the route template (``unmatched`` when no route
matched), a known method, a status code, a credit mode and outcome, a session
event; never a user, session or hub id. With ``PROMETHEUS_MULTIPROC_DIR`` set
before the process starts, prometheus-client keeps the values in files there,
and ``/metrics`` of any worker process reports the sum over all of them.
"""

from __future__ import annotations

import os
from typing import Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

__all__ = [
    "CONTENT_TYPE",
    "UNMATCHED",
    "exposition",
    "process_stopped",
    "record_credit",
    "record_request",
    "record_session",
    "request_finished",
    "request_started",
]

# The framework appends the charset to text types itself.
CONTENT_TYPE = CONTENT_TYPE_LATEST.replace("; charset=utf-8", "")
UNMATCHED = "unmatched"
MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

CreditMode = Literal["sync", "async"]
CreditOutcome = Literal["credited", "failed"]
SessionEvent = Literal["started", "stopped"]

_requests = Counter(
    "http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "path", "status"],
)
_duration = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "path"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
_active = Gauge(
    "http_active_requests",
    "HTTP requests being answered right now.",
    multiprocess_mode="livesum",
)
_credits = Counter(
    "wallet_credits_total",
    "Attempts to credit a reward to a wallet, by mode and outcome.",
    ["mode", "outcome"],
)
_sessions = Counter(
    "charging_sessions_total",
    "Charging sessions started and stopped.",
    ["event"],
)

for _mode in ("sync", "async"):
    for _outcome in ("credited", "failed"):
        _credits.labels(_mode, _outcome)
for _event in ("started", "stopped"):
    _sessions.labels(_event)

# Resolving label children once per series keeps the per-request cost to two
# dictionary lookups; the key space is bounded by methods x routes x statuses.
_request_series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def request_started() -> None:
    """Count a request as in flight."""
    _active.inc()


def request_finished() -> None:
    """Count a request as no longer in flight."""
    _active.dec()


def record_request(method: str, path: str, status: int, seconds: float) -> None:
    """Count an answered request and observe how long it took.

    Args:
        method: the HTTP method; unknown methods are counted as ``OTHER``.
        path: the route template, or ``unmatched``.
        status: the response's status code.
        seconds: the time from receiving the request to its last byte sent.
    """
    label = method if method in _METHODS else "OTHER"
    key = (label, path, status)
    series = _request_series.get(key)
    if series is None:
        series = (
            _requests.labels(label, path, str(status)),
            _duration.labels(label, path),
        )
        _request_series[key] = series
    series[0].inc()
    series[1].observe(seconds)


def record_credit(mode: CreditMode, outcome: CreditOutcome) -> None:
    """Count an attempt to credit a reward (``failed`` when it will be retried)."""
    _credits.labels(mode, outcome).inc()


def record_session(event: SessionEvent) -> None:
    """Count a charging session that started or stopped."""
    _sessions.labels(event).inc()


def process_stopped() -> None:
    """Drop this process's live gauges from the shared reports, at shutdown."""
    if os.environ.get(MULTIPROC_DIR_VARIABLE):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def exposition() -> bytes:
    """Return every metric in the Prometheus text format.

    In multiprocess mode the values of every process writing into the shared
    directory are summed; otherwise this process's registry is reported.
    """
    if os.environ.get(MULTIPROC_DIR_VARIABLE):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)
