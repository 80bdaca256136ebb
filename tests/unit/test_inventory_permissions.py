"""Who may do what with stock: providers view and draw doses but never adjust; managers act only at their own
location; the state manages products and allocates but does not adjust a location's stock."""
from __future__ import annotations

import pytest
from sqlmodel import select

from models import AuditEvent
from models.inventory import ProductCreate
from services.core.db import session_scope
from services.core.errors import NotAllowed, ValidationFailed
from services.inventory import ledger
from tests.factories import ADMIN, MANAGER, PROVIDER, location_id, principal, stocked_lot


def test_inventory_provider_may_view_but_not_adjust(demo) -> None:
    where = location_id()
    lot_id = stocked_lot(doses=10)
    provider = principal(PROVIDER)
    assert any(s.lot_id == lot_id for s in ledger.location_stock(principal=provider, location_id=where))
    for attempt in (
        lambda: ledger.record_waste(principal=provider, location_id=where, lot_id=lot_id, doses=1,
                                    waste_reason='expired'),
        lambda: ledger.correct_count(principal=provider, location_id=where, lot_id=lot_id, change=-1, reason='x'),
        lambda: ledger.transfer(principal=provider, from_location_id=where, to_location_id=location_id('DEMO2'),
                                   lot_id=lot_id, doses=1),
        lambda: ledger.record_inventory_count(principal=provider, location_id=where, counted={lot_id: 9}),
    ):
        with pytest.raises(NotAllowed):
            attempt()
    with pytest.raises(NotAllowed), session_scope() as session:
        ledger.reverse_entry(session, principal=provider, entry_id=1, reason='x')
    with session_scope() as session:
        assert ledger.on_hand(session, location_id=where, lot_id=lot_id) == 10
        refusals = session.exec(select(AuditEvent).where(AuditEvent.action == 'access_denied',
                                                         AuditEvent.actor_email == PROVIDER)).all()
    assert len(refusals) >= 4


def test_inventory_manager_cannot_touch_another_locations_stock(demo) -> None:
    elsewhere = location_id('DEMO2')
    lot_id = stocked_lot(doses=10, code='DEMO2')
    manager = principal(MANAGER)
    with pytest.raises(NotAllowed):
        ledger.location_stock(principal=manager, location_id=elsewhere)
    with pytest.raises(NotAllowed):
        ledger.record_waste(principal=manager, location_id=elsewhere, lot_id=lot_id, doses=1, waste_reason='expired')
    with pytest.raises(NotAllowed):
        ledger.transfer(principal=manager, from_location_id=elsewhere, to_location_id=location_id('DEMO1'),
                        lot_id=lot_id,
                           doses=5)
    with pytest.raises(NotAllowed), session_scope() as session:
        ledger.draw_dose(session, principal=manager, location_id=elsewhere, lot_id=lot_id, reference='a:1')
    with session_scope() as session:
        assert ledger.on_hand(session, location_id=elsewhere, lot_id=lot_id) == 10


def test_inventory_refusal_inside_a_callers_transaction_does_not_wait_for_the_lock(demo) -> None:
    """draw_dose runs inside the clinic day's transaction; on SQLite that transaction holds the write lock, so
    the refusal must not wait for a second connection (it would time out instead of saying 'not allowed')."""
    elsewhere = location_id('DEMO2')
    lot_id = stocked_lot(doses=1, code='DEMO2')
    provider = principal(PROVIDER)
    with pytest.raises(NotAllowed), session_scope() as session:
        ledger.on_hand(session, location_id=elsewhere)  # the transaction has started
        ledger.draw_dose(session, principal=provider, location_id=elsewhere, lot_id=lot_id,
                            reference='administration:1')


def test_inventory_state_admin_views_everywhere_but_does_not_adjust(demo) -> None:
    where = location_id('DEMO2')
    lot_id = stocked_lot(doses=3, code='DEMO2')
    admin = principal(ADMIN)
    assert [s.on_hand for s in ledger.location_stock(principal=admin, location_id=where)] == [3]
    assert {loc.code for loc in ledger.visible_locations(principal=admin)} == {'DEMO1', 'DEMO2'}
    assert [loc.code for loc in ledger.visible_locations(principal=principal(PROVIDER))] == ['DEMO1']
    with pytest.raises(NotAllowed):
        ledger.record_waste(principal=admin, location_id=where, lot_id=lot_id, doses=1, waste_reason='expired')


def test_inventory_only_the_state_manages_products(demo) -> None:
    data = ProductCreate(name='Novavax COVID-19 Vaccine', manufacturer='Novavax, Inc.', cvx_code='211',
                         doses_in_series=2, days_between_doses=21, doses_per_vial=10, storage='refrigerated',
                         hours_usable_after_puncture=6)
    with pytest.raises(NotAllowed):
        ledger.save_product(principal=principal(MANAGER), data=data)
    saved = ledger.save_product(principal=principal(ADMIN), data=data)
    assert saved.cvx_code == '211'
    with pytest.raises(ValidationFailed, match='already belongs'):
        ledger.save_product(principal=principal(ADMIN), data=data.model_copy(update={'name': 'Copy'}))
    with pytest.raises(ValidationFailed, match='days between doses'):
        ledger.save_product(principal=principal(ADMIN), data=data.model_copy(update={'cvx_code': '9',
                                                                                     'days_between_doses': None}))
    names = [p.name for p in ledger.list_products(principal=principal(PROVIDER))]
    assert 'Novavax COVID-19 Vaccine' in names and 'Pfizer-BioNTech COVID-19 Vaccine' in names
