"""Starting, stopping and cancelling charging sessions."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

import msgspec

from nerava.domain.energy import round_kwh, wh_from_kwh
from nerava.domain.errors import (
    Forbidden,
    ImplausibleEnergy,
    SessionAlreadyActive,
    SessionAlreadyStopped,
    SessionNotFound,
    ValidationFailed,
)
from nerava.domain.events import ChargeCancelled, ChargeStarted, ChargeStopped
from nerava.domain.rewards import (
    MeterValue,
    Terms,
    compute_reward,
    validate_meter_values,
)
from nerava.domain.sessions import ChargingRules, CreditStatus, Session, SessionState
from nerava.domain.usecases.commands import (
    Actor,
    IdempotentWrite,
    SessionView,
    StartCharge,
    StopCharge,
    StopOutcome,
)
from nerava.domain.usecases.crediting import credit_reward
from nerava.domain.validation import (
    require_aware,
    require_hub_id,
    require_text,
    require_user_id,
)
from nerava.domain.wallet import PendingCredit
from nerava.domain.windows import applying_window
from nerava.ports.clock import Clock, IdGenerator
from nerava.ports.storage import UnitOfWork, UnitOfWorkFactory

__all__ = ["Charging"]

MAX_SESSION_ID_LENGTH = 128


class Charging:
    """The charging-session use cases.

    Args:
        uow: begins units of work on the store.
        clock: the current instant, unless a command brings its own ``now``.
        ids: makes session, entry and event ids.
        rules: the settings the charging rules depend on.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        rules: ChargingRules,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids
        self.rules = rules

    async def start(
        self,
        cmd: StartCharge,
        *,
        actor: Actor,
        idempotency: IdempotentWrite | None = None,
    ) -> Session:
        """Start a session for a driver at a hub, capturing the terms in force.

        Raises:
            ValidationFailed: a bad id or event time.
            Forbidden: the actor may not act for this hub.
            SessionAlreadyActive: the driver already has an active session.
        """
        require_user_id(cmd.user_id)
        require_hub_id(cmd.hub_id)
        now = self._now(cmd.now)
        started_at = self._event_time(cmd.occurred_at, now)
        if not actor.may_act_for(cmd.hub_id):
            raise Forbidden(f"this key may not act for hub {cmd.hub_id!r}")

        async with self._uow() as uow:
            # Terms come from the committed catalog, never from a cache.
            windows = tuple(
                w for w in await uow.windows.list() if w.applies_to(cmd.hub_id)
            )
            terms = Terms(
                windows=windows,
                policy=self.rules.policy,
                cofund_cents=self.rules.cofund_cents,
            )
            active = applying_window(windows, started_at)
            session = Session(
                session_id=self._ids.new_id("ses"),
                user_id=cmd.user_id,
                hub_id=cmd.hub_id,
                started_at=started_at,
                terms=terms,
                active_window_id=active.id if active else None,
            )
            holder = await uow.sessions.add(session)
            if holder is not None:
                raise SessionAlreadyActive(cmd.user_id, holder)
            await uow.outbox.append(
                [
                    ChargeStarted(
                        event_id=self._ids.new_id("evt"),
                        occurred_at=now,
                        session_id=session.session_id,
                        user_id=session.user_id,
                        hub_id=session.hub_id,
                        started_at=started_at,
                        window_id=session.active_window_id,
                    )
                ]
            )
            await _remember(uow, idempotency, session)
            await uow.commit()
        return session

    async def stop(
        self,
        cmd: StopCharge,
        *,
        actor: Actor,
        idempotency: IdempotentWrite | None = None,
    ) -> Session:
        """Stop a session, fix its reward and credit it (or queue the credit).

        The same stop again returns the stored session unchanged. Raises as
        ``stop_reporting`` does.
        """
        outcome = await self.stop_reporting(cmd, actor=actor, idempotency=idempotency)
        return outcome.session

    async def stop_reporting(
        self,
        cmd: StopCharge,
        *,
        actor: Actor,
        idempotency: IdempotentWrite | None = None,
    ) -> StopOutcome:
        """Stop a session as ``stop`` does, and tell whether this call stopped it.

        A repeated stop returns the stored session with ``first`` false, so
        callers can count each stop once.

        Raises:
            ValidationFailed: bad energy, event time or meter values; a stop
                before the session's start (field ``at``, or ``occurred_at``
                when given).
            ImplausibleEnergy: more energy than the power limit allows.
            SessionNotFound: no such session.
            Forbidden: the actor may not act for the session's hub.
            SessionAlreadyStopped: stopped with other energy, or cancelled.
        """
        _require_session_id(cmd.session_id)
        wh = self._energy(cmd.kwh)
        now = self._now(cmd.now)
        stopped_at = self._event_time(cmd.occurred_at, now)
        readings = tuple(
            MeterValue(
                require_aware(r.at, f"meter_values[{i}].at"), _meter_wh(r.kwh, i)
            )
            for i, r in enumerate(cmd.meter_values)
        )

        async with self._uow() as uow:
            session = await self._session_for(uow, cmd.session_id, actor, lock=True)
            if session.state is SessionState.STOPPED and session.wh == wh:
                await _remember(uow, idempotency, session)
                await uow.commit()
                return StopOutcome(session, first=False)
            if session.state is not SessionState.ACTIVE:
                raise SessionAlreadyStopped(
                    f"session {session.session_id!r} is {session.state.value}"
                )
            if stopped_at < session.started_at:
                field = "at" if cmd.occurred_at is None else "occurred_at"
                raise ValidationFailed.on(
                    field, "the stop precedes the session's start"
                )
            validate_meter_values(readings, session.started_at, stopped_at, wh)
            self._check_plausible(wh, session.started_at, stopped_at)

            stopped = await self._settle(uow, session, stopped_at, wh, readings, now)
            await _remember(uow, idempotency, stopped)
            await uow.commit()
        return StopOutcome(stopped, first=True)

    async def cancel(
        self,
        session_id: str,
        reason: str,
        *,
        actor: Actor,
        now: datetime | None = None,
    ) -> Session:
        """Cancel an active session without reward; cancelling twice is a no-op.

        Raises:
            SessionNotFound, Forbidden, ValidationFailed (reason),
            SessionAlreadyStopped: the session was stopped.
        """
        _require_session_id(session_id)
        require_text(reason, "reason")
        at = self._now(now)
        async with self._uow() as uow:
            session = await self._session_for(uow, session_id, actor, lock=True)
            if session.state is SessionState.CANCELLED:
                return session
            if session.state is SessionState.STOPPED:
                raise SessionAlreadyStopped(f"session {session_id!r} is stopped")
            cancelled = msgspec.structs.replace(
                session,
                state=SessionState.CANCELLED,
                cancelled_at=at,
                cancel_reason=reason,
            )
            await uow.sessions.update(cancelled)
            await uow.outbox.append(
                [
                    ChargeCancelled(
                        event_id=self._ids.new_id("evt"),
                        occurred_at=at,
                        session_id=session_id,
                        user_id=session.user_id,
                        hub_id=session.hub_id,
                        reason=reason,
                    )
                ]
            )
            await uow.commit()
        return cancelled

    async def get(self, session_id: str, *, actor: Actor) -> SessionView:
        """Return a session with the live state of its credit.

        Raises:
            SessionNotFound, Forbidden.
        """
        _require_session_id(session_id)
        async with self._uow(readonly=True) as uow:
            session = await self._session_for(uow, session_id, actor, lock=False)
            status = None
            if session.state is SessionState.STOPPED:
                credited = await uow.ledger.reward_for(session_id) is not None
                status = CreditStatus.CREDITED if credited else CreditStatus.PENDING
        return SessionView(session, status)

    async def _settle(
        self,
        uow: UnitOfWork,
        session: Session,
        stopped_at: datetime,
        wh: int,
        readings: tuple[MeterValue, ...],
        now: datetime,
    ) -> Session:
        reward = compute_reward(
            session.terms, session.started_at, stopped_at, wh, readings
        )
        sync = self.rules.sync_credit
        status = CreditStatus.CREDITED if sync else CreditStatus.PENDING
        await uow.outbox.append(
            [
                ChargeStopped(
                    event_id=self._ids.new_id("evt"),
                    occurred_at=now,
                    session_id=session.session_id,
                    user_id=session.user_id,
                    hub_id=session.hub_id,
                    stopped_at=stopped_at,
                    wh=wh,
                    window_applied=reward.window_applied,
                    grid_reward_cents=reward.grid_cents,
                    merchant_reward_cents=reward.merchant_cents,
                    total_reward_cents=reward.total_cents,
                    credit_status=status.value,
                )
            ]
        )

        balance = None
        if sync:
            await credit_reward(
                uow,
                self._ids,
                session_id=session.session_id,
                user_id=session.user_id,
                amount_cents=reward.total_cents,
                now=now,
                mode="sync",
            )
            balance = await uow.ledger.balance(session.user_id)
        else:
            await uow.credits.add(
                PendingCredit(
                    session_id=session.session_id,
                    user_id=session.user_id,
                    amount_cents=reward.total_cents,
                    created_at=now,
                )
            )

        stopped = msgspec.structs.replace(
            session,
            state=SessionState.STOPPED,
            stopped_at=stopped_at,
            wh=wh,
            meter_values=readings,
            reward=reward,
            credit_status_at_stop=status,
            balance_at_stop_cents=balance,
        )
        await uow.sessions.update(stopped)
        return stopped

    async def _session_for(
        self, uow: UnitOfWork, session_id: str, actor: Actor, *, lock: bool
    ) -> Session:
        session = await uow.sessions.get(session_id, for_update=lock)
        if session is None:
            raise SessionNotFound(session_id)
        if not actor.may_act_for(session.hub_id):
            raise Forbidden(f"this key may not act for hub {session.hub_id!r}")
        return session

    def _now(self, override: datetime | None) -> datetime:
        if override is None:
            return self._clock.now()
        return require_aware(override, "at")

    def _event_time(self, occurred_at: datetime | None, now: datetime) -> datetime:
        if occurred_at is None:
            return now
        require_aware(occurred_at, "occurred_at")
        if occurred_at > now + self.rules.max_clock_skew:
            raise ValidationFailed.on(
                "occurred_at", "is more than 5 minutes in the future"
            )
        if occurred_at < now - self.rules.max_event_age:
            hours = int(self.rules.max_event_age.total_seconds() // 3600)
            raise ValidationFailed.on("occurred_at", f"is older than {hours} hours")
        return occurred_at

    def _energy(self, kwh: Decimal) -> int:
        max_kwh = Decimal(self.rules.max_session_wh) / 1000
        try:
            rounded = round_kwh(kwh) if kwh.is_finite() else None
        except InvalidOperation:
            rounded = None
        if rounded is None or not 0 < rounded <= max_kwh:
            raise ValidationFailed.on(
                "kwh_consumed", f"must be more than 0 and at most {max_kwh} kWh"
            )
        return wh_from_kwh(rounded)

    def _check_plausible(self, wh: int, start: datetime, stop: datetime) -> None:
        power_w = self.rules.max_charge_power_w
        if power_w is None:
            return
        # Energy in watt-microseconds against power times (duration + one
        # minute) in microseconds: whole numbers, compared exactly.
        micros = (stop - start) // _MICROSECOND + 60_000_000
        if wh * 3600 * 1_000_000 > power_w * micros:
            raise ImplausibleEnergy.on(
                "kwh_consumed",
                f"more than {power_w / 1000} kW could deliver in the session's time",
            )


_MICROSECOND = timedelta(microseconds=1)


def _require_session_id(session_id: str) -> None:
    if not 1 <= len(session_id) <= MAX_SESSION_ID_LENGTH:
        raise SessionNotFound(session_id[:MAX_SESSION_ID_LENGTH])


def _meter_wh(kwh: Decimal, index: int) -> int:
    try:
        if kwh.is_finite() and kwh >= 0:
            return wh_from_kwh(kwh)
    except InvalidOperation:
        pass
    raise ValidationFailed.on(f"meter_values[{index}].kwh", "must be at least 0 kWh")


async def _remember(
    uow: UnitOfWork, idempotency: IdempotentWrite | None, result: object
) -> None:
    if idempotency is not None:
        response = idempotency.render(result)
        await uow.idempotency.complete(idempotency.scope, idempotency.key, response)
