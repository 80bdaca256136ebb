"""Allocation against storage capability, and receiving a shipment into the ledger."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import select

from models.inventory import LedgerEntry
from services.core.db import session_scope
from services.core.errors import NotAllowed, ServiceError, ValidationFailed
from services.inventory import ledger, shipments
from services.inventory.shipments import ReceivedLot
from tests.factories import ADMIN, MANAGER, PROVIDER, location_id, principal, product_id


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
    assert received.temperature_excursion and received.doses_received == 15
    with session_scope() as session:
        receipt = session.exec(select(LedgerEntry).where(LedgerEntry.reference == f'shipment:{shipment.id}')).one()
    assert 'temperature excursion' in receipt.reason


def test_shipments_a_manager_cannot_receive_another_locations_shipment(demo) -> None:
    shipment = shipments.allocate(principal=principal(ADMIN), location_id=location_id('DEMO2'),
                                  product_id=product_id('212'),
                                  doses=10)
    with pytest.raises(NotAllowed):
        shipments.receive(principal=principal(MANAGER), shipment_id=shipment.id, condition='good',
                          temperature_excursion=False,
                          lots=[ReceivedLot('L9', 10, date.today() + timedelta(days=30))])
    assert [s.location_code for s in shipments.list_shipments(principal=principal(MANAGER))] == ['DEMO1', 'DEMO1']
    assert len(shipments.list_shipments(principal=principal(ADMIN))) == 4
