"""The Vaccine Inventory tab as a location manager and a healthcare provider would use it."""
from __future__ import annotations

from nicegui import ui
from nicegui.testing import User

from tests.factories import ADMIN, MANAGER, PROVIDER, location_id, log_in, lot_by_number, on_hand


def _stock_rows(user: User) -> list[dict]:
    return next(t for t in user.find(ui.table).elements if t.row_key == 'lot_id').rows


async def test_inventory_page_shows_lots_with_expiry_flags(demo, user: User) -> None:
    await log_in(user, MANAGER)
    await user.open('/inventory')
    rows = {r['lot_number']: r for r in _stock_rows(user)}
    assert rows['1805018']['flag'] == 'EXPIRED'
    assert rows['011J20A']['flag'] == 'Expires within 7 days'
    assert rows['EK5730']['flag'] == '' and rows['EK5730']['on_hand'] == 30
    await user.should_see('Adjust inventory')
    await user.should_see('Inventory Levels (daily count)')


async def test_inventory_manager_records_waste_with_a_reason(demo, user: User) -> None:
    await log_in(user, MANAGER)
    await user.open('/inventory')
    user.find(marker='adjust-lot').elements.pop().value = lot_by_number('EK5730')
    user.find(marker='adjust-doses').elements.pop().value = 6
    user.find(marker='adjust-save').click()
    await user.should_see('Choose why the doses were wasted.')
    user.find(marker='waste-reason').elements.pop().value = 'broken_vial'
    user.find(marker='adjust-save').click()
    await user.should_see('6 doses recorded as wasted.')
    assert on_hand(lot_by_number('EK5730')) == 24
    assert {r['lot_number']: r['on_hand'] for r in _stock_rows(user)}['EK5730'] == 24


async def test_inventory_daily_count_records_the_difference(demo, user: User) -> None:
    await log_in(user, MANAGER)
    await user.open('/inventory')
    user.find(marker='count-EK5730').elements.pop().value = 28
    await user.should_see('Difference: -2')
    user.find(marker='count-save').click()
    await user.should_see('1 difference(s) recorded as corrections')
    assert on_hand(lot_by_number('EK5730')) == 28


async def test_inventory_transfer_to_another_location(demo, user: User) -> None:
    await log_in(user, MANAGER)
    await user.open('/inventory')
    user.find(marker='adjust-lot').elements.pop().value = lot_by_number('1805018')
    user.find(marker='adjust-kind').elements.pop().value = 'transfer'
    user.find(marker='adjust-doses').elements.pop().value = 5
    user.find(marker='transfer-destination').elements.pop().value = location_id('DEMO2')
    user.find(marker='adjust-save').click()
    await user.should_see('has expired; record it as wasted')
    assert on_hand(lot_by_number('1805018')) == 10


async def test_inventory_provider_views_but_cannot_adjust(demo, user: User) -> None:
    await log_in(user, PROVIDER)
    await user.open('/inventory')
    assert len(_stock_rows(user)) == 3
    await user.should_not_see('Adjust inventory')
    await user.should_not_see('Inventory Levels (daily count)')


async def test_inventory_state_admin_chooses_a_location(demo, user: User) -> None:
    await log_in(user, ADMIN)
    await user.open('/inventory')
    assert len(_stock_rows(user)) == 3
    user.find(marker='inventory-location').elements.pop().value = location_id('DEMO2')
    assert _stock_rows(user) == []
    await user.should_not_see('Adjust inventory')
