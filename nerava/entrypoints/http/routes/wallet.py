"""``/v1/wallet/{user_id}``: balances, entries, debits and adjustments."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.handlers import HTTPRouteHandler

from nerava.domain.access import Scope
from nerava.entrypoints.http import inputs
from nerava.entrypoints.http.auth import authorize
from nerava.entrypoints.http.bodies import (
    AdjustmentIn,
    DebitIn,
    convert,
)
from nerava.entrypoints.http.idempotency import answer_once
from nerava.entrypoints.http.responses import Answer
from nerava.entrypoints.http.services import Services
from nerava.entrypoints.http.views import entries_body, posted_body, wallet_body

__all__ = ["wallet_routes"]

AnyRequest = Request[Any, Any, Any]

DEBIT_ROUTE = "POST /v1/wallet/{user_id}/debits"


def wallet_routes(services: Services) -> list[HTTPRouteHandler]:
    """Build the wallet routes."""
    wallets = services.wallets
    idempotency = services.idempotency
    max_kwh = services.settings.max_session_kwh

    @get("/v1/wallet/{user_id:str}", name="get_wallet")
    async def get_wallet(request: AnyRequest) -> Answer:
        authorize(request.scope, Scope.WALLET_READ)
        user_id = inputs.user_id(request.path_params["user_id"])
        return Answer(wallet_body(await wallets.view(user_id)))

    @get("/v1/wallet/{user_id:str}/entries", name="list_entries")
    async def list_entries(request: AnyRequest) -> Answer:
        authorize(request.scope, Scope.WALLET_READ)
        user_id = inputs.user_id(request.path_params["user_id"])
        limit = inputs.page_limit(request)
        cursor = inputs.cursor(request)
        entries, next_cursor = await wallets.entries(
            user_id, limit=limit, cursor=cursor
        )
        return Answer(entries_body(entries, next_cursor))

    @post("/v1/wallet/{user_id:str}/debits", name="debit_wallet", status_code=201)
    async def debit_wallet(request: AnyRequest) -> Answer:
        actor = authorize(request.scope, Scope.WALLET_WRITE)
        body = await inputs.read_json(request)
        user_id = inputs.user_id(request.path_params["user_id"])
        data = convert(body, DebitIn, max_kwh=max_kwh)
        key = inputs.idempotency_key(request)
        response, _ = await answer_once(
            request,
            idempotency=idempotency,
            actor=actor,
            route=DEBIT_ROUTE,
            key=key,
            body=body,
            status=201,
            render=posted_body,
            run=lambda write: wallets.debit(
                user_id, data.amount_cents, data.reason, actor=actor, idempotency=write
            ),
        )
        return response

    @post("/v1/wallet/{user_id:str}/adjustments", name="adjust_wallet", status_code=201)
    async def adjust_wallet(request: AnyRequest) -> Answer:
        actor = authorize(request.scope, Scope.ADMIN)
        body = await inputs.read_json(request)
        user_id = inputs.user_id(request.path_params["user_id"])
        data = convert(body, AdjustmentIn, max_kwh=max_kwh)
        posted = await wallets.adjust(
            user_id,
            data.amount_cents,
            data.reason,
            actor=actor,
            reverses_entry_id=data.reverses_entry_id,
        )
        return Answer(posted_body(posted), 201)

    return [get_wallet, list_entries, debit_wallet, adjust_wallet]
