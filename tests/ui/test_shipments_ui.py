"""Receiving a shipment through the Shipments tab (NiceGUI's simulated user)."""
from __future__ import annotations

from datetime import date, timedelta

from nicegui import ui
from nicegui.testing import User

from services.core.db import session_scope
from services.inventory import ledger
from tests.factories import MANAGER, PROVIDER, location_id, log_in


async def test_shipments_manager_receives_a_shipment_into_inventory(demo, user: User) -> None:
    await log_in(user, MANAGER)
    await user.open('/shipments')
    await user.should_see('Receive a shipment')
    rows = user.find(ui.table).elements.pop().rows
    assert {(r['product'], r['status']) for r in rows} == {('Pfizer-BioNTech COVID-19 Vaccine', 'Shipped'),
                                                            ('Moderna COVID-19 Vaccine', 'Allocated')}
    pfizer = next(r['id'] for r in rows if r['status'] == 'Shipped')
    user.find(marker='receive-shipment').elements.pop().value = pfizer
    expires = date.today() + timedelta(days=90)
    user.find(marker='lot-number-1').type('FL8095')
    user.find(marker='lot-expiration-1').type(f'{expires:%m/%d/%Y}')
    user.find(marker='lot-quantity-1').elements.pop().value = 1000
    user.find(marker='add-lot').click()
    user.find(marker='lot-number-2').type('EK5730')  # a lot already on record: no expiration needed
    user.find(marker='lot-quantity-2').elements.pop().value = 170
    user.find(marker='receive-button').click()
    await user.should_see('1170 doses added to inventory', retries=50)
    rows = user.find(ui.table).elements.pop().rows
    delivered = next(r for r in rows if r['id'] == pfizer)
    assert (delivered['status'], delivered['doses_received'], delivered['condition']) == ('Delivered', 1170, 'Good')
    with session_scope() as session:
        stock = {s.lot_number: s.on_hand for s in ledger.stock(session, location_id=location_id('DEMO1'))}
    assert stock['FL8095'] == 1000 and stock['EK5730'] == 30 + 170


async def test_shipments_receiving_refuses_a_new_lot_without_expiration(demo, user: User) -> None:
    await log_in(user, MANAGER)
    await user.open('/shipments')
    user.find(marker='lot-number-1').type('NEW123')
    user.find(marker='lot-quantity-1').elements.pop().value = 200
    user.find(marker='receive-button').click()
    await user.should_see('Lot NEW123 is new: enter its expiration date.')


async def test_shipments_provider_sees_shipments_but_cannot_receive(demo, user: User) -> None:
    await log_in(user, PROVIDER)
    await user.open('/shipments')
    await user.should_see('Shipments')
    assert len(user.find(ui.table).elements.pop().rows) == 2
    await user.should_not_see('Receive a shipment')
