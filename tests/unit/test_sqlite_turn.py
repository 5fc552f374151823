"""The SQLite writer's turn: one holder, a free turn taken at once, waiters in order."""

from __future__ import annotations

import asyncio

import pytest

from nerava.adapters.sqlite.turn import Turn


async def test_a_free_turn_is_taken_at_once_and_a_held_one_is_not() -> None:
    turn = Turn()
    assert turn.try_take()
    assert turn.held
    assert not turn.try_take()
    turn.give_back()
    assert not turn.held


async def test_giving_back_a_turn_nobody_holds_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        Turn().give_back()


async def test_waiters_take_the_turn_in_the_order_they_came() -> None:
    turn = Turn()
    turn.try_take()
    order: list[int] = []

    async def wait(n: int) -> None:
        await turn.take(5)
        order.append(n)
        await asyncio.sleep(0)  # hold it across a yield
        turn.give_back()

    tasks = [asyncio.create_task(wait(n)) for n in range(5)]
    await asyncio.sleep(0)
    turn.give_back()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4]
    assert not turn.held


async def test_a_newcomer_takes_a_free_turn_before_a_woken_waiter_runs() -> None:
    turn = Turn()
    turn.try_take()
    waiter = asyncio.create_task(turn.take(5))
    await asyncio.sleep(0)
    turn.give_back()  # wakes the waiter, which has not run yet
    assert turn.try_take()  # the newcomer is not sent behind it
    turn.give_back()
    await waiter  # the waiter then finds it free
    assert turn.held


async def test_a_waiter_that_finds_the_turn_taken_is_handed_it_next() -> None:
    turn, first, second = await _held_with_two_waiters()
    turn.give_back()  # wakes the first
    assert turn.try_take()  # a newcomer holds it across the first's wake-up
    await asyncio.sleep(0)
    assert not first.done()
    turn.give_back()  # handed to the first, never free in between
    assert turn.held
    assert not turn.try_take()
    await asyncio.sleep(0)
    assert first.done()
    assert not second.done()
    turn.give_back()
    await second
    turn.give_back()
    assert not turn.held


async def test_a_holder_taking_the_turn_back_at_once_starves_no_waiter() -> None:
    # A holder that yields while holding (a commit waiting for the disk) and
    # takes the turn again as soon as it gave it back.
    turn = Turn()
    stop = asyncio.Event()

    async def busy_holder() -> None:
        while not stop.is_set():
            if not turn.try_take():
                await turn.take(5)
            await asyncio.sleep(0.001)
            turn.give_back()

    async def waiter() -> None:
        await turn.take(1)
        turn.give_back()

    holder = asyncio.create_task(busy_holder())
    await asyncio.sleep(0.01)
    await asyncio.wait_for(asyncio.gather(*(waiter() for _ in range(3))), 1)
    stop.set()
    await holder


async def test_a_waiter_handed_the_turn_but_cancelled_passes_it_on() -> None:
    turn, first, second = await _held_with_two_waiters()
    turn.give_back()
    turn.try_take()  # the first loses the free turn once ...
    await asyncio.sleep(0)
    turn.give_back()  # ... so it is handed the turn ...
    first.cancel()  # ... and cancelled before it runs
    await asyncio.wait_for(second, 1)
    assert first.cancelled()
    assert turn.held


async def test_a_waiter_gives_up_after_its_timeout_and_leaves_the_queue() -> None:
    turn = Turn()
    turn.try_take()
    with pytest.raises(TimeoutError):
        await turn.take(0.01)
    turn.give_back()
    assert turn.try_take()  # no stale waiter was woken in its place
    turn.give_back()


async def test_a_woken_waiter_cancelled_before_it_ran_passes_the_turn_on() -> None:
    turn, first, second = await _held_with_two_waiters()
    turn.give_back()  # wakes the first ...
    first.cancel()  # ... which is cancelled before it runs
    await asyncio.wait_for(second, 1)  # the second is woken instead
    assert first.cancelled()
    assert turn.held


async def test_a_cancelled_waiter_leaves_the_turn_to_the_others() -> None:
    turn, first, second = await _held_with_two_waiters()
    first.cancel()
    await asyncio.sleep(0)
    turn.give_back()
    await asyncio.wait_for(second, 1)
    assert turn.held


async def test_without_a_timeout_a_waiter_waits_as_long_as_it_takes() -> None:
    turn = Turn()
    turn.try_take()
    waiter = asyncio.create_task(turn.take(None))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    turn.give_back()
    await asyncio.wait_for(waiter, 1)


Waiter = asyncio.Task[None]


async def _held_with_two_waiters() -> tuple[Turn, Waiter, Waiter]:
    """A held turn with two waiters queued, the first ahead of the second."""
    turn = Turn()
    turn.try_take()
    first = asyncio.create_task(turn.take(5))
    second = asyncio.create_task(turn.take(5))
    await asyncio.sleep(0)
    return turn, first, second
