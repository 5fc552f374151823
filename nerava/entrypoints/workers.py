"""Background work: the wallet processor, the outbox relay, the purges.

Each loop has ``run_once()``, one pass for tests and scripts, and
``run(stop)``, which repeats passes until ``stop`` is set and then returns
promptly. A loop survives every fault: it logs it, waits as tenacity's
exponential-jitter strategy says, and tries again. ``nerava serve`` runs the
loops inside each API process; ``nerava worker`` runs them alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

import tenacity
from tenacity.wait import wait_base

from nerava.domain.errors import DependencyUnavailable
from nerava.domain.usecases.credits import Credits
from nerava.domain.wallet import PendingCredit
from nerava.entrypoints.http import metrics

__all__ = [
    "BackgroundLoops",
    "CreditProcessor",
    "Loop",
    "OutboxRelayLoop",
    "PurgeLoop",
    "background_loops",
    "backoff_seconds",
]

if TYPE_CHECKING:
    from nerava.container import Container

logger = logging.getLogger(__name__)


class OutboxRelay(Protocol):
    """Delivers stored events to the event bus."""

    async def relay(self, limit: int = 100) -> int:
        """Publish up to ``limit`` undelivered events; return how many."""
        ...


class Purge(Protocol):
    """Keeps records from growing without end."""

    async def purge(self, *, limit: int) -> int:
        """Drop up to ``limit`` expired records; return how many."""
        ...


class Loop(Protocol):
    """Background work that runs until told to stop."""

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set."""
        ...


def backoff_seconds(wait: wait_base, attempt: int) -> float:
    """Return how long ``wait`` says to wait after failed attempt ``attempt``.

    Args:
        wait: a tenacity wait strategy.
        attempt: how many attempts have failed so far, from 1.
    """
    state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
    state.attempt_number = max(1, attempt)
    return float(wait(state))


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


class _RepeatingLoop:
    """Repeats passes of some work, backing off while they fail."""

    name = "loop"

    def __init__(self, *, idle_seconds: float, outage_wait: wait_base | None) -> None:
        self._idle_seconds = idle_seconds
        self._outage_wait = outage_wait or tenacity.wait_exponential_jitter(
            max=30.0, jitter=1.0
        )

    async def run_once(self) -> int:
        """Do one pass of the work; return how much was done."""
        raise NotImplementedError

    async def run(self, stop: asyncio.Event) -> None:
        """Repeat passes until ``stop`` is set; never raise but on cancellation."""
        logger.info("%s started", self.name)
        failures = 0
        while not stop.is_set():
            try:
                done = await self._pass(stop)
            except Exception as exc:
                failures += 1
                delay = backoff_seconds(self._outage_wait, failures)
                if isinstance(exc, DependencyUnavailable):
                    logger.warning(
                        "%s: %s; retrying in %.1f s", self.name, exc.message, delay
                    )
                else:
                    logger.exception("%s failed; retrying in %.1f s", self.name, delay)
                await _pause(stop, delay)
                continue
            failures = 0
            # A pass that found work may have left more behind: go again at once.
            if not done or self._always_idle():
                await _pause(stop, self._idle_seconds)
        logger.info("%s stopped", self.name)

    async def _pass(self, stop: asyncio.Event) -> int:
        return await self.run_once()

    def _always_idle(self) -> bool:
        return False


class CreditProcessor(_RepeatingLoop):
    """Applies due pending credits to wallets, each exactly once.

    Several processors, in one process or many, may run against the same
    store: the ``Credits`` use case takes a credit and appends its entry in
    one transaction, and the ledger refuses a second reward for a session.

    Args:
        credits: the credits use case.
        batch: how many due credits one pass reads.
        idle_seconds: how long to wait after a pass that found nothing to do.
        retry_wait: backoff between attempts at one credit; by default
            exponential with jitter, from 1 s up to 5 minutes.
        outage_wait: backoff between passes while the store is unavailable;
            by default exponential with jitter, from 1 s up to 30 s.
    """

    name = "wallet processor"

    def __init__(
        self,
        credits: Credits,
        *,
        batch: int = 100,
        idle_seconds: float = 0.1,
        retry_wait: wait_base | None = None,
        outage_wait: wait_base | None = None,
    ) -> None:
        super().__init__(idle_seconds=idle_seconds, outage_wait=outage_wait)
        self._credits = credits
        self._batch = batch
        self._retry_wait = retry_wait or tenacity.wait_exponential_jitter(
            max=300.0, jitter=1.0
        )

    async def run_once(self) -> int:
        """Credit every credit due now (up to a batch); return how many were credited.

        A credit that fails is deferred with backoff, never dropped.

        Raises:
            DependencyUnavailable: the store is down; nothing is lost, the credits
                stay pending.
        """
        return await self._credit_due(None)

    async def _pass(self, stop: asyncio.Event) -> int:
        return await self._credit_due(stop)

    async def _credit_due(self, stop: asyncio.Event | None) -> int:
        credited = 0
        for batch in _one_per_wallet(await self._credits.due(self._batch)):
            if stop is not None and stop.is_set():
                break
            if len(batch) > 1:
                credited += await self._credit_together(batch)
            else:
                credited += await self._credit_one_by_one(batch)
            # A credit may finish without ever yielding (the embedded store
            # writes on the loop's own thread): requests go between batches.
            await asyncio.sleep(0)
        return credited

    async def _credit_together(self, batch: list[PendingCredit]) -> int:
        # One transaction for the batch: one turn of the store's writer and
        # one commit, where crediting one by one waits for a turn each time
        # behind every request in flight. Whatever fails it (an outage, one
        # wallet locked too long, a bad credit), one by one finds which: the
        # others land, and the failing one is deferred with backoff.
        try:
            credited = await self._credits.credit_all(batch)
        except Exception:
            logger.debug("a batch of %d credits failed", len(batch), exc_info=True)
            return await self._credit_one_by_one(batch)
        for _ in credited:
            metrics.record_credit("async", "credited")
        return len(credited)

    async def _credit_one_by_one(self, batch: list[PendingCredit]) -> int:
        credited = 0
        for credit in batch:
            try:
                applied = await self._credits.credit(credit.session_id)
            except Exception as exc:
                metrics.record_credit("async", "failed")
                await self._defer(credit.session_id, credit.attempts + 1, exc)
                if isinstance(exc, DependencyUnavailable):
                    raise
                continue
            if applied:
                credited += 1
                metrics.record_credit("async", "credited")
        return credited

    async def _defer(self, session_id: str, attempt: int, exc: Exception) -> None:
        delay = backoff_seconds(self._retry_wait, attempt)
        # An unavailable store is reported once, by the loop that backs off.
        if not isinstance(exc, DependencyUnavailable):
            logger.exception(
                "credit of session %r failed; retrying in %.1f s", session_id, delay
            )
        error = str(exc) or type(exc).__name__
        try:
            await self._credits.defer(session_id, error, timedelta(seconds=delay))
        except DependencyUnavailable:
            # The credit stays due as it was; the next pass retries it.
            logger.warning("could not defer the credit of session %r", session_id)


class OutboxRelayLoop(_RepeatingLoop):
    """Delivers the outbox's events to the event bus, in order, at least once.

    Args:
        relay: the relay use case.
        batch: how many events one pass delivers at most.
        idle_seconds: how long to wait after a pass that found nothing to do.
        outage_wait: backoff between failing passes.
    """

    name = "outbox relay"

    def __init__(
        self,
        relay: OutboxRelay,
        *,
        batch: int = 100,
        idle_seconds: float = 0.1,
        outage_wait: wait_base | None = None,
    ) -> None:
        super().__init__(idle_seconds=idle_seconds, outage_wait=outage_wait)
        self._relay = relay
        self._batch = batch

    async def run_once(self) -> int:
        """Deliver up to a batch of events; return how many were delivered."""
        return await self._relay.relay(self._batch)


class PurgeLoop(_RepeatingLoop):
    """Drops records past their retention, once an hour.

    Args:
        purge: what drops them: expired idempotency records, or events
            delivered long ago.
        name: names the loop in the log.
        interval_seconds: time between purges.
        batch: how many records one purge transaction deletes at most.
        outage_wait: backoff between failing purges.
    """

    def __init__(
        self,
        purge: Purge,
        *,
        name: str,
        interval_seconds: float = 3600.0,
        batch: int = 1000,
        outage_wait: wait_base | None = None,
    ) -> None:
        super().__init__(idle_seconds=interval_seconds, outage_wait=outage_wait)
        self._purge = purge
        self.name = name
        self._batch = batch

    async def run_once(self) -> int:
        """Purge expired records now; return how many were dropped."""
        purged = 0
        while True:
            # A day of records can be many; short transactions, with other
            # work between them, keep any one from holding up the store.
            batch = await self._purge.purge(limit=self._batch)
            purged += batch
            if batch < self._batch:
                break
            await asyncio.sleep(0)
        if purged:
            logger.info("%s dropped %d records", self.name, purged)
        return purged

    def _always_idle(self) -> bool:
        return True


class BackgroundLoops:
    """Runs several loops as tasks of the current event loop; stops them together.

    Args:
        loops: the loops to run.
        stop_timeout: how long ``stop()`` waits for them before cancelling.
    """

    def __init__(self, loops: Sequence[Loop], *, stop_timeout: float = 10.0) -> None:
        self._loops = tuple(loops)
        self._stop_timeout = stop_timeout
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start every loop."""
        self._stop.clear()
        self._tasks = [
            asyncio.create_task(loop.run(self._stop), name=type(loop).__name__)
            for loop in self._loops
        ]

    async def stop(self) -> None:
        """Ask every loop to stop, let it finish its pass, and wait for it."""
        self._stop.set()
        if not self._tasks:
            return
        _, late = await asyncio.wait(self._tasks, timeout=self._stop_timeout)
        for task in late:
            logger.warning("%s did not stop in time; cancelling it", task.get_name())
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def run(self, stop: asyncio.Event) -> None:
        """Run every loop until ``stop`` is set, then stop them."""
        self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()


def _one_per_wallet(credits: list[PendingCredit]) -> list[list[PendingCredit]]:
    """Split due credits into batches that each credit a wallet at most once."""
    batches: list[list[PendingCredit]] = []
    seen: dict[str, int] = {}
    for credit in credits:
        turn = seen.get(credit.user_id, 0)
        seen[credit.user_id] = turn + 1
        if turn == len(batches):
            batches.append([])
        batches[turn].append(credit)
    return batches


def background_loops(container: Container) -> BackgroundLoops:
    """Build the wallet processor, the relay and the purges from ``container``."""
    return BackgroundLoops(
        [
            CreditProcessor(container.credits()),
            OutboxRelayLoop(container.relay()),
            PurgeLoop(container.idempotency(), name="idempotency purge"),
            PurgeLoop(container.relay(), name="outbox purge"),
        ]
    )
