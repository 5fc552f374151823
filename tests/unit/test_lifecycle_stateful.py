"""Any order of starts, stops, credits, debits and window edits keeps the ledger true.

A simple model tracks what each wallet should hold; after every step the
store must agree with it (invariants 2, 6 and 7 of the design).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
)

from nerava.adapters.memory import FixedClock, MemoryCache, MemoryDatabase, UuidIds
from nerava.domain.errors import (
    InsufficientFunds,
    SessionAlreadyActive,
    SessionAlreadyStopped,
)
from nerava.domain.sessions import ChargingRules, SessionState
from nerava.domain.usecases import (
    Actor,
    Catalog,
    Charging,
    Credits,
    StartCharge,
    StopCharge,
    Wallets,
)
from nerava.domain.wallet import EntryKind
from nerava.domain.windows import Window

USERS = st.sampled_from(["ada", "bo", "cy"])
ADMIN = Actor(actor_id="key_admin", admin=True)


class LedgerLifecycle(RuleBasedStateMachine):
    sync_credit = False
    sessions = Bundle("sessions")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = FixedClock(datetime(2026, 3, 28, 9, 0, tzinfo=UTC))
        db = MemoryDatabase()
        self.db = db
        ids = UuidIds()
        rules = ChargingRules(sync_credit=self.sync_credit)
        self.charging = Charging(db.unit_of_work, self.clock, ids, rules)
        self.credits = Credits(db.unit_of_work, self.clock, ids)
        self.wallets = Wallets(db.unit_of_work, self.clock, ids)
        self.catalog = Catalog(
            db.unit_of_work, MemoryCache(), self.clock, ids, ttl_seconds=60
        )
        self.balance: Counter[str] = Counter()
        self.pending: Counter[str] = Counter()
        self.active: dict[str, str] = {}
        self.stopped: dict[str, tuple[int, Any]] = {}
        self.owner: dict[str, str] = {}
        self.cancelled: set[str] = set()

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        self.loop.close()

    @rule(minutes=st.integers(0, 600))
    def time_passes(self, minutes: int) -> None:
        self.clock.advance(timedelta(minutes=minutes))

    @rule(target=sessions, user=USERS, hub=st.sampled_from(["h1", "h2"]))
    def start(self, user: str, hub: str) -> str:
        try:
            session = self.run(
                self.charging.start(StartCharge(user_id=user, hub_id=hub), actor=ADMIN)
            )
        except SessionAlreadyActive as refused:
            assert self.active[user] == refused.session_id
            return refused.session_id
        assert user not in self.active
        self.active[user] = session.session_id
        self.owner[session.session_id] = user
        return str(session.session_id)

    @rule(session_id=sessions, wh=st.integers(1, 80_000))
    def stop(self, session_id: str, wh: int) -> None:
        kwh = Decimal(wh) / 1000
        cmd = StopCharge(session_id=session_id, kwh=kwh)
        user = self.owner[session_id]
        if session_id in self.cancelled or (
            session_id in self.stopped and self.stopped[session_id][0] != wh
        ):
            try:
                self.run(self.charging.stop(cmd, actor=ADMIN))
            except SessionAlreadyStopped:
                return
            raise AssertionError("a stop of a finished session was accepted")
        result = self.run(self.charging.stop(cmd, actor=ADMIN))
        if session_id in self.stopped:
            assert result == self.stopped[session_id][1]
            return
        self.stopped[session_id] = (wh, result)
        del self.active[user]
        total = result.reward.total_cents
        assert total >= result.reward.merchant_cents >= 0
        if self.sync_credit:
            self.balance[user] += total
            assert result.balance_at_stop_cents == self.balance[user]
        else:
            self.pending[user] += total

    @rule(session_id=consumes(sessions))
    def cancel(self, session_id: str) -> None:
        user = self.owner[session_id]
        try:
            self.run(self.charging.cancel(session_id, "hub lost the stop", actor=ADMIN))
        except SessionAlreadyStopped:
            assert session_id in self.stopped
            return
        if self.active.get(user) == session_id:
            del self.active[user]
        self.cancelled.add(session_id)

    @rule()
    def wallet_processor_runs(self) -> None:
        for credit in self.run(self.credits.due(100)):
            credited = self.run(self.credits.credit(credit.session_id))
            assert credited
            self.pending[credit.user_id] -= credit.amount_cents
            self.balance[credit.user_id] += credit.amount_cents
        assert self.run(self.credits.credit("ses_already_gone")) is False

    @rule(user=USERS, amount=st.integers(1, 2_000))
    def debit(self, user: str, amount: int) -> None:
        try:
            self.run(self.wallets.debit(user, amount, "redeem", actor=ADMIN))
        except InsufficientFunds:
            assert amount > self.balance[user]
            return
        assert amount <= self.balance[user]
        self.balance[user] -= amount

    @rule(user=USERS, amount=st.integers(-500, 500).filter(bool))
    def adjust(self, user: str, amount: int) -> None:
        try:
            self.run(self.wallets.adjust(user, amount, "fix", actor=ADMIN))
        except InsufficientFunds:
            assert self.balance[user] + amount < 0
            return
        self.balance[user] += amount

    @rule(
        price=st.decimals("0", "10", places=2),
        multiplier=st.decimals("0", "5", places=1),
        start=st.integers(0, 23),
    )
    def operator_edits_green_hour(
        self, price: Decimal, multiplier: Decimal, start: int
    ) -> None:
        window = Window(
            id="green_hour",
            label="Green Hour",
            start_local=time(start),
            end_local=time((start + 3) % 24),
            price_per_kwh=price,
            multiplier=multiplier,
        )
        self.run(self.catalog.put(window))

    @invariant()
    def wallets_match_the_model(self) -> None:
        for user in ("ada", "bo", "cy"):
            view = self.run(self.wallets.view(user))
            entries, cursor = self.run(self.wallets.entries(user, limit=200))
            assert cursor is None
            assert view.balance_cents == self.balance[user] >= 0
            assert view.pending_cents == self.pending[user]
            assert sum(e.amount_cents for e in entries) == view.balance_cents
            rewards = Counter(
                e.session_id for e in entries if e.kind is EntryKind.CHARGE_REWARD
            )
            assert all(count == 1 for count in rewards.values())

    @invariant()
    def stopped_sessions_stay_stopped(self) -> None:
        for session_id, (_, result) in self.stopped.items():
            view = self.run(self.charging.get(session_id, actor=ADMIN))
            assert view.session.state is SessionState.STOPPED
            assert view.session.reward == result.reward


class SyncCreditLifecycle(LedgerLifecycle):
    sync_credit = True


TestAsyncCreditLifecycle = LedgerLifecycle.TestCase
TestAsyncCreditLifecycle.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None
)
TestSyncCreditLifecycle = SyncCreditLifecycle.TestCase
TestSyncCreditLifecycle.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None
)
