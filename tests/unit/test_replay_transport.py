"""The replay's client over real connections, against the fake on a socket.

The fake service of ``test_replay_fake_service`` is served on 127.0.0.1 by
``aiohttp.web``; its "network" fault drops the connection without an answer.
What the client promises through a mock (retries, ``Retry-After``, stable
codes, the report) it must keep over the network too.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from nerava.replay.client import (
    NeravaClient,
    ServiceRefused,
    ServiceUnavailable,
    connect,
)
from nerava.replay.parsing import read_sessions
from nerava.replay.report import build_report
from nerava.replay.runner import replay_sessions
from nerava.replay.transport import AiohttpTransport
from tests.unit.test_replay_fake_service import KEY, START, STOP, FakeNerava

PALO_ALTO = Path(__file__).resolve().parent.parent / "data" / "palo_alto_sample.csv"
NOON = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)


class Sleeps:
    """Records the waits asked for, and waits for none of them."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)


@asynccontextmanager
async def served(fake: FakeNerava, *, delay_s: float = 0.0) -> AsyncIterator[str]:
    """Serve ``fake`` on a free port of 127.0.0.1; yield its root URL."""

    async def handle(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(delay_s)
        forwarded = httpx.Request(
            request.method,
            str(request.url),
            headers=dict(request.headers),
            content=await request.read(),
        )
        try:
            answer = await fake.handle(forwarded)
        except httpx.ConnectError:
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=204)
        headers = dict(answer.headers)
        headers.pop("content-length", None)
        return web.Response(
            status=answer.status_code, body=answer.content, headers=headers
        )

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    await web.SockSite(runner, listener).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        await runner.cleanup()
        listener.close()


@asynccontextmanager
async def client_of(
    url: str, sleeps: Sleeps, *, timeout_s: float = 10.0
) -> AsyncIterator[NeravaClient]:
    async with AiohttpTransport.open(
        url, connections=4, timeout_s=timeout_s, trust_env=False
    ) as transport:
        yield NeravaClient(transport, key=KEY, sleep=sleeps)


async def test_the_sample_replays_over_the_network_with_wallets_checked() -> None:
    fake = FakeNerava()
    parsed = read_sessions(PALO_ALTO)

    async with served(fake) as url, connect(url, key=KEY, trust_env=False) as client:
        replayed = await replay_sessions(parsed.sessions, client, concurrency=4)
    report = build_report(parsed, replayed, file=PALO_ALTO, target=url)

    assert (report.sessions_replayed, report.total_reward_cents) == (9, 1064)
    assert report.wallet_check == "ok"
    assert fake.overlaps == 0


async def test_rate_limits_are_waited_out_as_retry_after_asks() -> None:
    fake = FakeNerava()
    fake.faults[START].extend(["429", "429"])
    sleeps = Sleeps()

    async with served(fake) as url, client_of(url, sleeps) as client:
        started = await client.start("driver-1", "hub-1", NOON, "k-1")

    assert started.session_id
    assert sleeps.asked == [0.0, 0.0]


async def test_server_faults_and_dropped_connections_are_retried() -> None:
    fake = FakeNerava()
    fake.faults[STOP].extend(["commit-then-500", "network", "503"])
    sleeps = Sleeps()

    async with served(fake) as url, client_of(url, sleeps) as client:
        started = await client.start("driver-1", "hub-1", NOON, "k-start")
        stopped = await client.stop(
            started.session_id, Decimal("8.5"), NOON.replace(hour=13), "k-stop"
        )
        wallet = await client.wallet("driver-1")

    assert stopped.total_reward_cents == 101
    assert wallet.accepted_cents == 101
    assert len(sleeps.asked) == 3


async def test_a_refusal_carries_its_status_and_stable_code() -> None:
    async with (
        served(FakeNerava()) as url,
        client_of(url, Sleeps()) as client,
    ):
        await client.start("driver-1", "hub-1", NOON, "k-1")
        with pytest.raises(ServiceRefused) as refused:
            await client.start("driver-1", "hub-2", NOON, "k-2")

    assert (refused.value.status, refused.value.code) == (409, "session_already_active")


async def test_a_fault_outlasting_the_retries_is_unavailable_with_a_code() -> None:
    fake = FakeNerava()
    fake.faults[START].extend(["network"] * 4)
    sleeps = Sleeps()

    async with served(fake) as url, client_of(url, sleeps) as client:
        with pytest.raises(ServiceUnavailable) as unavailable:
            await client.start("driver-1", "hub-1", NOON, "k-1")

    assert unavailable.value.code == "network_error"
    assert "POST /v1/energyhub/events/charge-start" in unavailable.value.message
    assert len(sleeps.asked) == 3


async def test_an_answer_slower_than_the_timeout_is_a_timeout() -> None:
    async with (
        served(FakeNerava(), delay_s=1.0) as url,
        client_of(url, Sleeps(), timeout_s=0.05) as client,
    ):
        with pytest.raises(ServiceUnavailable) as unavailable:
            await client.windows(NOON)

    assert unavailable.value.code == "timeout"


async def test_a_closed_port_is_a_network_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async with client_of(f"http://127.0.0.1:{port}", Sleeps()) as client:
        with pytest.raises(ServiceUnavailable) as unavailable:
            await client.windows(NOON)

    assert unavailable.value.code == "network_error"


async def test_connect_sends_through_an_httpx_transport_when_given_one() -> None:
    fake = FakeNerava()

    async with connect(
        "http://nerava.local", key=KEY, through=fake.transport()
    ) as client:
        started = await client.start("driver-1", "hub-1", NOON, "k-1")

    assert started.session_id == "s1"
    assert fake.requests == 1
