"""The WindowCatalog contract."""

from __future__ import annotations

from decimal import Decimal

from nerava.domain.windows import default_windows
from nerava.ports.storage import Database
from tests.contract.examples import a_window


async def test_a_new_catalog_holds_the_two_default_windows(database: Database) -> None:
    async with database.unit_of_work(readonly=True) as uow:
        windows = await uow.windows.list()

    assert windows == sorted(default_windows(), key=lambda w: w.id)


async def test_the_default_windows_keep_their_exact_terms(database: Database) -> None:
    async with database.unit_of_work(readonly=True) as uow:
        solar = await uow.windows.get("solar_surplus")
        green = await uow.windows.get("green_hour")

    assert solar is not None
    assert green is not None
    assert (str(solar.price_per_kwh), str(solar.multiplier)) == ("0.03", "1.0")
    assert (str(green.price_per_kwh), str(green.multiplier)) == ("0.08", "2.0")


async def test_put_creates_a_window_and_says_so(database: Database) -> None:
    window = a_window()

    async with database.unit_of_work() as uow:
        created = await uow.windows.put(window)
        await uow.commit()

    async with database.unit_of_work(readonly=True) as uow:
        assert await uow.windows.get(window.id) == window
    assert created is True


async def test_a_window_keeps_every_field_exactly(database: Database) -> None:
    window = a_window(price_per_kwh=Decimal("0.1250"), multiplier=Decimal("1.50"))

    async with database.unit_of_work() as uow:
        await uow.windows.put(window)
        await uow.commit()
    async with database.unit_of_work(readonly=True) as uow:
        stored = await uow.windows.get(window.id)

    assert stored == window
    assert str(stored.price_per_kwh) == "0.1250"
    assert str(stored.multiplier) == "1.50"


async def test_put_replaces_a_window_and_says_so(database: Database) -> None:
    async with database.unit_of_work() as uow:
        await uow.windows.put(a_window())
        await uow.commit()
    replacement = a_window(label="Night Owl II", hub_ids=(), days=(7,))

    async with database.unit_of_work() as uow:
        created = await uow.windows.put(replacement)
        await uow.commit()

    async with database.unit_of_work(readonly=True) as uow:
        assert await uow.windows.get(replacement.id) == replacement
    assert created is False


async def test_a_default_window_can_be_replaced(database: Database) -> None:
    cheaper = a_window("solar_surplus", price_per_kwh=Decimal("0.01"))

    async with database.unit_of_work() as uow:
        created = await uow.windows.put(cheaper)
        await uow.commit()

    async with database.unit_of_work(readonly=True) as uow:
        assert await uow.windows.get("solar_surplus") == cheaper
    assert created is False


async def test_windows_are_listed_by_id_in_code_point_order(database: Database) -> None:
    ids = ["zeta", "a-b", "a_b", "ab", "A", "a0", "b"]
    async with database.unit_of_work() as uow:
        for window_id in ids:
            await uow.windows.put(a_window(window_id))
        await uow.commit()

    async with database.unit_of_work(readonly=True) as uow:
        listed = [w.id for w in await uow.windows.list()]

    assert listed == sorted([*ids, "green_hour", "solar_surplus"])


async def test_an_unknown_window_is_none(database: Database) -> None:
    async with database.unit_of_work(readonly=True) as uow:
        assert await uow.windows.get("nowhere") is None


async def test_delete_removes_a_window(database: Database) -> None:
    async with database.unit_of_work() as uow:
        deleted = await uow.windows.delete("green_hour")
        await uow.commit()

    async with database.unit_of_work(readonly=True) as uow:
        assert await uow.windows.get("green_hour") is None
        assert [w.id for w in await uow.windows.list()] == ["solar_surplus"]
    assert deleted is True


async def test_deleting_an_unknown_window_says_there_was_none(
    database: Database,
) -> None:
    async with database.unit_of_work() as uow:
        deleted = await uow.windows.delete("nowhere")
        await uow.commit()

    assert deleted is False


async def test_every_put_and_delete_raises_the_version(database: Database) -> None:
    async with database.unit_of_work(readonly=True) as uow:
        versions = [await uow.windows.version()]

    for change in ("put", "put", "delete"):
        async with database.unit_of_work() as uow:
            if change == "put":
                await uow.windows.put(a_window())
            else:
                await uow.windows.delete("night_owl")
            await uow.commit()
        async with database.unit_of_work(readonly=True) as uow:
            versions.append(await uow.windows.version())

    assert versions == sorted(set(versions))
    assert len(versions) == 4


async def test_deleting_nothing_leaves_the_version(database: Database) -> None:
    async with database.unit_of_work() as uow:
        before = await uow.windows.version()
        await uow.windows.delete("nowhere")
        await uow.commit()

    async with database.unit_of_work(readonly=True) as uow:
        assert await uow.windows.version() == before


async def test_a_rolled_back_put_leaves_windows_and_version(database: Database) -> None:
    async with database.unit_of_work(readonly=True) as uow:
        before = (await uow.windows.list(), await uow.windows.version())

    async with database.unit_of_work() as uow:
        await uow.windows.put(a_window())
        await uow.windows.delete("green_hour")

    async with database.unit_of_work(readonly=True) as uow:
        assert (await uow.windows.list(), await uow.windows.version()) == before
