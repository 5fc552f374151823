"""The SessionRepository contract."""

from __future__ import annotations

from nerava.ports.storage import Database
from tests.contract.examples import a_session, cancelled, stopped


async def test_an_added_session_reads_back_equal(database: Database) -> None:
    session = a_session()

    async with database.unit_of_work() as uow:
        holder = await uow.sessions.add(session)
        await uow.commit()

    async with database.unit_of_work(readonly=True) as uow:
        assert await uow.sessions.get(session.session_id) == session
    assert holder is None


async def test_a_second_active_session_of_a_user_is_refused_with_the_first_id(
    database: Database,
) -> None:
    async with database.unit_of_work() as uow:
        await uow.sessions.add(a_session("ses_1"))
        await uow.commit()

    async with database.unit_of_work() as uow:
        holder = await uow.sessions.add(a_session("ses_2"))
        await uow.commit()

    async with database.unit_of_work(readonly=True) as uow:
        assert await uow.sessions.get("ses_2") is None
    assert holder == "ses_1"


async def test_the_refusal_holds_inside_one_unit_of_work(database: Database) -> None:
    async with database.unit_of_work() as uow:
        first = await uow.sessions.add(a_session("ses_1"))
        second = await uow.sessions.add(a_session("ses_2"))
        await uow.commit()

    assert (first, second) == (None, "ses_1")


async def test_users_each_have_their_own_active_session(database: Database) -> None:
    async with database.unit_of_work() as uow:
        first = await uow.sessions.add(a_session("ses_1", user_id="driver-1"))
        second = await uow.sessions.add(a_session("ses_2", user_id="driver-2"))
        await uow.commit()

    assert (first, second) == (None, None)


async def test_a_user_may_start_again_once_stopped(database: Database) -> None:
    async with database.unit_of_work() as uow:
        await uow.sessions.add(a_session("ses_1"))
        await uow.sessions.update(stopped(a_session("ses_1")))
        await uow.commit()

    async with database.unit_of_work() as uow:
        holder = await uow.sessions.add(a_session("ses_2"))
        await uow.commit()

    assert holder is None


async def test_a_user_may_start_again_once_cancelled(database: Database) -> None:
    async with database.unit_of_work() as uow:
        await uow.sessions.add(a_session("ses_1"))
        await uow.sessions.update(cancelled(a_session("ses_1")))
        await uow.commit()

    async with database.unit_of_work() as uow:
        holder = await uow.sessions.add(a_session("ses_2"))
        await uow.commit()

    assert holder is None


async def test_a_stopped_session_reads_back_with_its_reward(database: Database) -> None:
    session = a_session()
    async with database.unit_of_work() as uow:
        await uow.sessions.add(session)
        await uow.commit()

    async with database.unit_of_work() as uow:
        await uow.sessions.update(stopped(session))
        await uow.commit()

    async with database.unit_of_work(readonly=True) as uow:
        assert await uow.sessions.get(session.session_id) == stopped(session)


async def test_a_cancelled_session_reads_back_with_its_reason(
    database: Database,
) -> None:
    session = a_session()
    async with database.unit_of_work() as uow:
        await uow.sessions.add(session)
        await uow.sessions.update(cancelled(session))
        await uow.commit()

    async with database.unit_of_work(readonly=True) as uow:
        assert await uow.sessions.get(session.session_id) == cancelled(session)


async def test_captured_terms_keep_their_exact_prices(database: Database) -> None:
    session = a_session()
    async with database.unit_of_work() as uow:
        await uow.sessions.add(session)
        await uow.commit()

    async with database.unit_of_work(readonly=True) as uow:
        stored = await uow.sessions.get(session.session_id)

    assert stored is not None
    assert [str(w.multiplier) for w in stored.terms.windows] == [
        str(w.multiplier) for w in session.terms.windows
    ]


async def test_active_for_user_finds_the_active_session(database: Database) -> None:
    async with database.unit_of_work() as uow:
        await uow.sessions.add(a_session("ses_1", user_id="driver-1"))
        await uow.sessions.add(a_session("ses_2", user_id="driver-2"))
        await uow.commit()

    async with database.unit_of_work(readonly=True) as uow:
        active = await uow.sessions.active_for_user("driver-2")

    assert active == a_session("ses_2", user_id="driver-2")


async def test_a_stopped_session_is_no_longer_active(database: Database) -> None:
    async with database.unit_of_work() as uow:
        await uow.sessions.add(a_session())
        await uow.sessions.update(stopped(a_session()))
        await uow.commit()

    async with database.unit_of_work(readonly=True) as uow:
        assert await uow.sessions.active_for_user("driver-1") is None


async def test_a_user_without_sessions_has_no_active_one(database: Database) -> None:
    async with database.unit_of_work(readonly=True) as uow:
        assert await uow.sessions.active_for_user("nobody") is None


async def test_an_unknown_session_is_none(database: Database) -> None:
    async with database.unit_of_work(readonly=True) as uow:
        assert await uow.sessions.get("ses_unknown") is None


async def test_getting_for_update_returns_the_session(database: Database) -> None:
    async with database.unit_of_work() as uow:
        await uow.sessions.add(a_session())
        await uow.commit()

    async with database.unit_of_work() as uow:
        locked = await uow.sessions.get("ses_1", for_update=True)
        missing = await uow.sessions.get("ses_unknown", for_update=True)

    assert (locked, missing) == (a_session(), None)


async def test_a_read_only_unit_may_ask_for_a_lock_and_just_reads(
    database: Database,
) -> None:
    async with database.unit_of_work() as uow:
        await uow.sessions.add(a_session())
        await uow.commit()

    async with database.unit_of_work(readonly=True) as uow:
        assert await uow.sessions.get("ses_1", for_update=True) == a_session()
