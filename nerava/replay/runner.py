"""Replay sessions through the API and check every wallet they touched.

The run has four steps: read the windows (which also proves the target allows
the ``at`` override), read every driver's wallet as a baseline, send the
events in order, then wait for pending credits to land and compare each
wallet's rise with the rewards its stops returned.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import Protocol

import msgspec

from nerava.replay.client import (
    NeravaClient,
    ReplayAborted,
    ReplayError,
    ServiceRefused,
    ServiceUnavailable,
    Started,
    Stopped,
    WalletState,
    WindowTerms,
)
from nerava.replay.ordering import Event, EventKind, order_events, run_in_lanes
from nerava.replay.parsing import ChargeSession

logger = logging.getLogger(__name__)

__all__ = [
    "Observer",
    "Replayed",
    "WalletMismatch",
    "replay_sessions",
]


class Observer(Protocol):
    """Follows the run's progress, e.g. to draw a progress bar."""

    def phase(self, name: str, total: int) -> None:
        """Begin a step of ``total`` units."""

    def advance(self, count: int = 1) -> None:
        """Mark units of the current step done."""


class _Quiet:
    def phase(self, name: str, total: int) -> None:
        """Ignore the step."""

    def advance(self, count: int = 1) -> None:
        """Ignore the progress."""


class WalletMismatch(msgspec.Struct, frozen=True, kw_only=True):
    """A wallet that did not rise by exactly what its stops returned.

    ``actual_cents`` and ``pending_cents`` are ``None`` when the wallet could
    not be read at the end.
    """

    user_id: str
    expected_cents: int
    actual_cents: int | None
    pending_cents: int | None


class Replayed(msgspec.Struct, frozen=True, kw_only=True):
    """What the service answered to a replay, and how the wallets agree."""

    stops: dict[int, Stopped]
    refused: dict[str, int]
    windows: tuple[WindowTerms, ...]
    users_checked: int
    wallet_rise_cents: int
    mismatches: tuple[WalletMismatch, ...]
    duration_s: float
    settle_s: float


async def replay_sessions(
    sessions: Sequence[ChargeSession],
    client: NeravaClient,
    *,
    concurrency: int = 8,
    settle_timeout_s: float = 120.0,
    run_id: str | None = None,
    observer: Observer | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Replayed:
    """Send every session's start and stop, then check the wallets.

    Args:
        sessions: the sessions to replay, in any order.
        client: the client of the target service.
        concurrency: events in flight at once; one driver's events never
            overlap.
        settle_timeout_s: how long to wait for pending credits to land.
        run_id: the nonce in every ``Idempotency-Key``; random by default, so
            two runs never collide while retries of one run replay.
        observer: told about progress.
        clock: seconds, for the durations reported.

    Raises:
        ReplayAborted: the target cannot take the replay (e.g. ``at`` is
            not allowed, or the key cannot read wallets).
    """
    run = _Run(
        sessions,
        client,
        concurrency=concurrency,
        run_id=run_id or secrets.token_hex(8),
        observer=observer or _Quiet(),
    )
    windows = await run.windows()
    users = run.users()
    run.observer.phase("reading wallets", len(users))
    baselines = await run.read_wallets(users)

    began = clock()
    await run.send_events()
    duration_s = clock() - began

    settle_began = clock()
    finals = await run.settle(settle_timeout_s)
    settle_s = clock() - settle_began

    mismatches, rise = run.compare(baselines, finals)
    return Replayed(
        stops=run.stops,
        refused=dict(run.refused),
        windows=tuple(windows),
        users_checked=len(run.touched),
        wallet_rise_cents=rise,
        mismatches=tuple(mismatches),
        duration_s=duration_s,
        settle_s=settle_s,
    )


class _Run:
    def __init__(
        self,
        sessions: Sequence[ChargeSession],
        client: NeravaClient,
        *,
        concurrency: int,
        run_id: str,
        observer: Observer,
    ) -> None:
        self.sessions = sessions
        self.client = client
        self.concurrency = concurrency
        self.run_id = run_id
        self.observer = observer
        self.session_ids: list[str | None] = [None] * len(sessions)
        self.stops: dict[int, Stopped] = {}
        self.refused: Counter[str] = Counter()
        self.touched: set[str] = set()

    def users(self) -> list[str]:
        return list(dict.fromkeys(session.user_id for session in self.sessions))

    async def windows(self) -> list[WindowTerms]:
        """Read the windows as of the first plug-in; this also tests ``at``."""
        first = min((s.started_at for s in self.sessions), default=None)
        try:
            return await self.client.windows(first)
        except ServiceUnavailable as exc:
            raise ReplayAborted(
                exc.code, f"cannot reach the target: {exc.message}"
            ) from exc
        except ServiceRefused as exc:
            raise ReplayAborted(
                exc.code,
                f"the target does not serve the windows list ({exc.status} "
                f"{exc.code}); is it a Nerava service?",
            ) from exc

    async def read_wallets(
        self, users: Sequence[str], *, settled: bool = False
    ) -> dict[str, WalletState]:
        """Read wallets; ``settled``: count progress only for those not pending."""
        states: dict[str, WalletState] = {}

        async def read(user: str) -> None:
            try:
                states[user] = await self.client.wallet(user)
            except ServiceUnavailable as exc:
                if not settled:
                    raise ReplayAborted(
                        exc.code, f"cannot read the wallet of {user}: {exc.message}"
                    ) from exc
                # Left out of the finals, the wallet is reported unread.
                logger.warning("cannot read the wallet of %s: %s", user, exc.message)
            except ServiceRefused as exc:
                # An id the service cannot hold has no wallet; its starts are
                # refused and counted like any other refusal.
                if exc.code != "validation_error":
                    raise ReplayAborted(
                        exc.code,
                        f"cannot read wallets ({exc.status} {exc.code}); the "
                        "key needs the wallet:read or admin scope",
                    ) from exc
            state = states.get(user)
            if not settled or state is None or not state.pending_cents:
                self.observer.advance()

        await run_in_lanes(users, _same, read, self.concurrency)
        return states

    async def send_events(self) -> None:
        events = order_events(self.sessions)
        drivers = [self.sessions[event.session].user_id for event in events]
        self.observer.phase("replaying", len(self.sessions))
        await run_in_lanes(
            range(len(events)),
            drivers.__getitem__,
            lambda index: self.send(events[index]),
            self.concurrency,
        )

    async def send(self, event: Event) -> None:
        session = self.sessions[event.session]
        key = f"replay-{self.run_id}-{session.row}-{event.kind.name.lower()}"
        if event.kind is EventKind.START:
            started = await self._start(session, key)
            if started is None:
                self.observer.advance()
            else:
                self.session_ids[event.session] = started.session_id
                self.touched.add(session.user_id)
            return

        session_id = self.session_ids[event.session]
        if session_id is None:
            return
        try:
            self.stops[event.session] = await self.client.stop(
                session_id, session.kwh, session.stopped_at, key
            )
        except ReplayAborted:
            raise
        except ReplayError as exc:
            self.refused[exc.code] += 1
            await self._cancel(session_id, session, exc.code)
        self.observer.advance()

    async def _start(self, session: ChargeSession, key: str) -> Started | None:
        try:
            return await self.client.start(
                session.user_id, session.hub_id, session.started_at, key
            )
        except ReplayAborted:
            raise
        except ReplayError as exc:
            # Limitation: a start the service committed but whose every try
            # went unanswered leaves the driver's session open, so the driver's
            # later starts are refused; sending it again with its key before
            # the driver's next event would learn its id and cancel it.
            self.refused[exc.code] += 1
            return None

    async def _cancel(self, session_id: str, session: ChargeSession, code: str) -> None:
        """Free the driver for its next session, as a hub that lost a stop would."""
        try:
            await self.client.cancel(
                session_id, f"replay: stop refused ({code})", session.stopped_at
            )
        except ReplayAborted:
            raise
        except ReplayError as exc:
            logger.warning(
                "cannot cancel session %s after its stop was refused: %s",
                session_id,
                exc.message,
            )

    async def settle(self, timeout_s: float) -> dict[str, WalletState]:
        """Read the touched wallets until nothing is pending, or time is up."""
        self.observer.phase("settling credits", len(self.touched))
        finals = await self.read_wallets(sorted(self.touched), settled=True)
        deadline = time.monotonic() + timeout_s
        pause = 0.05
        while True:
            waiting = [user for user, state in finals.items() if state.pending_cents]
            if not waiting or time.monotonic() >= deadline:
                return finals
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)
            finals.update(await self.read_wallets(waiting, settled=True))

    def compare(
        self,
        baselines: dict[str, WalletState],
        finals: dict[str, WalletState],
    ) -> tuple[list[WalletMismatch], int]:
        expected: defaultdict[str, int] = defaultdict(int)
        for index, stopped in self.stops.items():
            expected[self.sessions[index].user_id] += stopped.total_reward_cents
        mismatches: list[WalletMismatch] = []
        rise_total = 0
        for user in sorted(self.touched):
            base = baselines.get(user, WalletState(balance_cents=0))
            final = finals.get(user)
            if final is None:
                mismatches.append(
                    WalletMismatch(
                        user_id=user,
                        expected_cents=expected[user],
                        actual_cents=None,
                        pending_cents=None,
                    )
                )
                continue
            rise = final.balance_cents - base.accepted_cents
            rise_total += rise
            if rise != expected[user] or final.pending_cents:
                mismatches.append(
                    WalletMismatch(
                        user_id=user,
                        expected_cents=expected[user],
                        actual_cents=rise,
                        pending_cents=final.pending_cents,
                    )
                )
        return mismatches, rise_total


def _same(user: str) -> str:
    return user
