"""A real ``nerava serve`` process: start, serve, credit, stop, as operators see it.

Every server is started in a session of its own and killed, with its worker
processes, when the test ends, whatever happened; every wait has a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest

pytestmark = pytest.mark.slow

NERAVA = str(Path(sys.executable).with_name("nerava"))
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
BOOTSTRAP_LINE = re.compile(r"bootstrap admin API key \(shown only now\): (\S+)")
OPERATORS_SCRIPT = (
    "curl -f $API/healthz && curl -f $API/readyz && "
    "curl -f $API/metrics | grep -q http_requests_total"
)
SETTING_VARIABLES = {
    "DATABASE_URL",
    "REDIS_URL",
    "CACHE_DRIVER",
    "EVENTS_DRIVER",
    "RATE_LIMIT_STORE",
    "LOG_LEVEL",
    "RATE_LIMIT_PER_MINUTE",
    "CACHE_TTL_WINDOWS",
    "ENABLE_SYNC_CREDIT",
    "ENERGYHUB_ALLOW_DEMO_AT",
    "REWARD_POLICY",
    "MERCHANT_COFUND_CENTS",
    "MAX_SESSION_KWH",
    "MAX_CHARGE_POWER_KW",
    "AUTH_DISABLED",
    "MAX_EVENT_AGE_HOURS",
    "SQLITE_SYNCHRONOUS",
    "TRUSTED_PROXIES",
    "CORS_ALLOW_ORIGINS",
    "PROMETHEUS_MULTIPROC_DIR",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """One ``nerava serve`` child, its output in files so that no pipe can fill."""

    def __init__(self, env: Mapping[str, str], workdir: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        number = len(list(workdir.glob("server-*.out")))
        self._out = workdir / f"server-{number}.out"
        self._err = workdir / f"server-{number}.err"
        with self._out.open("wb") as out, self._err.open("wb") as err:
            self.process = subprocess.Popen(
                [NERAVA, "serve", "--port", str(self.port), *args],
                env=dict(env),
                cwd=workdir,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )

    @property
    def stdout(self) -> str:
        return self._out.read_text()

    @property
    def stderr(self) -> str:
        return self._err.read_text()

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                status = self.process.returncode
                pytest.fail(f"server exited with {status}:\n{self.stderr}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        pytest.fail(f"server not healthy within {timeout} s:\n{self.stderr}")

    def signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def wait_exit(self, timeout: float = STOP_TIMEOUT) -> int:
        return self.process.wait(timeout)

    def kill(self) -> None:
        """Stop the server, gracefully if it will, and every process it made."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(STOP_TIMEOUT)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(STOP_TIMEOUT)

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()]


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SETTING_VARIABLES}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'nerava.db'}",
        LOG_LEVEL="INFO",
        RATE_LIMIT_PER_MINUTE="0",
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def start_server(
    tmp_path: Path, base_env: dict[str, str]
) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def start(*args: str, healthy: bool = True, **env: str) -> ServerProcess:
        server = ServerProcess({**base_env, **env}, tmp_path, *args)
        started.append(server)
        if healthy:
            server.wait_healthy()
        return server

    yield start
    for server in started:
        server.kill()


def nerava(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NERAVA, *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        check=False,
    )


def bootstrap_key(server: ServerProcess) -> str:
    keys = BOOTSTRAP_LINE.findall(server.stdout)
    assert len(keys) == 1, server.stdout
    return str(keys[0])


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def charge(client: httpx.Client, user_id: str, kwh: float = 15.5) -> dict[str, Any]:
    started = client.post(
        "/v1/energyhub/events/charge-start",
        json={"user_id": user_id, "hub_id": "hub-1"},
    )
    assert started.status_code == 200, started.text
    stopped = client.post(
        "/v1/energyhub/events/charge-stop",
        json={"session_id": started.json()["session_id"], "kwh_consumed": kwh},
    )
    assert stopped.status_code == 200, stopped.text
    body: dict[str, Any] = stopped.json()
    return body


def settled_wallet(client: httpx.Client, user_id: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        wallet = client.get(f"/v1/wallet/{user_id}")
        assert wallet.status_code == 200, wallet.text
        if wallet.json()["pending_cents"] == 0:
            return wallet.json()
        assert time.monotonic() < deadline, f"still pending: {wallet.text}"
        time.sleep(0.1)


def test_the_operators_script_passes(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server()

    if shutil.which("curl") and shutil.which("bash"):
        script = subprocess.run(
            ["bash", "-c", OPERATORS_SCRIPT],
            env={**os.environ, "API": server.url},
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert script.returncode == 0, script.stderr
    else:
        for path in ("/healthz", "/readyz"):
            httpx.get(server.url + path, timeout=5).raise_for_status()
        metrics = httpx.get(server.url + "/metrics", timeout=5)
        metrics.raise_for_status()
        assert "http_requests_total" in metrics.text


def test_the_embedded_default_starts_from_nothing_with_an_admin_key_printed_once(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    first = start_server()
    key = bootstrap_key(first)
    windows = httpx.get(f"{first.url}/v1/energyhub/windows", timeout=5)
    first.signal(signal.SIGTERM)
    assert first.wait_exit() == 0

    again = start_server()
    wallet = httpx.get(f"{again.url}/v1/wallet/driver-1", headers=auth(key), timeout=5)

    assert (tmp_path / "nerava.db").exists()
    assert [w["id"] for w in windows.json()] == ["solar_surplus", "green_hour"]
    assert BOOTSTRAP_LINE.search(again.stdout) is None
    assert key not in again.stderr + first.stderr
    assert wallet.status_code == 200


class Served(NamedTuple):
    server: ServerProcess
    key: str


@pytest.fixture(
    params=[
        pytest.param(("sqlite", 1), id="sqlite"),
        pytest.param(("postgres", 1), id="postgres", marks=pytest.mark.postgres),
        pytest.param(
            ("postgres", 2), id="postgres-2-workers", marks=pytest.mark.postgres
        ),
    ]
)
def served(
    request: pytest.FixtureRequest,
    start_server: Callable[..., ServerProcess],
    base_env: dict[str, str],
) -> Served:
    store, workers = request.param
    args = ("--workers", str(workers))
    if store == "sqlite":
        server = start_server(*args)
        return Served(server, bootstrap_key(server))
    url = request.getfixturevalue("make_postgres_database")()
    env = {**base_env, "DATABASE_URL": url}
    assert nerava(env, "migrate").returncode == 0
    created = nerava(env, "keys", "create", "--scope", "admin")
    assert created.returncode == 0, created.stderr
    server = start_server(*args, DATABASE_URL=url)
    return Served(server, created.stdout.splitlines()[-1])


def test_serve_applies_an_async_credit_itself(served: Served) -> None:
    with httpx.Client(base_url=served.server.url, headers=auth(served.key)) as api:
        stop = charge(api, "driver-1")
        wallet = settled_wallet(api, "driver-1")

    assert stop["credit_status"] == "pending"
    assert stop["wallet_balance_cents"] is None
    assert wallet["balance_cents"] == stop["total_reward_cents"] > 0
    assert [e["session_id"] for e in wallet["entries"]] == [stop["session_id"]]


@pytest.mark.postgres
def test_serve_on_postgres_round_trips_after_nerava_migrate(
    start_server: Callable[..., ServerProcess],
    base_env: dict[str, str],
    make_postgres_database: Callable[[], str],
) -> None:
    postgres_url = make_postgres_database()
    env = {**base_env, "DATABASE_URL": postgres_url}
    migrated = nerava(env, "migrate")
    again = nerava(env, "migrate")
    created = nerava(env, "keys", "create", "--scope", "admin", "--name", "ops")
    key = created.stdout.strip().splitlines()[-1]

    server = start_server(DATABASE_URL=postgres_url)
    with httpx.Client(base_url=server.url, headers=auth(key)) as api:
        ready = api.get("/readyz")
        stop = charge(api, "driver-1", 8.5)
        wallet = settled_wallet(api, "driver-1")

    assert migrated.returncode == 0, migrated.stderr
    assert "applied 0001_" in migrated.stdout
    assert again.stdout.startswith("nothing to apply")
    assert created.returncode == 0, created.stderr
    assert ready.status_code == 200
    assert BOOTSTRAP_LINE.search(server.stdout) is None
    assert wallet["balance_cents"] == stop["total_reward_cents"] > 0


async def test_thirty_identical_stops_at_once_are_credited_once(
    served: Served,
) -> None:
    headers = auth(served.key)
    # Thirty requests queue for one row lock; on a busy machine that takes
    # longer than httpx's default five seconds.
    async with httpx.AsyncClient(
        base_url=served.server.url, headers=headers, timeout=30
    ) as api:
        started = await api.post(
            "/v1/energyhub/events/charge-start",
            json={"user_id": "driver-30", "hub_id": "hub-1"},
        )
        stop = {"session_id": started.json()["session_id"], "kwh_consumed": 12}

        path = "/v1/energyhub/events/charge-stop"
        stops = await asyncio.gather(*(api.post(path, json=stop) for _ in range(30)))
        wallet = await _settled(api, "driver-30")

    assert {r.status_code for r in stops} == {200}
    assert len({r.content for r in stops}) == 1
    total = stops[0].json()["total_reward_cents"]
    assert wallet["balance_cents"] == total
    assert len(wallet["entries"]) == 1


async def _settled(api: httpx.AsyncClient, user_id: str) -> Any:
    deadline = time.monotonic() + 15
    while True:
        wallet = (await api.get(f"/v1/wallet/{user_id}")).json()
        if wallet["pending_cents"] == 0:
            return wallet
        assert time.monotonic() < deadline, wallet
        await asyncio.sleep(0.1)


def test_sigterm_lets_the_request_in_flight_finish_and_exits_zero(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server()
    key = bootstrap_key(server)
    body = json.dumps({"user_id": "driver-late", "hub_id": "hub-1"}).encode()
    head = (
        "POST /v1/energyhub/events/charge-start HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\nAuthorization: Bearer {key}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        # Half the request is in: the server is inside it when the signal lands.
        conn.sendall(head + body[:10])
        time.sleep(0.3)
        server.signal(signal.SIGTERM)
        time.sleep(0.5)
        conn.sendall(body[10:])
        response = _read_all(conn)
        signalled_at = time.monotonic()
        status = server.wait_exit()
        took = time.monotonic() - signalled_at

    assert response.startswith(b"HTTP/1.1 200"), response
    assert b'"session_id"' in response
    assert status == 0
    assert took < 5
    assert "nerava stopped" in server.stderr
    assert "wallet processor stopped" in server.stderr


def _read_all(conn: socket.socket) -> bytes:
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


async def test_sigterm_under_load_answers_every_accepted_request(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server()
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=server.url, limits=limits) as api:

        async def read() -> int | str:
            try:
                return (await api.get("/v1/energyhub/windows")).status_code
            except httpx.TransportError as exc:
                return type(exc).__name__

        first = [asyncio.create_task(read()) for _ in range(40)]
        await asyncio.sleep(0.05)
        server.signal(signal.SIGTERM)
        outcomes = await asyncio.gather(*first)

    assert await asyncio.to_thread(server.wait_exit) == 0
    statuses = [o for o in outcomes if isinstance(o, int)]
    assert statuses, outcomes
    assert set(statuses) == {200}, outcomes


def test_a_bad_setting_exits_2_with_one_line_naming_the_variable(
    base_env: dict[str, str],
) -> None:
    env = {**base_env, "RATE_LIMIT_PER_MINUTE": "plenty"}

    result = nerava(env, "serve", "--port", str(free_port()))

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "RATE_LIMIT_PER_MINUTE" in lines[0]
    assert "Traceback" not in result.stderr


def test_auth_disabled_serves_without_keys_and_warns(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server(AUTH_DISABLED="true")

    wallet = httpx.get(f"{server.url}/v1/wallet/driver-1", timeout=5)

    assert wallet.status_code == 200
    assert "authentication is disabled" in server.stderr


def test_two_workers_serve_and_metrics_add_up_across_them(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server("--workers", "2")
    deadline = time.monotonic() + START_TIMEOUT
    while server.stderr.count("Application startup complete") < 2:
        assert time.monotonic() < deadline, server.stderr
        time.sleep(0.1)

    async def burst() -> list[int]:
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=server.url, limits=limits) as api:
            answers = await asyncio.gather(*(api.get("/readyz") for _ in range(60)))
        return [a.status_code for a in answers]

    statuses = asyncio.run(burst())
    counts = [
        _readyz_count(httpx.get(f"{server.url}/metrics", timeout=5).text)
        for _ in range(8)
    ]

    assert statuses == [200] * 60
    assert len(server.children()) >= 2
    assert counts == [60.0] * 8


def _readyz_count(metrics: str) -> float:
    pattern = re.compile(r"^http_requests_total\{([^}]*)\} (\S+)$", re.MULTILINE)
    return sum(
        float(value)
        for labels, value in pattern.findall(metrics)
        if 'path="/readyz"' in labels
    )


def test_workers_stop_when_their_supervisor_is_killed_outright(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server("--workers", "2")
    deadline = time.monotonic() + START_TIMEOUT
    while len(server.children()) < 2:
        assert time.monotonic() < deadline, server.stderr
        time.sleep(0.1)
    workers = server.children()

    server.process.send_signal(signal.SIGKILL)
    server.process.wait(STOP_TIMEOUT)

    deadline = time.monotonic() + STOP_TIMEOUT
    while any(Path(f"/proc/{pid}").exists() for pid in workers):
        assert time.monotonic() < deadline, "a worker outlived its supervisor"
        time.sleep(0.1)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", server.port))
