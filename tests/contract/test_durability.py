"""A writer killed mid-stream loses no acknowledged stop and leaves no half of one."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nerava.adapters.storage_factory import MigratableDatabase, database_from_url
from nerava.domain.events import ChargeStarted, ChargeStopped, RewardCredited
from nerava.domain.sessions import SessionState
from nerava.ports.storage import UnitOfWork
from tests.contract.stream_writer import credited_at_once, driver

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ACKNOWLEDGED_BEFORE_KILL = 25
DEADLINE_S = 60


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def durable_url(request: pytest.FixtureRequest) -> str:
    """The URL of a freshly migrated database on disk."""
    if request.param == "sqlite":
        return f"sqlite:///{request.getfixturevalue('sqlite_path')}"
    request.getfixturevalue("reset_postgres")()
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def reopened(durable_url: str) -> AsyncIterator[MigratableDatabase]:
    """The database as a new process would open it."""
    db = database_from_url(durable_url)
    yield db
    await db.close()


def kill_writer_mid_stream(url: str) -> dict[int, str]:
    """Run the stream writer, SIGKILL it mid-stream; return what it acknowledged."""
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.contract.stream_writer", url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    acknowledged: dict[int, str] = {}
    with selectors.DefaultSelector() as selector:
        selector.register(writer.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + DEADLINE_S
        while len(acknowledged) < ACKNOWLEDGED_BEFORE_KILL:
            assert time.monotonic() < deadline, "the writer acknowledged too little"
            assert writer.poll() is None, "the writer died before it was killed"
            if selector.select(timeout=0.1):
                index, session_id = writer.stdout.readline().split()
                acknowledged[int(index)] = session_id

    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()

    # Lines printed before the kill are acknowledgements too.
    for line in writer.stdout.read().splitlines():
        if line.count(" ") == 1:
            index, session_id = line.split()
            acknowledged[int(index)] = session_id
    return acknowledged


async def assert_whole(uow: UnitOfWork, index: int, session_id: str) -> bool:
    """Assert that a session is entirely started, or entirely stopped.

    Returns:
        Whether it is stopped.
    """
    session = await uow.sessions.get(session_id)
    assert session is not None
    assert session.user_id == driver(index)
    reward = await uow.ledger.reward_for(session_id)
    pending = await uow.credits.pending_cents(driver(index))
    balance = await uow.ledger.balance(driver(index))
    if session.state is SessionState.ACTIVE:
        assert (reward, pending, balance) == (None, 0, 0)
        return False

    assert session.state is SessionState.STOPPED
    assert session.reward is not None
    total = session.reward.total_cents
    if credited_at_once(index):
        assert reward is not None
        assert reward.amount_cents == total == balance
        assert pending == 0
    else:
        assert (reward, balance, pending) == (None, 0, total)
    return True


async def test_every_acknowledged_stop_survives_a_kill_whole(
    durable_url: str, reopened: MigratableDatabase
) -> None:
    acknowledged = kill_writer_mid_stream(durable_url)

    await reopened.open()
    async with reopened.unit_of_work(readonly=True) as uow:
        events: dict[str, list[type]] = defaultdict(list)
        started: dict[str, int] = {}
        for record in await uow.outbox.unpublished(100_000):
            event = record.event
            assert isinstance(event, ChargeStarted | ChargeStopped | RewardCredited)
            events[event.session_id].append(type(event))
            if isinstance(event, ChargeStarted):
                started[event.session_id] = int(event.user_id.removeprefix("driver-"))
        stopped = {
            session_id
            for session_id, index in started.items()
            if await assert_whole(uow, index, session_id)
        }
        after_last = len(started)
        assert await uow.sessions.active_for_user(driver(after_last)) is None
        assert await uow.ledger.balance(driver(after_last)) == 0

    assert set(acknowledged.values()) <= stopped
    assert sorted(started.values()) == list(range(len(started)))
    assert len(started) - len(acknowledged) in (0, 1)
    for session_id, index in started.items():
        expected: list[type] = [ChargeStarted]
        if session_id in stopped:
            expected.append(ChargeStopped)
            if credited_at_once(index):
                expected.append(RewardCredited)
        assert events[session_id] == expected
