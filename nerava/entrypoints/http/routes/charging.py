"""Charge events and sessions: ``/v1/energyhub/events/*`` and ``/sessions/*``."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from litestar import Request, get, post
from litestar.handlers import HTTPRouteHandler

from nerava.domain.access import Scope
from nerava.domain.sessions import CreditStatus, Session
from nerava.domain.usecases import MeterReading, StartCharge, StopCharge
from nerava.entrypoints.http import inputs, metrics
from nerava.entrypoints.http.auth import authorize
from nerava.entrypoints.http.bodies import (
    CancelIn,
    ChargeStartIn,
    ChargeStopIn,
    convert,
    utc,
)
from nerava.entrypoints.http.idempotency import answer_once
from nerava.entrypoints.http.responses import Answer
from nerava.entrypoints.http.services import Services
from nerava.entrypoints.http.views import (
    cancelled_body,
    session_body,
    start_body,
    stop_body,
)

__all__ = ["charging_routes"]

AnyRequest = Request[Any, Any, Any]

START_ROUTE = "POST /v1/energyhub/events/charge-start"
STOP_ROUTE = "POST /v1/energyhub/events/charge-stop"


class _FirstStops:
    """Tells whether this process already counted a session's stop.

    A repeated stop returns the stored session like the first one did, so
    the metric counts a session the first time this process answers it.
    """

    # Limitation: a repeat long after (past the last 10,000 stops) or on
    # another replica is counted again; a stop result that tells a fresh stop
    # from a repeat, or counting the relayed ChargeStopped events, would lift it.

    def __init__(self, size: int = 10_000) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def first(self, session_id: str) -> bool:
        """Whether ``session_id`` is seen for the first time (and note it)."""
        if session_id in self._seen:
            return False
        self._seen[session_id] = None
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return True


def _count_stop(seen: _FirstStops, session: Session) -> None:
    if seen.first(session.session_id):
        metrics.record_session("stopped")
        if session.credit_status_at_stop is CreditStatus.CREDITED:
            metrics.record_credit("sync", "credited")


def charging_routes(services: Services) -> list[HTTPRouteHandler]:
    """Build the charge-event and session routes."""
    charging = services.charging
    idempotency = services.idempotency
    settings = services.settings
    max_kwh = settings.max_session_kwh
    stops = _FirstStops()

    @post("/v1/energyhub/events/charge-start", name="charge_start", status_code=200)
    async def charge_start(request: AnyRequest) -> Answer:
        actor = authorize(request.scope, Scope.EVENTS_WRITE)
        body = await inputs.read_json(request)
        now = inputs.demo_instant(request, settings.allow_demo_at)
        data = convert(body, ChargeStartIn, max_kwh=max_kwh)
        key = inputs.idempotency_key(request)
        command = StartCharge(
            user_id=data.user_id,
            hub_id=data.hub_id,
            occurred_at=utc(data.occurred_at) if data.occurred_at else None,
            now=now,
        )
        answered = await answer_once(
            request,
            idempotency=idempotency,
            actor=actor,
            route=START_ROUTE,
            key=key,
            body=body,
            status=200,
            render=start_body,
            run=lambda write: charging.start(command, actor=actor, idempotency=write),
        )
        response, session = answered
        if session is not None:
            metrics.record_session("started")
        return response

    @post("/v1/energyhub/events/charge-stop", name="charge_stop", status_code=200)
    async def charge_stop(request: AnyRequest) -> Answer:
        actor = authorize(request.scope, Scope.EVENTS_WRITE)
        body = await inputs.read_json(request)
        now = inputs.demo_instant(request, settings.allow_demo_at)
        data = convert(body, ChargeStopIn, max_kwh=max_kwh)
        key = inputs.idempotency_key(request)
        command = StopCharge(
            session_id=data.session_id,
            kwh=data.kwh_consumed,
            occurred_at=utc(data.occurred_at) if data.occurred_at else None,
            meter_values=tuple(
                MeterReading(utc(m.at), m.kwh) for m in data.meter_values
            ),
            now=now,
        )
        answered = await answer_once(
            request,
            idempotency=idempotency,
            actor=actor,
            route=STOP_ROUTE,
            key=key,
            body=body,
            status=200,
            render=stop_body,
            run=lambda write: charging.stop(command, actor=actor, idempotency=write),
        )
        response, session = answered
        if session is not None:
            _count_stop(stops, session)
        return response

    @get("/v1/energyhub/sessions/{session_id:str}", name="get_session")
    async def get_session(request: AnyRequest) -> Answer:
        actor = authorize(request.scope, Scope.EVENTS_WRITE, Scope.WALLET_READ)
        view = await charging.get(request.path_params["session_id"], actor=actor)
        return Answer(session_body(view))

    @post(
        "/v1/energyhub/sessions/{session_id:str}/cancel",
        name="cancel_session",
        status_code=200,
    )
    async def cancel_session(request: AnyRequest) -> Answer:
        actor = authorize(request.scope, Scope.EVENTS_WRITE)
        body = await inputs.read_json(request)
        now = inputs.demo_instant(request, settings.allow_demo_at)
        data = convert(body, CancelIn, max_kwh=max_kwh)
        session = await charging.cancel(
            request.path_params["session_id"], data.reason, actor=actor, now=now
        )
        return Answer(cancelled_body(session))

    return [charge_start, charge_stop, get_session, cancel_session]
