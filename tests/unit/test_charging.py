"""Starting, stopping and cancelling sessions through the use cases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from nerava.adapters.memory import FixedClock
from nerava.domain.errors import (
    Forbidden,
    ImplausibleEnergy,
    SessionAlreadyActive,
    SessionAlreadyStopped,
    SessionNotFound,
    ValidationFailed,
)
from nerava.domain.sessions import ChargingRules, CreditStatus, SessionState
from nerava.domain.usecases import (
    Catalog,
    Charging,
    Credits,
    MeterReading,
    StartCharge,
    StopCharge,
    Wallets,
)
from nerava.domain.windows import Window
from tests.unit.conftest import ADMIN, HUB_KEY

GREEN_HOUR = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)
SOLAR = datetime(2026, 6, 1, 11, 0, tzinfo=UTC)


async def start_and_stop(
    charging: Charging, at: datetime, kwh: str, user: str = "driver-1"
) -> tuple[str, int]:
    session = await charging.start(
        StartCharge(user_id=user, hub_id="hub-1", now=at), actor=HUB_KEY
    )
    stopped = await charging.stop(
        StopCharge(
            session_id=session.session_id, kwh=Decimal(kwh), now=at + timedelta(hours=1)
        ),
        actor=HUB_KEY,
    )
    assert stopped.reward is not None
    return session.session_id, stopped.reward.total_cents


async def test_fifteen_and_a_half_kwh_in_green_hour_earn_248_plus_cofund(
    charging: Charging,
) -> None:
    _, total = await start_and_stop(charging, GREEN_HOUR, "15.5")

    assert total == 248 + 75


async def test_eight_and_a_half_kwh_in_solar_surplus_earn_101_in_all(
    charging: Charging,
) -> None:
    _, total = await start_and_stop(charging, SOLAR, "8.5")

    assert total == 101


async def test_a_start_captures_the_window_active_at_its_start(
    charging: Charging,
) -> None:
    session = await charging.start(
        StartCharge(user_id="u", hub_id="hub-1", now=GREEN_HOUR), actor=HUB_KEY
    )

    assert session.active_window_id == "green_hour"
    assert session.state is SessionState.ACTIVE


async def test_a_second_start_for_the_same_user_is_refused_naming_the_active_one(
    charging: Charging,
) -> None:
    first = await charging.start(
        StartCharge(user_id="u", hub_id="hub-1", now=SOLAR), actor=HUB_KEY
    )

    with pytest.raises(SessionAlreadyActive) as refused:
        await charging.start(
            StartCharge(user_id="u", hub_id="hub-2", now=SOLAR), actor=ADMIN
        )

    assert refused.value.session_id == first.session_id


async def test_a_cancelled_session_lets_the_user_start_again(
    charging: Charging,
) -> None:
    first = await charging.start(
        StartCharge(user_id="u", hub_id="hub-1", now=SOLAR), actor=HUB_KEY
    )

    await charging.cancel(first.session_id, "lost the stop", actor=HUB_KEY, now=SOLAR)
    again = await charging.start(
        StartCharge(user_id="u", hub_id="hub-1", now=SOLAR), actor=HUB_KEY
    )

    assert again.session_id != first.session_id


async def test_cancelling_twice_returns_the_same_session(charging: Charging) -> None:
    started = await charging.start(
        StartCharge(user_id="u", hub_id="hub-1", now=SOLAR), actor=HUB_KEY
    )

    once = await charging.cancel(started.session_id, "x", actor=HUB_KEY, now=SOLAR)
    twice = await charging.cancel(
        started.session_id, "x", actor=HUB_KEY, now=SOLAR + timedelta(minutes=1)
    )

    assert once == twice
    assert once.state is SessionState.CANCELLED


async def test_a_stopped_session_cannot_be_cancelled(charging: Charging) -> None:
    session_id, _ = await start_and_stop(charging, SOLAR, "1")

    with pytest.raises(SessionAlreadyStopped):
        await charging.cancel(session_id, "late", actor=HUB_KEY)


async def test_the_same_stop_again_replays_without_a_second_credit(
    charging: Charging, credits: Credits, wallets: Wallets
) -> None:
    session = await charging.start(
        StartCharge(user_id="u", hub_id="hub-1", now=SOLAR), actor=HUB_KEY
    )
    stop = StopCharge(
        session_id=session.session_id,
        kwh=Decimal("8.5"),
        now=SOLAR + timedelta(hours=1),
    )

    first = await charging.stop(stop, actor=HUB_KEY)
    second = await charging.stop(stop, actor=HUB_KEY)
    await credits.credit(session.session_id)
    await credits.credit(session.session_id)

    assert first == second
    assert (await wallets.view("u")).balance_cents == 101


async def test_a_second_stop_with_other_kwh_is_refused(charging: Charging) -> None:
    session_id, _ = await start_and_stop(charging, SOLAR, "8.5")

    with pytest.raises(SessionAlreadyStopped):
        await charging.stop(
            StopCharge(session_id=session_id, kwh=Decimal("8.6"), now=SOLAR),
            actor=HUB_KEY,
        )


async def test_kwh_is_rounded_to_watt_hours_before_it_is_compared(
    charging: Charging,
) -> None:
    session_id, _ = await start_and_stop(charging, SOLAR, "8.5")

    again = await charging.stop(
        StopCharge(session_id=session_id, kwh=Decimal("8.5004"), now=SOLAR),
        actor=HUB_KEY,
    )

    assert again.wh == 8500


async def test_thirty_concurrent_identical_stops_credit_once(
    sync_charging: Charging, wallets: Wallets
) -> None:
    session = await sync_charging.start(
        StartCharge(user_id="u", hub_id="hub-1", now=SOLAR), actor=HUB_KEY
    )
    stop = StopCharge(
        session_id=session.session_id,
        kwh=Decimal("8.5"),
        now=SOLAR + timedelta(hours=1),
    )

    results = await asyncio.gather(
        *(sync_charging.stop(stop, actor=HUB_KEY) for _ in range(30))
    )

    assert len({r.balance_at_stop_cents for r in results}) == 1
    assert (await wallets.view("u")).balance_cents == 101


async def test_sync_credit_returns_the_balance_after_the_credit(
    sync_charging: Charging,
) -> None:
    session = await sync_charging.start(
        StartCharge(user_id="u", hub_id="hub-1", now=SOLAR), actor=HUB_KEY
    )

    stopped = await sync_charging.stop(
        StopCharge(session_id=session.session_id, kwh=Decimal("8.5"), now=SOLAR),
        actor=HUB_KEY,
    )

    assert stopped.credit_status_at_stop is CreditStatus.CREDITED
    assert stopped.balance_at_stop_cents == 101


async def test_async_credit_is_pending_until_the_processor_applies_it(
    charging: Charging, credits: Credits, wallets: Wallets
) -> None:
    session_id, _ = await start_and_stop(charging, SOLAR, "8.5", user="u")

    before = await wallets.view("u")
    view_before = await charging.get(session_id, actor=HUB_KEY)
    applied = await credits.credit(session_id)
    after = await wallets.view("u")
    view_after = await charging.get(session_id, actor=HUB_KEY)

    assert (before.pending_cents, before.balance_cents) == (101, 0)
    assert view_before.credit_status is CreditStatus.PENDING
    assert applied
    assert (after.pending_cents, after.balance_cents) == (0, 101)
    assert view_after.credit_status is CreditStatus.CREDITED


async def test_a_stop_before_the_start_is_refused_on_field_at(
    charging: Charging,
) -> None:
    session = await charging.start(
        StartCharge(user_id="u", hub_id="hub-1", now=SOLAR), actor=HUB_KEY
    )

    with pytest.raises(ValidationFailed) as refused:
        await charging.stop(
            StopCharge(
                session_id=session.session_id,
                kwh=Decimal(1),
                now=SOLAR - timedelta(seconds=1),
            ),
            actor=HUB_KEY,
        )

    assert refused.value.errors[0].field == "at"


async def test_a_stop_at_the_very_instant_of_the_start_is_allowed(
    charging: Charging,
) -> None:
    session = await charging.start(
        StartCharge(user_id="u", hub_id="hub-1", now=SOLAR), actor=HUB_KEY
    )

    stopped = await charging.stop(
        StopCharge(session_id=session.session_id, kwh=Decimal(1), now=SOLAR),
        actor=HUB_KEY,
    )

    assert stopped.stopped_at == SOLAR


@pytest.mark.parametrize("kwh", ["0", "0.0004", "-1", "1000.001", "NaN", "Infinity"])
async def test_energy_outside_the_range_is_refused(
    charging: Charging, kwh: str
) -> None:
    session = await charging.start(
        StartCharge(user_id="u", hub_id="hub-1", now=SOLAR), actor=HUB_KEY
    )

    with pytest.raises(ValidationFailed) as refused:
        await charging.stop(
            StopCharge(session_id=session.session_id, kwh=Decimal(kwh), now=SOLAR),
            actor=HUB_KEY,
        )

    assert refused.value.errors[0].field == "kwh_consumed"


async def test_more_energy_than_the_power_limit_allows_is_implausible(
    database: object, clock: FixedClock
) -> None:
    from nerava.adapters.memory import MemoryDatabase, UuidIds

    assert isinstance(database, MemoryDatabase)
    charging = Charging(
        database.unit_of_work,
        clock,
        UuidIds(),
        ChargingRules(max_charge_power_w=11_000),
    )
    session = await charging.start(
        StartCharge(user_id="u", hub_id="hub-1", now=SOLAR), actor=HUB_KEY
    )
    # One hour at 11 kW, plus the minute of grace, is 11.183 kWh at most.
    stop_at = SOLAR + timedelta(hours=1)

    with pytest.raises(ImplausibleEnergy):
        await charging.stop(
            StopCharge(
                session_id=session.session_id, kwh=Decimal("11.19"), now=stop_at
            ),
            actor=HUB_KEY,
        )
    stopped = await charging.stop(
        StopCharge(session_id=session.session_id, kwh=Decimal("11.18"), now=stop_at),
        actor=HUB_KEY,
    )

    assert stopped.wh == 11_180


async def test_an_event_time_too_far_ahead_or_too_old_is_refused(
    charging: Charging,
) -> None:
    for occurred_at in (SOLAR + timedelta(minutes=6), SOLAR - timedelta(hours=169)):
        with pytest.raises(ValidationFailed) as refused:
            await charging.start(
                StartCharge(
                    user_id="u", hub_id="h", occurred_at=occurred_at, now=SOLAR
                ),
                actor=ADMIN,
            )
        assert refused.value.errors[0].field == "occurred_at"


async def test_a_buffered_event_pays_by_the_time_the_hub_saw_it(
    charging: Charging,
) -> None:
    session = await charging.start(
        StartCharge(
            user_id="u",
            hub_id="hub-1",
            occurred_at=GREEN_HOUR,
            now=GREEN_HOUR + timedelta(hours=5),
        ),
        actor=HUB_KEY,
    )

    assert session.started_at == GREEN_HOUR
    assert session.active_window_id == "green_hour"


async def test_a_key_limited_to_other_hubs_may_not_touch_a_session(
    charging: Charging,
) -> None:
    session = await charging.start(
        StartCharge(user_id="u", hub_id="hub-2", now=SOLAR), actor=ADMIN
    )

    with pytest.raises(Forbidden):
        await charging.stop(
            StopCharge(session_id=session.session_id, kwh=Decimal(1), now=SOLAR),
            actor=HUB_KEY,
        )
    with pytest.raises(Forbidden):
        await charging.start(
            StartCharge(user_id="v", hub_id="hub-2", now=SOLAR), actor=HUB_KEY
        )


async def test_an_unknown_session_is_not_found(charging: Charging) -> None:
    with pytest.raises(SessionNotFound):
        await charging.stop(
            StopCharge(session_id="ses_nope", kwh=Decimal(1)), actor=HUB_KEY
        )


@pytest.mark.parametrize("user_id", ["", "a b", "x" * 129, "dri/ver", "é"])
async def test_a_bad_user_id_is_refused(charging: Charging, user_id: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await charging.start(StartCharge(user_id=user_id, hub_id="h"), actor=ADMIN)

    assert refused.value.errors[0].field == "user_id"


async def test_editing_a_window_later_never_changes_a_started_session(
    charging: Charging, catalog: Catalog, credits: Credits
) -> None:
    session = await charging.start(
        StartCharge(user_id="u", hub_id="hub-1", now=GREEN_HOUR), actor=HUB_KEY
    )
    await catalog.put(
        Window(
            id="green_hour",
            label="Green Hour",
            start_local=time(14),
            end_local=time(17),
            price_per_kwh=Decimal("9"),
            multiplier=Decimal("100"),
        )
    )
    await catalog.delete("solar_surplus")

    stopped = await charging.stop(
        StopCharge(session_id=session.session_id, kwh=Decimal("15.5"), now=GREEN_HOUR),
        actor=HUB_KEY,
    )

    assert stopped.reward is not None
    assert stopped.reward.grid_cents == 248


async def test_meter_values_out_of_order_are_refused_naming_the_reading(
    database: object, clock: FixedClock
) -> None:
    from nerava.adapters.memory import MemoryDatabase, UuidIds
    from nerava.domain.rewards import RewardPolicy

    assert isinstance(database, MemoryDatabase)
    charging = Charging(
        database.unit_of_work,
        clock,
        UuidIds(),
        ChargingRules(policy=RewardPolicy.PRORATED),
    )
    session = await charging.start(
        StartCharge(user_id="u", hub_id="hub-1", now=SOLAR), actor=HUB_KEY
    )
    readings = (
        MeterReading(SOLAR + timedelta(minutes=30), Decimal(2)),
        MeterReading(SOLAR + timedelta(minutes=20), Decimal(3)),
    )

    with pytest.raises(ValidationFailed) as refused:
        await charging.stop(
            StopCharge(
                session_id=session.session_id,
                kwh=Decimal(4),
                meter_values=readings,
                now=SOLAR + timedelta(hours=1),
            ),
            actor=HUB_KEY,
        )

    assert refused.value.errors[0].field.startswith("meter_values[1]")
