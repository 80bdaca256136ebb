"""Clinic day services: booking under concurrency, case numbers, emails, check-in, walk-in, dose rules,
inventory drawn and reversed, reminders, end of day. Every test runs on SQLite and on PostgreSQL."""
from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlmodel import select

from models import OutboxAttachment, OutboxMessage, utcnow
from models.clinic import Administration, Appointment, ClinicSlot, DoseReminder
from models.inventory import LedgerEntry
from services.clinic import administration, checkin, common, dose_rules, reminders, scheduling, standby, walkin
from services.clinic.administration import DoseDetails, OverrideNeeded
from services.core import localtime
from services.core.db import session_scope
from services.core.errors import NotAllowed, ServiceError
from tests import factories as fx

ALL_NO = {key: 'no' for key, _ in common.SCREENING_QUESTIONS}


def _book_all_at_once(slot_id: int, recipients: list[int]) -> tuple[list[str], list[str]]:
    manager = fx.principal(fx.MANAGER)
    booked, refused = [], []
    barrier = threading.Barrier(len(recipients))

    def book(recipient_id: int) -> None:
        barrier.wait()
        try:
            booked.append(scheduling.book_appointment(principal=manager, recipient_id=recipient_id, slot_id=slot_id,
                                                      notify=False).case_number)
        except ServiceError as error:
            refused.append(str(error))

    threads = [threading.Thread(target=book, args=(r,)) for r in recipients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return booked, refused


def test_clinic_slot_capacity_holds_under_concurrent_bookings(demo) -> None:
    product = fx.product()
    fx.stocked_lot(product, doses=100)
    fx.clinic_session([product], capacity=3)
    slot = fx.first_slot(product)
    booked, refused = _book_all_at_once(slot, [fx.recipient() for _ in range(8)])
    assert len(booked) == 3 and len(refused) == 5
    assert all('This time slot is full' in r for r in refused)
    with session_scope() as session:
        assert session.get(ClinicSlot, slot).booked == 3


def test_clinic_stock_cap_holds_under_concurrent_bookings(demo) -> None:
    product = fx.product()
    fx.stocked_lot(product, doses=2)
    fx.clinic_session([product], capacity=20)
    booked, refused = _book_all_at_once(fx.first_slot(product), [fx.recipient() for _ in range(6)])
    assert len(booked) == 2 and len(refused) == 4
    assert all('No doses of' in r and '2 on hand, 2 already booked' in r for r in refused)


def test_clinic_case_numbers_are_eight_digits_unique_and_not_sequential(demo) -> None:
    product = fx.product()
    fx.stocked_lot(product, doses=50)
    fx.clinic_session([product], capacity=30)
    slot = fx.first_slot(product)
    numbers = [scheduling.book_appointment(principal=fx.principal(fx.MANAGER), recipient_id=fx.recipient(),
                                           slot_id=slot,
                                           notify=False).case_number for _ in range(12)]
    assert all(len(n) == 8 and n.isdigit() for n in numbers)
    assert len(set(numbers)) == 12
    steps = {int(b) - int(a) for a, b in zip(numbers, numbers[1:], strict=False)}
    assert len(steps) > 1  # not a counter


def test_clinic_booking_emails_carry_the_number_and_a_qr_code(demo) -> None:
    product = fx.product(name='Moderna COVID-19 Vaccine')
    fx.stocked_lot(product, doses=10)
    fx.clinic_session([product])
    person = fx.recipient('Grace', 'Mid Wilms', email='grace.mid@example.org')
    manager = fx.principal(fx.MANAGER)
    first, second = [s.slot_id for s in scheduling.open_slots(location_id=fx.location_id(), product_id=product,
                                                               limit=2)]
    booked = scheduling.book_appointment(principal=manager, recipient_id=person, slot_id=first)
    moved = scheduling.reschedule_appointment(principal=manager, appointment_id=booked.id, slot_id=second)
    assert moved.case_number == booked.case_number and moved.scheduled_at > booked.scheduled_at
    scheduling.cancel_appointment(principal=manager, appointment_id=booked.id, reason='Person asked')
    with session_scope() as session:
        messages = session.exec(select(OutboxMessage).where(OutboxMessage.to_addr == 'grace.mid@example.org')
                                .order_by(OutboxMessage.id)).all()
        assert [m.subject.split(' (')[0] for m in messages] == [
            'Your COVID-19 vaccine appointment is confirmed', 'Your COVID-19 vaccine appointment was rescheduled',
            'Your COVID-19 vaccine appointment was cancelled']
        assert f'Confirmation number: {booked.case_number}' in messages[0].body_text
        assert 'Clinic Location1, 101 Blair Drive, Raleigh' in messages[0].body_text
        png = session.exec(select(OutboxAttachment).where(OutboxAttachment.message_id == messages[0].id)).one()
        assert png.content_type == 'image/png' and png.data.startswith(b'\x89PNG')
    # the slot is free again after the cancellation
    with session_scope() as session:
        assert session.get(ClinicSlot, second).booked == 0


def test_clinic_open_slots_filter_by_county_and_city_soonest_first(demo) -> None:
    product = fx.product()
    fx.clinic_session([product], on=date.today() + timedelta(days=5), code='DEMO1')
    fx.clinic_session([product], on=date.today() + timedelta(days=2), code='DEMO2')
    everywhere = scheduling.open_slots(product_id=product)
    assert everywhere[0].location_name == 'Clinic Location2'  # the sooner session
    assert [s.starts_at for s in everywhere] == sorted(s.starts_at for s in everywhere)
    assert {s.location_name for s in scheduling.open_slots(county='wake', product_id=product)} == {'Clinic Location1'}
    assert {s.location_name for s in scheduling.open_slots(city='Durham', product_id=product)} == {'Clinic Location2'}
    assert scheduling.open_slots(product_id=product + 999) == []


def test_clinic_recipient_books_for_own_household_only(demo) -> None:
    product = fx.product()
    fx.stocked_lot(product, doses=5)
    fx.clinic_session([product])
    with session_scope() as session:
        from models import Recipient
        grace = session.exec(select(Recipient).where(Recipient.first_name == 'Grace')
                             .where(Recipient.last_name == 'Wilms')).one()
    portal_user = fx.principal(fx.RECIPIENT)
    booked = scheduling.book_appointment(principal=portal_user, recipient_id=grace.id, slot_id=fx.first_slot(product))
    assert booked.dose_number == 1
    with pytest.raises(NotAllowed):
        scheduling.book_appointment(principal=portal_user, recipient_id=fx.recipient(), slot_id=fx.first_slot(product))
    with pytest.raises(ServiceError, match='already has an appointment'):
        scheduling.book_appointment(principal=portal_user, recipient_id=grace.id, slot_id=fx.first_slot(product))


def test_clinic_check_in_messages_for_wrong_cancelled_other_day_and_other_location(demo) -> None:
    product = fx.product()
    fx.stocked_lot(product, doses=10)
    fx.stocked_lot(product, doses=10, code='DEMO2')
    provider, manager = fx.principal(fx.PROVIDER), fx.principal(fx.MANAGER)
    with pytest.raises(ServiceError, match='has 8 digits'):
        checkin.find_for_check_in(principal=provider, raw_number='123')
    with pytest.raises(ServiceError, match='No appointment with confirmation number 12345678 was found at Clinic '
                                           'Location1'):
        checkin.find_for_check_in(principal=provider, raw_number='12345678')
    fx.clinic_session([product])  # in 3 days
    later = scheduling.book_appointment(principal=manager, recipient_id=fx.recipient(), slot_id=fx.first_slot(product),
                                        notify=False)
    with pytest.raises(ServiceError, match='on another day'):
        checkin.find_for_check_in(principal=provider, raw_number=later.case_number)
    fx.today_session([product])
    today = scheduling.open_slots(location_id=fx.location().id, product_id=product, on_or_after=utcnow())[0].slot_id
    cancelled = scheduling.book_appointment(principal=manager, recipient_id=fx.recipient(), slot_id=today, notify=False)
    scheduling.cancel_appointment(principal=manager, appointment_id=cancelled.id)
    with pytest.raises(ServiceError, match='was cancelled'):
        checkin.find_for_check_in(principal=provider, raw_number=cancelled.case_number)
    fx.today_session([product], code='DEMO2')
    elsewhere_slot = scheduling.open_slots(location_id=fx.location('DEMO2').id, product_id=product)[0].slot_id
    elsewhere = scheduling.book_appointment(principal=fx.manager_of('DEMO2'), recipient_id=fx.recipient(code='DEMO2'),
                                            slot_id=elsewhere_slot, notify=False).case_number
    with pytest.raises(ServiceError) as refused:  # the same answer as for no appointment: it does not tell where
        checkin.find_for_check_in(principal=provider, raw_number=f'{elsewhere[:4]} {elsewhere[4:]}')
    assert str(refused.value) == (f'No appointment with confirmation number {elsewhere} was found at Clinic Location1. '
                                  'Check the number, or search for the person in Appointment Walk-In.')
    good = scheduling.book_appointment(principal=manager, recipient_id=fx.recipient(), slot_id=today, notify=False)
    found = checkin.find_for_check_in(principal=provider, raw_number=f' {good.case_number}\n')
    assert found.id == good.id and found.status == 'scheduled'
    assert checkin.check_in(principal=provider, appointment_id=good.id).status == 'checked_in'
    mine = {cancelled.case_number, good.case_number}  # the demo has two appointments today as well
    rows = [r for r in checkin.today_appointments(principal=provider) if r.case_number in mine]
    assert [(r.case_number, r.status) for r in rows] == [(cancelled.case_number, 'cancelled'),
                                                         (good.case_number, 'checked_in')]
    assert rows[1].details.endswith('Dose 1 Checked in')
    assert [r.case_number for r in checkin.today_appointments(principal=provider,
                                                              status='checked_in')] == [good.case_number]


def test_clinic_walk_in_search_sees_own_location_plus_exact_match_elsewhere(demo) -> None:
    provider = fx.principal(fx.PROVIDER)
    born = date(1980, 5, 17)
    here = fx.recipient('Ann', 'Walker', born=born)
    fx.recipient('Bob', 'Walsh', born=born)
    fx.recipient('Ann', 'Walker', born=date(1980, 5, 18))
    elsewhere = fx.recipient('Carl', 'Walton', born=born, code='DEMO2')
    names = {hit.name for hit in walkin.search_walk_in(principal=provider, name='wal', date_of_birth=born)}
    assert names == {'Ann Walker', 'Bob Walsh'}  # Carl Walton is at another location
    hits = walkin.search_walk_in(principal=provider, name='Carl Walton', date_of_birth=born)
    assert [(x.recipient_id, x.elsewhere) for x in hits] == [(elsewhere, True)]
    hits = walkin.search_walk_in(principal=provider, name='Walker, Ann', date_of_birth=born)
    assert [x.recipient_id for x in hits] == [here]
    assert walkin.search_walk_in(principal=provider, name='Nobody', date_of_birth=born) == []


def test_clinic_point_of_care_registration_refuses_a_second_record(demo) -> None:
    provider = fx.principal(fx.PROVIDER)
    data = walkin.PointOfCareRegistration(first_name='Dana', last_name='Ortiz', date_of_birth=date(1975, 1, 2),
                                          sex='Female', address_line1='1 Oak St', city='Raleigh', state='NC',
                                          zip_code='27603', phone='919-555-0100', race='White',
                                          ethnicity='Hispanic or Latino', screening=ALL_NO)
    walk_in = walkin.register_at_point_of_care(principal=provider, data=data)
    assert walk_in.status == 'checked_in' and walk_in.walk_in and walk_in.recipient_name == 'Dana Ortiz'
    with pytest.raises(ServiceError, match='already registered'):
        walkin.register_at_point_of_care(principal=provider, data=data)
    with pytest.raises(ServiceError, match='Answer every screening question'):
        walkin.register_at_point_of_care(principal=provider, data=walkin.PointOfCareRegistration(
            first_name='Eve', last_name='Ng', date_of_birth=date(1990, 1, 1)))


def _walk_in_and_record(person: int, lot: int, **kwargs) -> administration.RecordedDose:
    provider = fx.principal(fx.PROVIDER)
    visit = walkin.start_walk_in(principal=provider, recipient_id=person)
    return administration.record_vaccination(principal=provider, appointment_id=visit.id, details=DoseDetails(
        lot_id=lot, screening=ALL_NO, consent=True, **kwargs))


def test_clinic_record_dose_draws_inventory_completes_and_schedules_reminder(demo) -> None:
    product = fx.product(interval=28)
    lot = fx.stocked_lot(product, doses=5)
    person = fx.recipient(email='ann@example.org')
    dose = _walk_in_and_record(person, lot)
    assert dose.dose_number == 1 and dose.next_dose_number == 2
    assert fx.on_hand(lot) == 4
    given_on = localtime.local_date(dose.administered_at, fx.location())
    assert dose.next_dose_due == given_on + timedelta(days=28)
    with session_scope() as session:
        record = session.get(Administration, dose.administration_id)
        entry = session.get(LedgerEntry, record.ledger_entry_id)
        assert entry.change == -1 and entry.reference == f'administration:{record.id}'
        assert session.get(Appointment, record.appointment_id).status == 'completed'
        reminder = session.get(DoseReminder, dose.reminder_id)
        assert reminder.send_on == dose.next_dose_due - timedelta(days=3) and reminder.status == 'pending'
    proof = dose_rules.vaccination_record(principal=fx.principal(fx.PROVIDER), recipient_id=person)
    assert [(d.dose_number, d.location_name) for d in proof] == [(1, 'Clinic Location1')]


def test_clinic_consent_screening_and_expired_lots_are_enforced(demo) -> None:
    product = fx.product()
    expired = fx.stocked_lot(product, doses=5, expires=date.today() - timedelta(days=2))
    person = fx.recipient()
    provider = fx.principal(fx.PROVIDER)
    visit = walkin.start_walk_in(principal=provider, recipient_id=person)
    with pytest.raises(ServiceError, match='consent'):
        administration.record_vaccination(principal=provider, appointment_id=visit.id,
                                          details=DoseDetails(lot_id=expired,
                                                                                         screening=ALL_NO))
    with pytest.raises(ServiceError, match='screening'):
        administration.record_vaccination(principal=provider, appointment_id=visit.id,
                                          details=DoseDetails(lot_id=expired,
                                                                                         consent=True))
    with pytest.raises(ServiceError, match='expired'):
        administration.record_vaccination(principal=provider, appointment_id=visit.id,
                                  details=DoseDetails(lot_id=expired, consent=True, screening=ALL_NO))
    form = administration.vaccination_form(principal=provider, appointment_id=visit.id)
    assert expired not in [lot.lot_id for lot in form.lots] and form.lot_id != expired  # expired: not offered
    with session_scope() as session:
        assert session.exec(select(Administration)).all() == []  # nothing half-saved


def test_clinic_dose_number_derivation_and_overrides(demo) -> None:
    pfizer = fx.product(name='Pfizer', interval=21)
    moderna = fx.product(name='Moderna', interval=28)
    pfizer_lot, moderna_lot = fx.stocked_lot(pfizer, doses=10), fx.stocked_lot(moderna, doses=10)
    person = fx.recipient()
    provider = fx.principal(fx.PROVIDER)
    month_ago = utcnow() - timedelta(days=30)
    first = administration.record_paper_administration(principal=provider, recipient_id=person, details=DoseDetails(
        lot_id=pfizer_lot, administered_at=month_ago))
    assert first.dose_number == 1
    # a second dose of another product needs an override
    with pytest.raises(OverrideNeeded, match='products mixed'):
        _walk_in_and_record(person, moderna_lot)
    second = _walk_in_and_record(person, pfizer_lot)  # 30 days later: on time, same product
    assert second.dose_number == 2 and second.next_dose_due is None
    with pytest.raises(OverrideNeeded) as refused:
        _walk_in_and_record(person, pfizer_lot)
    assert any('beyond the 2-dose series' in p for p in refused.value.problems)
    assert any('earlier than the 21-day interval' in p for p in refused.value.problems)
    third = _walk_in_and_record(person, pfizer_lot, override_reason='Immunocompromised: additional dose')
    assert third.dose_number == 3
    with session_scope() as session:
        assert session.get(Administration, third.administration_id).override_reason.startswith('Immunocompromised')
    # too early on its own
    other = fx.recipient()
    _walk_in_and_record(other, pfizer_lot)
    with pytest.raises(OverrideNeeded, match='earlier than the 21-day interval'):
        _walk_in_and_record(other, pfizer_lot)


def test_clinic_earlier_time_needs_a_reason(demo) -> None:
    lot = fx.stocked_lot(fx.product(), doses=3)
    with pytest.raises(ServiceError, match='An earlier time needs a reason'):
        _walk_in_and_record(fx.recipient(), lot, administered_at=utcnow() - timedelta(hours=3))
    dose = _walk_in_and_record(fx.recipient(), lot, administered_at=utcnow() - timedelta(hours=3),
                               backdate_reason='Written on paper during the network outage')
    with session_scope() as session:
        assert session.get(Administration, dose.administration_id).backdate_reason.startswith('Written on paper')


def test_clinic_void_and_correct_reverse_the_inventory(demo) -> None:
    product = fx.product()
    lot_a, lot_b = fx.stocked_lot(product, doses=5), fx.stocked_lot(product, doses=5)
    person = fx.recipient()
    dose = _walk_in_and_record(person, lot_a)
    assert fx.on_hand(lot_a) == 4
    with pytest.raises(NotAllowed):  # a healthcare provider cannot correct
        administration.void_administration(principal=fx.principal(fx.PROVIDER),
                                           administration_id=dose.administration_id,
                                           reason='x')
    manager = fx.principal(fx.MANAGER)
    corrected = administration.correct_administration(principal=manager, administration_id=dose.administration_id,
                                              reason='Wrong lot scanned', details=DoseDetails(lot_id=lot_b))
    assert (fx.on_hand(lot_a), fx.on_hand(lot_b)) == (5, 4)
    assert corrected.dose_number == 1
    with session_scope() as session:
        original = session.get(Administration, dose.administration_id)
        assert original.voided and original.void_reason == 'Wrong lot scanned'
        reversal = session.get(LedgerEntry, original.reversal_entry_id)
        assert reversal.kind == 'reversal' and reversal.change == 1
        assert session.get(Administration, corrected.administration_id).corrects_administration_id == original.id
    administration.void_administration(principal=manager, administration_id=corrected.administration_id,
                                       reason='Not given at all')
    assert fx.on_hand(lot_b) == 5
    assert dose_rules.vaccination_record(principal=manager, recipient_id=person) == []


def test_clinic_reminders_are_sent_or_suppressed(demo) -> None:
    product = fx.product(interval=21)
    lot = fx.stocked_lot(product, doses=10)
    manager = fx.principal(fx.MANAGER)
    sent_to = fx.recipient(email='send@example.org')
    recorded = fx.recipient(email='recorded@example.org')
    cancelled = fx.recipient(email='cancelled@example.org')
    doses = {p: _walk_in_and_record(p, lot) for p in (sent_to, recorded, cancelled)}
    # the second dose of `recorded` is given (early, with override) before the reminder goes out
    _walk_in_and_record(recorded, lot, override_reason='Travelling abroad')
    # `cancelled` books the second dose, then cancels it
    fx.clinic_session([product], on=doses[cancelled].next_dose_due)
    booking = scheduling.book_appointment(principal=manager, recipient_id=cancelled, slot_id=fx.first_slot(product),
                                          notify=False)
    assert booking.dose_number == 2
    scheduling.cancel_appointment(principal=manager, appointment_id=booking.id, notify=False)
    send_on = doses[sent_to].next_dose_due - timedelta(days=3)
    assert reminders.process_due_reminders(today=send_on - timedelta(days=1)) == {'sent': 0, 'suppressed': 0}
    assert reminders.process_due_reminders(today=send_on) == {'sent': 1, 'suppressed': 0}  # the others: already done
    assert reminders.process_due_reminders(today=send_on) == {'sent': 0, 'suppressed': 0}
    with session_scope() as session:
        outcomes = {r.recipient_id: (r.status, r.outcome) for r in session.exec(select(DoseReminder)).all()}
        mails = session.exec(select(OutboxMessage.to_addr).where(OutboxMessage.subject.contains('Reminder'))).all()
    assert outcomes[sent_to] == ('sent', 'queued')
    assert outcomes[recorded] == ('suppressed', 'dose already recorded')
    assert outcomes[cancelled] == ('suppressed', 'appointment cancelled')
    assert mails == ['send@example.org']


def test_clinic_reminder_is_in_the_language_chosen_in_the_portal(demo) -> None:
    from models import PortalAccount, Recipient
    from services.portal.accounts import attach_recipient
    product = fx.product(interval=21)
    lot = fx.stocked_lot(product, doses=5)
    person = fx.recipient('Lucía', email='lucia@example.org')
    with session_scope() as session:
        attach_recipient(session, session.get(Recipient, person))
        session.flush()
        account = session.exec(select(PortalAccount).where(PortalAccount.email == 'lucia@example.org')).one()
        account.language = 'es'
        session.add(account)
    dose = _walk_in_and_record(person, lot)
    assert reminders.process_due_reminders(today=dose.next_dose_due - timedelta(days=3))['sent'] == 1
    with session_scope() as session:
        [reminder] = session.exec(select(OutboxMessage).where(OutboxMessage.subject.contains('Recordatorio'))).all()
    assert reminder.to_addr == 'lucia@example.org'
    assert reminder.body_text.startswith('Hola Lucía:') and f'{dose.next_dose_due:%m/%d/%Y}' in reminder.body_text


def test_clinic_end_of_day_marks_no_shows_and_frees_the_dose(demo) -> None:
    product = fx.product()
    fx.stocked_lot(product, doses=1)
    fx.today_session([product])
    manager = fx.principal(fx.MANAGER)
    slot = scheduling.open_slots(location_id=fx.location().id, product_id=product)[0].slot_id
    missed = scheduling.book_appointment(principal=manager, recipient_id=fx.recipient(), slot_id=slot, notify=False)
    with pytest.raises(ServiceError, match='No doses of'):
        scheduling.book_appointment(principal=manager, recipient_id=fx.recipient(), slot_id=slot, notify=False)
    assert reminders.mark_no_shows(principal=manager, location_id=fx.location().id) == 3  # with the demo's two
    assert {a.status for a in checkin.today_appointments(principal=manager)} == {'no_show'}
    with pytest.raises(ServiceError, match='no-show'):
        checkin.find_for_check_in(principal=manager, raw_number=missed.case_number)
    scheduling.book_appointment(principal=manager, recipient_id=fx.recipient(), slot_id=slot, notify=False)


def test_clinic_standby_list(demo) -> None:
    provider = fx.principal(fx.PROVIDER)
    entry = standby.add_to_standby(principal=provider, full_name='Sam  Short', phone='(919) 555-0199',
                                   note='10 minutes away')
    with pytest.raises(ServiceError, match='10-digit phone'):
        standby.add_to_standby(principal=provider, full_name='No Phone', phone='')
    assert [e.full_name for e in standby.standby_list(principal=provider)] == ['Sam Short']
    standby.update_standby(principal=provider, entry_id=entry.id, status='called')
    assert standby.standby_list(principal=provider)[0].status == 'called'
    standby.update_standby(principal=provider, entry_id=entry.id, status='removed')
    assert standby.standby_list(principal=provider) == []


def test_clinic_live_updates_are_published_to_subscribers(demo) -> None:
    from services.clinic import events
    heard: list[int] = []
    unsubscribe = events.subscribe(fx.location().id, lambda: heard.append(1))
    try:
        walkin.start_walk_in(principal=fx.principal(fx.PROVIDER), recipient_id=fx.recipient())
        assert heard == [1]
    finally:
        unsubscribe()
    assert events.subscriber_count(fx.location().id) == 0
