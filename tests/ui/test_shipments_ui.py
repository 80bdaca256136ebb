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


async def test_only_shipped_shipments_can_be_chosen_for_receipt(demo, user: User) -> None:
    await log_in(user, MANAGER)
    await user.open('/shipments')
    choices = user.find(marker='receive-shipment').elements.pop().options
    assert len(choices) == 1 and all('Moderna' not in label for label in choices.values())  # Moderna: allocated


async def test_excursion_doses_wait_in_quarantine_until_the_manager_releases_them(demo, user: User) -> None:
    await log_in(user, MANAGER)
    await user.open('/shipments')
    user.find(marker='lot-number-1').type('WARM22')
    user.find(marker='lot-expiration-1').type(f'{date.today() + timedelta(days=90):%m/%d/%Y}')
    user.find(marker='lot-quantity-1').elements.pop().value = 600
    user.find(marker='temperature-excursion').click()
    user.find(marker='receive-button').click()
    await user.should_see('600 doses are in quarantine, not in usable stock', retries=50)
    with session_scope() as session:
        assert 'WARM22' not in {s.lot_number for s in ledger.stock(session, location_id=location_id('DEMO1'))}

    await user.open('/inventory')
    await user.should_see('Quarantine: do not use')
    assert 'WARM22' not in {row['lot_number'] for row in user.find(marker='stock-table').elements.pop().rows}
    user.find(marker='quarantine-release-WARM22').click()
    await user.should_see('Say why')  # the decision needs its reason
    user.find(marker='quarantine-reason-WARM22').type('Pfizer case 12345: viable')
    user.find(marker='quarantine-release-WARM22').click()
    await user.should_see('600 doses released into stock.', retries=50)
    await user.should_not_see('Quarantine: do not use')
    assert 'WARM22' in {row['lot_number'] for row in user.find(marker='stock-table').elements.pop().rows}


async def test_a_provider_sees_quarantined_doses_but_cannot_decide(demo, user: User) -> None:
    from services.inventory import quarantine, shipments
    from services.inventory.shipments import ReceivedLot
    from tests.factories import ADMIN, principal
    shipment_id = next(s.id for s in shipments.list_shipments(principal=principal(ADMIN)) if s.status == 'shipped')
    shipments.receive(principal=principal(MANAGER), shipment_id=shipment_id, condition='good',
                      temperature_excursion=True,
                      lots=[ReceivedLot('WARM33', 60, date.today() + timedelta(days=90))])
    assert len(quarantine.held(principal=principal(PROVIDER), location_id=location_id('DEMO1'))) == 1
    await log_in(user, PROVIDER)
    await user.open('/inventory')
    await user.should_see('Quarantine: do not use')
    await user.should_see('lot WARM33')
    await user.should_not_see('Release (viable)')
