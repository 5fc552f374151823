"""Charge events and sessions: ``/v1/energyhub/events/*`` and ``/sessions/*``."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.handlers import HTTPRouteHandler

from nerava.domain.access import Scope
from nerava.domain.sessions import CreditStatus, Session
from nerava.domain.usecases import (
    IdempotentWrite,
    MeterReading,
    StartCharge,
    StopCharge,
    StopOutcome,
)
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


def _count_stop(outcome: StopOutcome) -> None:
    if outcome.first:
        metrics.record_session("stopped")
        if outcome.session.credit_status_at_stop is CreditStatus.CREDITED:
            metrics.record_credit("sync", "credited")


def charging_routes(services: Services) -> list[HTTPRouteHandler]:
    """Build the charge-event and session routes."""
    charging = services.charging
    idempotency = services.idempotency
    settings = services.settings
    max_kwh = settings.max_session_kwh

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
        outcomes: list[StopOutcome] = []

        async def stop(write: IdempotentWrite | None) -> Session:
            outcome = await charging.stop_reporting(
                command, actor=actor, idempotency=write
            )
            outcomes.append(outcome)
            return outcome.session

        response, _ = await answer_once(
            request,
            idempotency=idempotency,
            actor=actor,
            route=STOP_ROUTE,
            key=key,
            body=body,
            status=200,
            render=stop_body,
            run=stop,
        )
        for outcome in outcomes:
            _count_stop(outcome)
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
