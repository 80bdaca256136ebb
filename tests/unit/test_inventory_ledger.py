"""The stock ledger: on hand is the sum of its rows, rows are never edited, and stock never goes below zero,
also when two people draw from the same lot at the same moment (SQLite and PostgreSQL)."""
from __future__ import annotations

import threading
import time
from datetime import date, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import select

from models.inventory import LedgerEntry, LedgerKind, StockBalance
from services.core.db import session_scope
from services.core.errors import NotAllowed, ServiceError, ValidationFailed
from services.inventory import ledger
from tests.factories import MANAGER, PROVIDER, location_id, on_hand, principal, product, stocked_lot


def _balance(where: int, lot_id: int) -> int:
    with session_scope() as session:
        return session.get(StockBalance, (where, lot_id)).on_hand


def _draw(where: int, lot_id: int, reference: str = 'administration:1') -> LedgerEntry:
    with session_scope() as session:
        return ledger.draw_dose(session, principal=principal(PROVIDER), location_id=where, lot_id=lot_id,
                                   reference=reference)


def test_inventory_on_hand_is_the_sum_of_the_ledger(demo) -> None:
    where = location_id()
    lot_id = stocked_lot(doses=10)
    manager = principal(MANAGER)
    _draw(where, lot_id)
    ledger.record_waste(principal=manager, location_id=where, lot_id=lot_id, doses=2, waste_reason='broken_vial')
    ledger.correct_count(principal=manager, location_id=where, lot_id=lot_id, change=1,
                         reason='vial found in the fridge door')
    assert on_hand(lot_id) == 10 - 1 - 2 + 1 == 8
    assert _balance(where, lot_id) == 8
    with session_scope() as session:
        rows = session.exec(select(LedgerEntry).where(LedgerEntry.lot_id == lot_id).order_by(LedgerEntry.id)).all()
    assert [(r.kind, r.change, r.balance_after) for r in rows] == [
        ('receipt', 10, 10), ('administration', -1, 9), ('waste', -2, 7), ('correction', 1, 8)]
    assert rows[1].actor_email == PROVIDER and rows[1].reference == 'administration:1'
    assert rows[2].waste_reason == 'broken_vial' and rows[2].reason == 'Broken vial'


def test_inventory_product_total_and_other_locations_are_separate(demo) -> None:
    vaccine = product()
    where = location_id()
    lot_a = stocked_lot(vaccine, doses=5, lot_number='A1')
    lot_b = stocked_lot(vaccine, doses=7, lot_number='B2')
    elsewhere = location_id('DEMO2')
    stocked_lot(vaccine, doses=3, lot_number='A1', code='DEMO2')
    with session_scope() as session:
        assert ledger.on_hand(session, location_id=where, product_id=vaccine) == 12
        assert ledger.on_hand(session, location_id=elsewhere) == 3  # DEMO2 holds no demo stock
        assert ledger.on_hand(session, location_id=elsewhere, lot_id=lot_a) == 3
        assert ledger.on_hand(session, location_id=elsewhere, lot_id=lot_b) == 0


def test_inventory_draw_dose_refuses_expired_lot_and_lot_not_at_location(demo) -> None:
    where = location_id()
    expired = stocked_lot(doses=5, lot_number='OLD', expires=date.today() - timedelta(days=2))
    with pytest.raises(ServiceError, match='expired'):
        _draw(where, expired)
    only_at_demo2 = stocked_lot(doses=5, lot_number='NEW', code='DEMO2')
    with pytest.raises(NotAllowed):  # a lot the location never held: not even its number is told
        _draw(where, only_at_demo2)
    assert on_hand(expired) == 5


def test_inventory_draw_dose_refuses_to_go_below_zero(demo) -> None:
    where = location_id()
    lot_id = stocked_lot(doses=1)
    _draw(where, lot_id)
    with pytest.raises(ServiceError, match='no doses on hand'):
        _draw(where, lot_id, 'administration:2')
    assert on_hand(lot_id) == 0 and _balance(where, lot_id) == 0


def test_inventory_draw_dose_is_undone_with_the_callers_transaction(demo) -> None:
    where = location_id()
    lot_id = stocked_lot(doses=3)
    with pytest.raises(RuntimeError):
        with session_scope() as session:
            ledger.draw_dose(session, principal=principal(PROVIDER), location_id=where, lot_id=lot_id,
                                reference='administration:9')
            raise RuntimeError('the administration record failed to save')
    assert on_hand(lot_id) == 3 and _balance(where, lot_id) == 3


def test_inventory_usable_lots_soonest_expiry_first_and_flags(demo) -> None:
    vaccine = product()
    today = date.today()
    where = location_id()
    stocked_lot(vaccine, doses=4, lot_number='LATER', expires=today + timedelta(days=60))
    stocked_lot(vaccine, doses=2, lot_number='SOON', expires=today + timedelta(days=3))
    stocked_lot(vaccine, doses=6, lot_number='GONE', expires=today - timedelta(days=1))
    stocked_lot(vaccine, doses=0, lot_number='EMPTY')
    with session_scope() as session:
        usable = ledger.usable_lots(session, location_id=where, product_id=vaccine, on=today)
        everything = ledger.stock(session, location_id=where, product_id=vaccine, on=today)
    assert [s.lot_number for s in usable] == ['SOON', 'LATER']
    assert usable[0].expires_soon and not usable[1].expires_soon
    assert [(s.lot_number, s.expired) for s in everything] == [('GONE', True), ('SOON', False), ('LATER', False)]
    assert everything[0].on_hand == 6


def test_inventory_a_lot_is_usable_through_its_expiration_day(demo) -> None:
    where = location_id('DEMO2')
    lot_id = stocked_lot(doses=2, expires=date.today(), code='DEMO2')  # DEMO2 holds no demo stock
    with session_scope() as session:
        usable = ledger.usable_lots(session, location_id=where, on=date.today())
        assert [s.lot_id for s in usable] == [lot_id] and usable[0].expires_soon
        assert ledger.usable_lots(session, location_id=where, on=date.today() + timedelta(days=1)) == []


def test_inventory_reverse_entry_adds_an_opposite_row_once(demo) -> None:
    where = location_id()
    lot_id = stocked_lot(doses=2)
    manager = principal(MANAGER)
    drawn = _draw(where, lot_id)
    with session_scope() as session:
        reversal = ledger.reverse_entry(session, principal=manager, entry_id=drawn.id, reason='wrong lot chosen')
    assert (reversal.kind, reversal.change, reversal.reverses_entry_id) == ('reversal', 1, drawn.id)
    assert on_hand(lot_id) == 2
    with pytest.raises(ServiceError, match='already been reversed'), session_scope() as session:
        ledger.reverse_entry(session, principal=manager, entry_id=drawn.id, reason='again')
    with pytest.raises(ServiceError, match='cannot itself be reversed'), session_scope() as session:
        ledger.reverse_entry(session, principal=manager, entry_id=reversal.id, reason='undo the undo')
    with pytest.raises(ValidationFailed), session_scope() as session:
        ledger.reverse_entry(session, principal=manager, entry_id=_draw(where, lot_id).id, reason='  ')


def test_inventory_reversing_a_receipt_whose_doses_were_used_is_refused(demo) -> None:
    where = location_id()
    lot_id = stocked_lot(doses=2)
    _draw(where, lot_id)
    with session_scope() as session:
        receipt = session.exec(select(LedgerEntry).where(LedgerEntry.lot_id == lot_id,
                                                         LedgerEntry.kind == LedgerKind.RECEIPT)).one()
    with pytest.raises(ServiceError, match='only 1 dose on hand'), session_scope() as session:
        ledger.reverse_entry(session, principal=principal(MANAGER), entry_id=receipt.id, reason='typed 2')
    assert on_hand(lot_id) == 1


def test_inventory_ledger_rows_cannot_be_edited_in_the_database(demo) -> None:
    location_id()
    lot_id = stocked_lot(doses=2)
    with pytest.raises(Exception, match='never edited'), session_scope() as session:
        session.execute(text('UPDATE ledgerentry SET change = 100 WHERE lot_id = :lot'), {'lot': lot_id})
    assert on_hand(lot_id) == 2


def test_inventory_balance_row_cannot_go_negative_in_the_database(demo) -> None:
    location_id()
    lot_id = stocked_lot(doses=2)
    with pytest.raises(Exception, match='(?i)check'), session_scope() as session:
        session.execute(text('UPDATE stockbalance SET on_hand = -1 WHERE lot_id = :lot'), {'lot': lot_id})


def test_inventory_waste_other_needs_a_description(demo) -> None:
    where = location_id()
    lot_id = stocked_lot(doses=2)
    with pytest.raises(ValidationFailed, match='Other'):
        ledger.record_waste(principal=principal(MANAGER), location_id=where, lot_id=lot_id, doses=1,
                            waste_reason='other')
    entry = ledger.record_waste(principal=principal(MANAGER), location_id=where, lot_id=lot_id, doses=1,
                                   waste_reason='other', other_text='dropped syringe')
    assert entry.reason == 'Other: dropped syringe'


def test_inventory_count_records_the_difference_from_the_book(demo) -> None:
    vaccine = product()
    where = location_id()
    short = stocked_lot(vaccine, doses=10, lot_number='SHORT')
    exact = stocked_lot(vaccine, doses=4, lot_number='EXACT')
    sheet = {s.lot_id: s.on_hand for s in ledger.count_sheet(principal=principal(MANAGER), location_id=where)
             if s.product_id == vaccine}
    assert sheet == {short: 10, exact: 4}
    lines = ledger.record_inventory_count(principal=principal(MANAGER), location_id=where, counted={short: 7, exact: 4})
    assert [(line.book_on_hand, line.counted, line.difference) for line in lines] == [(10, 7, -3), (4, 4, 0)]
    assert lines[0].ledger_entry_id is not None and lines[1].ledger_entry_id is None
    assert on_hand(short) == 7 and on_hand(exact) == 4
    with session_scope() as session:
        correction = session.get(LedgerEntry, lines[0].ledger_entry_id)
    assert correction.kind == 'correction' and 'counted 7, book 10' in correction.reason


def test_inventory_transfer_moves_doses_between_locations(demo) -> None:
    where = location_id()
    lot_id = stocked_lot(product(storage='refrigerated'), doses=10)
    demo2 = location_id('DEMO2')
    manager = principal(MANAGER)
    assert [loc.code for loc in ledger.transfer_destinations(principal=manager, location_id=where,
                                                             lot_id=lot_id)] == ['DEMO2']
    out, into = ledger.transfer(principal=manager, from_location_id=where, to_location_id=demo2, lot_id=lot_id, doses=4)
    assert (out.change, into.change, out.reference) == (-4, 4, into.reference)
    assert on_hand(lot_id) == 6 and on_hand(lot_id, 'DEMO2') == 4
    with pytest.raises(ServiceError, match='only 6 doses'):
        ledger.transfer(principal=manager, from_location_id=where, to_location_id=demo2, lot_id=lot_id, doses=7)


def test_inventory_transfer_checks_storage_and_the_redistribution_agreement(demo) -> None:
    where = location_id()
    frozen_lot = stocked_lot(product(storage='frozen'), doses=10)
    manager = principal(MANAGER)
    assert ledger.transfer_destinations(principal=manager, location_id=where, lot_id=frozen_lot) == []
    with pytest.raises(ServiceError, match='cannot store'):
        ledger.transfer(principal=manager, from_location_id=where, to_location_id=location_id('DEMO2'),
                        lot_id=frozen_lot,
                           doses=1)
    with session_scope() as session:
        session.execute(text('UPDATE organization SET redistribution_agreement = false'))
    with pytest.raises(ServiceError, match='Redistribution Agreement'):
        ledger.transfer(principal=manager, from_location_id=where, to_location_id=location_id('DEMO2'),
                        lot_id=frozen_lot,
                           doses=1)
    assert on_hand(frozen_lot) == 10


def test_inventory_known_lot_with_another_expiration_is_refused(demo) -> None:
    vaccine = product()
    stocked_lot(doses=1, product_id=vaccine, lot_number='EK5730', expires=date(2031, 3, 1))
    with pytest.raises(ValidationFailed, match='03/01/2031'), session_scope() as session:
        ledger.lot_for(session, product_id=vaccine, lot_number='ek5730', expiration_date=date(2031, 4, 1))


# ---------------------------------------------------------------- two writers at the same moment

def test_inventory_never_negative_with_two_concurrent_writers(demo) -> None:
    """Two threads (two connections, two transactions) draw from one lot as fast as they can: exactly the stock
    is drawn, every other attempt is refused, and the ledger, its running figures and the balance agree."""
    where = location_id()
    lot_id = stocked_lot(doses=30)
    provider = principal(PROVIDER)
    start = threading.Barrier(2)
    drawn, refused, failures = [], [], []

    def writer(name: str) -> None:
        start.wait()
        for i in range(25):
            try:
                with session_scope() as session:
                    entry = ledger.draw_dose(session, principal=provider, location_id=where, lot_id=lot_id,
                                                reference=f'administration:{name}{i}')
                drawn.append(entry.balance_after)
            except ServiceError:
                refused.append(name)
            except Exception as error:  # noqa: BLE001 - anything else is a failure of the test
                failures.append(error)

    threads = [threading.Thread(target=writer, args=(name,)) for name in 'ab']
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert len(drawn) == 30 and len(refused) == 20
    assert sorted(drawn) == list(range(30))  # each running figure once: no two writers saw the same balance
    assert on_hand(lot_id) == 0 and _balance(where, lot_id) == 0


def test_inventory_second_writer_waits_for_the_first_and_is_refused(demo) -> None:
    """The first writer takes the last dose and keeps its transaction open; the second must wait for it (the
    lock), then see zero and be refused, rather than both seeing one dose."""
    where = location_id()
    lot_id = stocked_lot(doses=1)
    provider = principal(PROVIDER)
    first_holds = threading.Event()
    first_committed_at: list[float] = []
    second: dict = {}

    def first() -> None:
        with session_scope() as session:
            ledger.draw_dose(session, principal=provider, location_id=where, lot_id=lot_id,
                                reference='administration:first')
            first_holds.set()
            time.sleep(0.8)
            first_committed_at.append(time.monotonic())  # just before the commit: the second cannot end sooner

    def second_writer() -> None:
        first_holds.wait(10)
        try:
            with session_scope() as session:
                ledger.draw_dose(session, principal=provider, location_id=where, lot_id=lot_id,
                                    reference='administration:second')
            second['result'] = 'drawn'
        except ServiceError as error:
            second['result'] = str(error)
        second['at'] = time.monotonic()

    threads = [threading.Thread(target=first), threading.Thread(target=second_writer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert 'no doses on hand' in second['result']
    assert second['at'] >= first_committed_at[0]
    assert on_hand(lot_id) == 0
