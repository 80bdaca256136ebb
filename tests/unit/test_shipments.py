"""Allocation against storage capability, and receiving a shipment into the ledger."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import select

from models.inventory import LedgerEntry
from services.core.db import session_scope
from services.core.errors import NotAllowed, NotFound, ServiceError, ValidationFailed
from services.inventory import ledger, quarantine, shipments
from services.inventory.shipments import ReceivedLot
from tests.factories import ADMIN, MANAGER, PROVIDER, location_id, manager_of, principal, product_id


def test_shipments_allocation_is_checked_against_storage(demo) -> None:
    admin = principal(ADMIN)
    with pytest.raises(ServiceError, match='cannot store Pfizer-BioNTech.*Ultra-cold'):
        shipments.allocate(principal=admin, location_id=location_id('DEMO2'), product_id=product_id('208'), doses=600)
    with pytest.raises(ServiceError, match='cannot store Moderna'):
        shipments.allocate(principal=admin, location_id=location_id('DEMO2'), product_id=product_id('207'), doses=100)
    shipment = shipments.allocate(principal=admin, location_id=location_id('DEMO2'), product_id=product_id('212'),
                                  doses=50)
    assert (shipment.status, shipment.doses_expected, shipment.location_code) == ('allocated', 50, 'DEMO2')
    with pytest.raises(ValidationFailed, match='vials of 6'):
        shipments.allocate(principal=admin, location_id=location_id('DEMO1'), product_id=product_id('208'), doses=100)


def test_shipments_only_the_state_allocates(demo) -> None:
    with pytest.raises(NotAllowed):
        shipments.allocate(principal=principal(MANAGER), location_id=location_id('DEMO1'),
                           product_id=product_id('212'), doses=5)


def test_shipments_receiving_adds_each_lot_to_inventory(demo) -> None:
    admin, manager = principal(ADMIN), principal(MANAGER)
    demo1 = location_id('DEMO1')
    shipment = shipments.allocate(principal=admin, location_id=demo1, product_id=product_id('207'), doses=300)
    shipments.mark_shipped(principal=admin, shipment_id=shipment.id, tracking_number='1Z1')
    expires = date.today() + timedelta(days=60)
    received = shipments.receive(principal=manager, shipment_id=shipment.id, condition='good',
                                 temperature_excursion=False,
                                 lots=[ReceivedLot('030m20a', 200, expires), ReceivedLot('011J20A', 100)])
    assert (received.status, received.doses_received, received.condition_on_arrival) == ('delivered', 300, 'good')
    with session_scope() as session:
        stock = {s.lot_number: s.on_hand for s in ledger.stock(session, location_id=demo1)}
        receipts = session.exec(select(LedgerEntry).where(LedgerEntry.reference == f'shipment:{shipment.id}')).all()
    assert stock['030M20A'] == 200 and stock['011J20A'] == 134  # 34 left from the demo history + 100
    assert sorted(r.change for r in receipts) == [100, 200] and {r.actor_email for r in receipts} == {MANAGER}
    with pytest.raises(ServiceError, match='already been received'):
        shipments.receive(principal=manager, shipment_id=shipment.id, condition='good', temperature_excursion=False,
                          lots=[ReceivedLot('X1', 1, expires)])


def test_shipments_receiving_rules(demo) -> None:
    admin, manager = principal(ADMIN), principal(MANAGER)
    shipment = shipments.allocate(principal=admin, location_id=location_id('DEMO1'), product_id=product_id('212'),
                                  doses=20)
    with pytest.raises(ServiceError, match='not been shipped yet'):  # still at the depot
        shipments.receive(principal=manager, shipment_id=shipment.id, condition='good', temperature_excursion=False,
                          lots=[ReceivedLot('NEWLOT', 20, date.today() + timedelta(days=9))])
    shipments.mark_shipped(principal=admin, shipment_id=shipment.id)
    with pytest.raises(ValidationFailed, match='new: enter its expiration'):
        shipments.receive(principal=manager, shipment_id=shipment.id, condition='good', temperature_excursion=False,
                          lots=[ReceivedLot('NEWLOT', 20)])
    with pytest.raises(ValidationFailed, match='condition'):
        shipments.receive(principal=manager, shipment_id=shipment.id, condition='', temperature_excursion=False,
                          lots=[ReceivedLot('NEWLOT', 20, date.today())])
    with pytest.raises(NotAllowed):
        shipments.receive(principal=principal(PROVIDER), shipment_id=shipment.id, condition='good',
                          temperature_excursion=False,
                          lots=[ReceivedLot('NEWLOT', 20, date.today() + timedelta(days=9))])
    received = shipments.receive(principal=manager, shipment_id=shipment.id, condition='damaged',
                                 temperature_excursion=True,
                                 lots=[ReceivedLot('NEWLOT', 15, date.today() + timedelta(days=9))],
                                 notes='Data logger showed 12 °C for 3 hours')
    assert received.temperature_excursion and (received.doses_received, received.doses_quarantined) == (15, 15)


def test_shipments_a_manager_cannot_receive_another_locations_shipment(demo) -> None:
    shipment = shipments.allocate(principal=principal(ADMIN), location_id=location_id('DEMO2'),
                                  product_id=product_id('212'),
                                  doses=10)
    shipments.mark_shipped(principal=principal(ADMIN), shipment_id=shipment.id)
    with pytest.raises(NotAllowed):
        shipments.receive(principal=principal(MANAGER), shipment_id=shipment.id, condition='good',
                          temperature_excursion=False,
                          lots=[ReceivedLot('L9', 10, date.today() + timedelta(days=30))])
    assert [s.location_code for s in shipments.list_shipments(principal=principal(MANAGER))] == ['DEMO1', 'DEMO1']
    assert len(shipments.list_shipments(principal=principal(ADMIN))) == 4


def _excursion_shipment(doses: int = 30) -> tuple[int, int]:
    """A shipment of Janssen received at DEMO1 with a temperature excursion; (shipment id, lot id)."""
    admin, manager = principal(ADMIN), principal(MANAGER)
    shipment = shipments.allocate(principal=admin, location_id=location_id('DEMO1'), product_id=product_id('212'),
                                  doses=doses)
    shipments.mark_shipped(principal=admin, shipment_id=shipment.id)
    shipments.receive(principal=manager, shipment_id=shipment.id, condition='good', temperature_excursion=True,
                      lots=[ReceivedLot('WARM1', doses, date.today() + timedelta(days=90))])
    held = quarantine.held(principal=manager, location_id=location_id('DEMO1'))
    return shipment.id, held[0].lot_id


def test_excursion_doses_are_quarantined_and_cannot_be_drawn_until_released(demo) -> None:
    manager, demo1 = principal(MANAGER), location_id('DEMO1')
    shipment_id, lot_id = _excursion_shipment()
    held = quarantine.held(principal=manager, location_id=demo1)
    assert [(h.lot_number, h.doses, h.shipment_id, h.status) for h in held] == [('WARM1', 30, shipment_id, 'held')]
    with session_scope() as session:  # not in stock: nothing can draw, transfer or count them
        assert ledger.on_hand(session, location_id=demo1, lot_id=lot_id) == 0
        assert 'WARM1' not in {s.lot_number for s in ledger.usable_lots(session, location_id=demo1)}
        with pytest.raises((NotAllowed, ServiceError)):  # the lot is not even visible at DEMO1 yet
            ledger.draw_dose(session, principal=manager, location_id=demo1, lot_id=lot_id, reference='administration:x')
    with pytest.raises((NotAllowed, ServiceError)):
        ledger.record_waste(principal=manager, location_id=demo1, lot_id=lot_id, doses=1, waste_reason='broken_vial')
    with pytest.raises(ValidationFailed, match='Say why'):
        quarantine.release(principal=manager, hold_id=held[0].id, reason=' ')
    with pytest.raises(NotAllowed):  # providers see stock but do not decide
        quarantine.release(principal=principal(PROVIDER), hold_id=held[0].id, reason='viable')
    released = quarantine.release(principal=manager, hold_id=held[0].id,
                                  reason='Manufacturer (case 4411) confirmed viable')
    assert released.status == 'released' and quarantine.held(principal=manager, location_id=demo1) == []
    with session_scope() as session:
        assert ledger.on_hand(session, location_id=demo1, lot_id=lot_id) == 30
        entry = ledger.draw_dose(session, principal=manager, location_id=demo1, lot_id=lot_id,
                                 reference='administration:x')
        assert entry.balance_after == 29
    with pytest.raises(ServiceError, match='already released'):
        quarantine.waste(principal=manager, hold_id=held[0].id, reason='too late')


def test_wasted_quarantine_counts_as_received_and_wasted(demo) -> None:
    manager, demo1 = principal(MANAGER), location_id('DEMO1')
    shipment_id, lot_id = _excursion_shipment(20)
    hold_id = quarantine.held(principal=manager, location_id=demo1)[0].id
    quarantine.waste(principal=manager, hold_id=hold_id, reason='Manufacturer: not viable above 8 °C for 6 h')
    with session_scope() as session:
        rows = session.exec(select(LedgerEntry).where(LedgerEntry.lot_id == lot_id)
                            .order_by(LedgerEntry.id)).all()
        assert ledger.on_hand(session, location_id=demo1, lot_id=lot_id) == 0
    assert [(r.kind, r.change, r.waste_reason) for r in rows] == [
        ('receipt', 20, None), ('waste', -20, 'temperature_excursion')]
    assert rows[0].reference == f'shipment:{shipment_id}' and 'not viable' in rows[1].reason


def test_another_locations_quarantine_is_out_of_reach(demo) -> None:
    _, _ = _excursion_shipment(10)
    hold_id = quarantine.held(principal=principal(MANAGER), location_id=location_id('DEMO1'))[0].id
    with pytest.raises(NotAllowed):
        quarantine.held(principal=manager_of('DEMO2'), location_id=location_id('DEMO1'))
    with pytest.raises((NotAllowed, NotFound)):
        quarantine.release(principal=manager_of('DEMO2'), hold_id=hold_id, reason='mine')
