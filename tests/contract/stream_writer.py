"""A process that starts and stops sessions without end, acknowledging each stop.

``python -m tests.contract.stream_writer DATABASE_URL`` runs session after
session through the charging use cases, one driver each, crediting the even
ones at once and queueing the odd ones' credits. It prints ``INDEX
SESSION_ID`` only after the stop's transaction committed, so every line
printed is a promise the database must keep.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from decimal import Decimal

from nerava.adapters.memory import SystemClock, UuidIds
from nerava.adapters.storage_factory import database_from_url
from nerava.domain.sessions import ChargingRules
from nerava.domain.usecases import Actor, Charging, StartCharge, StopCharge

KWH = Decimal("10.5")


def driver(index: int) -> str:
    """The driver of the ``index``-th session."""
    return f"driver-{index}"


def credited_at_once(index: int) -> bool:
    """Whether the ``index``-th session is credited in its stop's transaction."""
    return index % 2 == 0


async def write_forever(url: str) -> None:
    """Start and stop sessions until killed."""
    db = database_from_url(url)
    await db.open()
    clock, ids = SystemClock(), UuidIds()
    modes = {
        sync: Charging(db.unit_of_work, clock, ids, ChargingRules(sync_credit=sync))
        for sync in (True, False)
    }
    for index in itertools.count():
        charging = modes[credited_at_once(index)]
        session = await charging.start(
            StartCharge(user_id=driver(index), hub_id="hub-1"), actor=Actor()
        )
        await charging.stop(
            StopCharge(session_id=session.session_id, kwh=KWH), actor=Actor()
        )
        sys.stdout.write(f"{index} {session.session_id}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(write_forever(sys.argv[1]))
