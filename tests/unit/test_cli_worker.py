"""``nerava worker`` as a process: credits pending rewards, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from nerava.config import Settings
from nerava.domain.usecases import Actor, Charging, StartCharge, StopCharge, Wallets
from nerava.domain.wallet import WalletView
from nerava.entrypoints.cli.runtime import opened

pytestmark = pytest.mark.slow

NERAVA = str(Path(sys.executable).with_name("nerava"))
OPERATOR = Actor(actor_id="key_test", admin=True)


async def stopped_sessions(settings: Settings, users: list[str]) -> list[int]:
    async with opened(settings) as container:
        charging: Charging = container.charging()
        rewards = []
        for user in users:
            session = await charging.start(
                StartCharge(user_id=user, hub_id="hub-1"), actor=OPERATOR
            )
            stopped = await charging.stop(
                StopCharge(session_id=session.session_id, kwh=Decimal("12.5")),
                actor=OPERATOR,
            )
            assert stopped.reward is not None
            rewards.append(stopped.reward.total_cents)
        return rewards


async def wallets_of(settings: Settings, users: list[str]) -> list[WalletView]:
    async with opened(settings) as container:
        wallets: Wallets = container.wallets()
        return [await wallets.view(user) for user in users]


def test_the_worker_credits_pending_rewards_and_stops_cleanly_on_sigterm(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'nerava.db'}"
    settings = Settings(database_url=url)
    users = ["driver-a", "driver-b", "driver-c"]
    rewards = asyncio.run(stopped_sessions(settings, users))
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "INFO"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)

    with (tmp_path / "worker.err").open("wb") as err:
        worker = subprocess.Popen(
            [NERAVA, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=err
        )
        try:
            deadline = time.monotonic() + 30
            views = asyncio.run(wallets_of(settings, users))
            while any(v.pending_cents for v in views):
                assert time.monotonic() < deadline, views
                assert worker.poll() is None, (tmp_path / "worker.err").read_text()
                time.sleep(0.1)
                views = asyncio.run(wallets_of(settings, users))
            worker.send_signal(signal.SIGTERM)
            status = worker.wait(10)
        finally:
            worker.kill()
            worker.wait(10)
    log = (tmp_path / "worker.err").read_text()

    assert [v.balance_cents for v in views] == rewards
    assert all(len(v.entries) == 1 for v in views)
    assert status == 0
    assert "nerava worker started" in log
    assert "wallet processor stopped" in log
    assert "nerava worker stopped" in log
