"""A fake Nerava HTTP service for the replay's tests, and the contract it keeps.

The fake speaks the part of API.md the replay uses (windows, charge events with
``at`` and ``Idempotency-Key``, cancel, wallets with async credits) through an
``httpx.MockTransport``, and can be told to misbehave: rate-limit, fault,
drop a connection, lose an answer after committing, or credit a wallet twice.
The contract tests at the bottom hold it to the API's own examples, and the
real app (in process) to the same tests.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from nerava.replay.client import NeravaClient, ReplayAborted, ServiceRefused

KEY = "test-admin-key"
USER_ID = re.compile(r"^[A-Za-z0-9._:@+\-]{1,128}$")
START = "/v1/energyhub/events/charge-start"
STOP = "/v1/energyhub/events/charge-stop"


@dataclass(frozen=True)
class FakeWindow:
    id: str
    label: str
    start: time
    end: time
    price_per_kwh: Decimal
    multiplier: Decimal

    def active_at(self, instant: datetime) -> bool:
        return self.start <= instant.astimezone(UTC).time() < self.end


DEFAULT_WINDOWS = (
    FakeWindow(
        "solar_surplus",
        "Solar Surplus",
        time(10),
        time(14),
        Decimal("0.03"),
        Decimal(1),
    ),
    FakeWindow(
        "green_hour", "Green Hour", time(14), time(17), Decimal("0.08"), Decimal(2)
    ),
)


@dataclass
class FakeSession:
    session_id: str
    user_id: str
    hub_id: str
    started_at: datetime
    window: FakeWindow | None
    state: str = "active"
    stop_body: bytes | None = None
    kwh: Decimal | None = None


@dataclass
class FakeNerava:
    """The service, in memory; ``transport()`` is what a client sends through."""

    key: str | None = KEY
    allow_at: bool = True
    cofund_cents: int = 75
    # Scripted answers per request path, one per request: "429", "503",
    # "network", "commit-then-500" (do the work, lose the answer), or "none"
    # (answer as usual).
    faults: dict[str, deque[str]] = field(default_factory=lambda: defaultdict(deque))
    # The same, for the charge-starts of one driver.
    start_faults: dict[str, deque[str]] = field(default_factory=dict)
    double_credit_users: set[str] = field(default_factory=set)
    refuse_stops_of: set[str] = field(default_factory=set)
    hold_credits: bool = False
    sessions: dict[str, FakeSession] = field(default_factory=dict)
    active: dict[str, str] = field(default_factory=dict)
    balances: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    pending: defaultdict[str, list[int]] = field(
        default_factory=lambda: defaultdict(list)
    )
    stored: dict[tuple[str, str], tuple[int, bytes, bytes]] = field(
        default_factory=dict
    )
    events: list[tuple[str, str, datetime]] = field(default_factory=list)
    in_flight: set[str] = field(default_factory=set)
    overlaps: int = 0
    requests: int = 0

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        path = request.url.path
        script = self.faults[path]
        if path == START:
            starter = _decode(request.content).get("user_id")
            script = self.start_faults.get(str(starter)) or script
        fault = script.popleft() if script else None
        if fault == "429":
            return _error(429, "rate_limited", headers={"Retry-After": "0"})
        if fault == "503":
            return _error(503, "dependency_unavailable")
        if fault == "network":
            raise httpx.ConnectError("connection refused", request=request)

        response = await self._route(request)
        if fault == "commit-then-500":
            return _error(500, "internal_error")
        return response

    async def _route(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        if path == "/healthz":
            return _json(200, {"status": "ok"})
        at_text = request.url.params.get("at")
        if at_text and not self.allow_at:
            return _error(403, "demo_at_disabled")
        at = datetime.fromisoformat(at_text) if at_text else datetime.now(UTC)
        if method == "GET" and path == "/v1/energyhub/windows":
            return _json(200, [_window_view(w, at) for w in DEFAULT_WINDOWS])
        if self.key is not None and request.headers.get("authorization") != (
            f"Bearer {self.key}"
        ):
            return _error(401, "unauthenticated")
        if method == "GET" and path.startswith("/v1/wallet/"):
            return self._wallet(path.removeprefix("/v1/wallet/"))
        if method == "POST" and path in (START, STOP):
            return await self._event(request, path, at)
        cancel = re.fullmatch(r"/v1/energyhub/sessions/([^/]+)/cancel", path)
        if method == "POST" and cancel:
            return self._cancel(cancel.group(1))
        return _error(404, "not_found")

    async def _event(
        self, request: httpx.Request, path: str, at: datetime
    ) -> httpx.Response:
        key = request.headers.get("idempotency-key")
        if key is not None and (path, key) in self.stored:
            status, body, content = self.stored[path, key]
            if content != request.content:
                return _error(422, "idempotency_key_reused")
            return httpx.Response(status, content=body)
        payload = _decode(request.content)
        user = self._user_of(path, payload)
        if user in self.in_flight:
            self.overlaps += 1
        self.in_flight.add(user)
        try:
            # Lets other requests in, so overlapping lanes would be caught.
            await asyncio.sleep(0)
            if path == START:
                response = self._start(payload, at)
            else:
                response = self._stop(payload, at)
        finally:
            self.in_flight.discard(user)
        if key is not None and response.status_code < 300:
            self.stored[path, key] = (
                response.status_code,
                response.content,
                request.content,
            )
        return response

    def _user_of(self, path: str, payload: dict[str, Any]) -> str:
        if path == START:
            return str(payload.get("user_id"))
        session = self.sessions.get(str(payload.get("session_id")))
        return session.user_id if session else ""

    def _start(self, payload: dict[str, Any], at: datetime) -> httpx.Response:
        user, hub = payload.get("user_id"), payload.get("hub_id")
        if not isinstance(user, str) or not USER_ID.match(user) or not hub:
            return _error(422, "validation_error")
        if user in self.active:
            return _error(409, "session_already_active", session_id=self.active[user])
        window = next((w for w in DEFAULT_WINDOWS if w.active_at(at)), None)
        session = FakeSession(f"s{len(self.sessions) + 1}", user, hub, at, window)
        self.sessions[session.session_id] = session
        self.active[user] = session.session_id
        self.events.append(("start", user, at))
        return _json(
            200,
            {
                "session_id": session.session_id,
                "user_id": user,
                "hub_id": hub,
                "started_at": _z(at),
                "active_window": None if window is None else {"id": window.id},
            },
        )

    def _stop(self, payload: dict[str, Any], at: datetime) -> httpx.Response:
        session = self.sessions.get(str(payload.get("session_id")))
        if session is None:
            return _error(404, "session_not_found")
        raw = payload.get("kwh_consumed")
        if not isinstance(raw, Decimal | int) or isinstance(raw, bool):
            return _error(422, "validation_error")
        kwh = Decimal(raw).quantize(Decimal("0.001"), ROUND_HALF_UP)
        if session.state == "stopped":
            if kwh == session.kwh and session.stop_body is not None:
                return httpx.Response(200, content=session.stop_body)
            return _error(409, "session_already_stopped")
        if session.state != "active":
            return _error(409, "session_already_stopped")
        if kwh <= 0 or at < session.started_at:
            return _error(422, "validation_error")
        if session.user_id in self.refuse_stops_of:
            return _error(422, "implausible_kwh")

        window = session.window
        grid = 0
        if window is not None:
            exact = kwh * window.price_per_kwh * window.multiplier * 100
            grid = int(exact.quantize(Decimal(1), ROUND_HALF_UP))
        total = grid + self.cofund_cents
        session.state, session.kwh = "stopped", kwh
        del self.active[session.user_id]
        self.pending[session.user_id].append(total)
        if session.user_id in self.double_credit_users:
            self.pending[session.user_id].append(total)
        self.events.append(("stop", session.user_id, at))
        session.stop_body = _encode(
            {
                "session_id": session.session_id,
                "user_id": session.user_id,
                "hub_id": session.hub_id,
                "started_at": _z(session.started_at),
                "stopped_at": _z(at),
                "kwh": kwh,
                "window_applied": None if window is None else window.id,
                "grid_reward_cents": grid,
                "merchant_reward_cents": self.cofund_cents,
                "total_reward_cents": total,
                "credit_status": "pending",
                "wallet_balance_cents": None,
                "breakdown": [],
            }
        )
        return httpx.Response(200, content=session.stop_body)

    def _cancel(self, session_id: str) -> httpx.Response:
        session = self.sessions.get(session_id)
        if session is None:
            return _error(404, "session_not_found")
        if session.state == "active":
            session.state = "cancelled"
            del self.active[session.user_id]
        elif session.state != "cancelled":
            return _error(409, "session_already_stopped")
        return _json(200, {"session_id": session_id, "state": "cancelled"})

    def _wallet(self, user: str) -> httpx.Response:
        if not USER_ID.match(user):
            return _error(422, "validation_error")
        pending = (
            self.pending[user] if self.hold_credits else self.pending.pop(user, [])
        )
        answer = _json(
            200,
            {
                "user_id": user,
                "balance_cents": self.balances[user],
                "pending_cents": sum(pending),
                "entries": [],
            },
        )
        # Credits land just after a read has seen them pending, so a reader
        # must come back for them.
        if not self.hold_credits:
            self.balances[user] += sum(pending)
        return answer


_encode = msgspec.json.Encoder(decimal_format="number").encode
_decode = msgspec.json.Decoder(dict[str, Any], float_hook=Decimal).decode


def _window_view(window: FakeWindow, at: datetime) -> dict[str, Any]:
    return {
        "id": window.id,
        "label": window.label,
        "timezone": "UTC",
        "start_local": f"{window.start:%H:%M}",
        "end_local": f"{window.end:%H:%M}",
        "days": [1, 2, 3, 4, 5, 6, 7],
        "hub_ids": [],
        "price_per_kwh": float(window.price_per_kwh),
        "multiplier": float(window.multiplier),
        "start_utc": f"{window.start:%H:%M}",
        "end_utc": f"{window.end:%H:%M}",
        "active_now": window.active_at(at),
    }


def _z(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _json(
    status: int, body: Any, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(
        status,
        content=_encode(body),
        headers={"content-type": "application/json", **(headers or {})},
    )


def _error(
    status: int, detail: str, headers: dict[str, str] | None = None, **extra: str
) -> httpx.Response:
    body = {"status_code": status, "detail": detail, "message": detail, **extra}
    return _json(status, body, headers)


async def no_wait(seconds: float) -> None:
    """Stand in for ``asyncio.sleep`` where tests need no real waiting."""


# The contract the replay relies on, held to the fake and to the real app.
SERVICES = ["fake", "app"]


@asynccontextmanager
async def real_app(
    tmp_path: Path, *, sync_credit: bool = True, allow_at: bool = True
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """Serve the real app in process on a fresh SQLite file, with an admin key.

    With ``sync_credit`` off, rewards are credited by the app's own wallet
    processor, in the background, as on the embedded default.
    """
    from litestar.testing import AsyncTestClient

    from nerava.config import Settings
    from nerava.container import build_container
    from nerava.domain.access import Scope
    from nerava.entrypoints.http.app import create_app

    settings = Settings.from_env(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'nerava.db'}",
            "ENERGYHUB_ALLOW_DEMO_AT": str(allow_at).lower(),
            "RATE_LIMIT_PER_MINUTE": "0",
            "ENABLE_SYNC_CREDIT": str(sync_credit).lower(),
        }
    )
    container = build_container(settings)
    database = container.database()
    await database.migrate()
    await database.open()
    try:
        _, secret = await container.keys().create([Scope.ADMIN], name="tests")
    finally:
        await database.close()
    app = create_app(container, background=not sync_credit)
    async with AsyncTestClient(app=app, base_url="http://nerava.local") as http:
        yield http, secret


@asynccontextmanager
async def service_client(
    service: str, tmp_path: Path, *, allow_at: bool = True, key: str | None = None
) -> AsyncIterator[NeravaClient]:
    """A client of the fake or of the real app, with a valid key unless given."""
    if service == "fake":
        async with httpx.AsyncClient(
            transport=FakeNerava(allow_at=allow_at).transport(),
            base_url="http://nerava.local",
        ) as http:
            yield NeravaClient(http, key=key or KEY, sleep=no_wait)
    else:
        async with real_app(tmp_path, allow_at=allow_at) as (http, secret):
            yield NeravaClient(http, key=key or secret, sleep=no_wait)


@pytest.fixture(params=SERVICES)
async def client(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[NeravaClient]:
    async with service_client(request.param, tmp_path) as client:
        yield client


NOON = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
GREEN = datetime(2024, 5, 6, 14, 30, tzinfo=UTC)


async def test_fifteen_and_a_half_kwh_in_green_hour_earn_248_cents_plus_cofund(
    client: NeravaClient,
) -> None:
    started = await client.start("driver-1", "hub-1", GREEN, "k-start")

    stopped = await client.stop(
        started.session_id, Decimal("15.5"), GREEN.replace(hour=16), "k-stop"
    )

    assert (stopped.window_applied, stopped.grid_reward_cents) == ("green_hour", 248)
    assert stopped.total_reward_cents == 248 + 75


async def test_eight_and_a_half_kwh_in_solar_surplus_earn_26_cents(
    client: NeravaClient,
) -> None:
    started = await client.start("driver-1", "hub-1", NOON, "k-start")

    stopped = await client.stop(
        started.session_id, Decimal("8.5"), NOON.replace(hour=13), "k-stop"
    )

    assert (stopped.window_applied, stopped.grid_reward_cents) == ("solar_surplus", 26)
    assert stopped.total_reward_cents == 101


async def test_a_second_start_of_an_active_driver_is_refused(
    client: NeravaClient,
) -> None:
    await client.start("driver-1", "hub-1", NOON, "k-1")

    with pytest.raises(ServiceRefused) as refused:
        await client.start("driver-1", "hub-2", NOON.replace(hour=13), "k-2")

    assert (refused.value.status, refused.value.code) == (409, "session_already_active")


async def test_a_start_repeated_with_its_key_answers_the_same_session(
    client: NeravaClient,
) -> None:
    first = await client.start("driver-1", "hub-1", NOON, "k-1")

    again = await client.start("driver-1", "hub-1", NOON, "k-1")

    assert again.session_id == first.session_id


async def test_a_reward_is_pending_until_the_wallet_processor_credits_it(
    client: NeravaClient,
) -> None:
    started = await client.start("driver-1", "hub-1", NOON, "k-start")
    stopped = await client.stop(
        started.session_id, Decimal("8.5"), NOON.replace(hour=13), "k-stop"
    )

    first = await client.wallet("driver-1")
    later = await client.wallet("driver-1")

    assert first.accepted_cents == later.accepted_cents == stopped.total_reward_cents
    assert (later.balance_cents, later.pending_cents) == (101, 0)


@pytest.mark.parametrize("service", SERVICES)
async def test_at_is_refused_where_the_demo_override_is_off(
    service: str, tmp_path: Path
) -> None:
    async with service_client(service, tmp_path, allow_at=False) as client:
        with pytest.raises(ReplayAborted) as aborted:
            await client.start("driver-1", "hub-1", NOON, "k-1")

    assert aborted.value.code == "demo_at_disabled"
    assert "ENERGYHUB_ALLOW_DEMO_AT" in aborted.value.message


@pytest.mark.parametrize("service", SERVICES)
async def test_a_wrong_key_is_refused_as_unauthenticated(
    service: str, tmp_path: Path
) -> None:
    async with service_client(service, tmp_path, key="not-a-key") as client:
        with pytest.raises(ReplayAborted) as aborted:
            await client.wallet("driver-1")

    assert aborted.value.code == "unauthenticated"
