"""One dose-number rule for bookings, walk-ins, the vaccination form and the recorded dose: a dose is numbered
after the person's valid doses given before it; voided doses do not count."""
from __future__ import annotations

from datetime import timedelta

from models import utcnow
from services.clinic import administration, common, dose_rules, scheduling, walkin
from services.clinic.administration import DoseDetails
from services.core.db import session_scope
from tests import factories as fx

ALL_NO = {key: 'no' for key, _ in common.SCREENING_QUESTIONS}


def _next_number(person: int) -> int:
    with session_scope(read_only=True) as session:
        return dose_rules.next_dose_number(session, person)


def test_every_path_gives_the_same_dose_number_and_voided_doses_do_not_count(demo) -> None:
    product = fx.product(doses=3, interval=21)
    lot = fx.stocked_lot(product, doses=20)
    fx.clinic_session([product])
    person = fx.recipient()
    provider, manager = fx.principal(fx.PROVIDER), fx.principal(fx.MANAGER)
    assert _next_number(person) == 1
    first = administration.record_paper_administration(principal=provider, recipient_id=person, details=DoseDetails(
        lot_id=lot, administered_at=utcnow() - timedelta(days=30)))
    assert first.dose_number == 1 and _next_number(person) == 2

    booked = scheduling.book_appointment(principal=manager, recipient_id=person, slot_id=fx.first_slot(product))
    assert booked.dose_number == 2
    scheduling.cancel_appointment(principal=manager, appointment_id=booked.id, reason='Came in today instead')
    visit = walkin.start_walk_in(principal=provider, recipient_id=person)
    assert visit.dose_number == 2
    assert administration.vaccination_form(principal=provider, appointment_id=visit.id).dose_number == 2
    second = administration.record_vaccination(principal=provider, appointment_id=visit.id, details=DoseDetails(
        lot_id=lot, screening=ALL_NO, consent=True))
    assert second.dose_number == 2 and _next_number(person) == 3

    administration.void_administration(principal=manager, administration_id=second.administration_id,
                                       reason='Not given')
    assert _next_number(person) == 2
    assert administration.vaccination_form(principal=provider, appointment_id=visit.id).dose_number == 2
    again = administration.record_vaccination(principal=provider, appointment_id=visit.id, details=DoseDetails(
        lot_id=lot, screening=ALL_NO, consent=True))
    assert (again.dose_number, again.next_dose_number) == (2, 3)
    assert [d.dose_number for d in dose_rules.vaccination_record(principal=provider, recipient_id=person)] == [1, 2]


def test_a_dose_entered_later_is_numbered_by_the_doses_given_before_it(demo) -> None:
    product = fx.product(doses=2, interval=21)
    lot = fx.stocked_lot(product, doses=10)
    person = fx.recipient()
    provider = fx.principal(fx.PROVIDER)
    administration.record_paper_administration(principal=provider, recipient_id=person, details=DoseDetails(
        lot_id=lot, administered_at=utcnow() - timedelta(days=10)))
    with session_scope(read_only=True) as session:
        assert dose_rules.next_dose_number(session, person, given_at=utcnow() - timedelta(days=40)) == 1
        assert dose_rules.next_dose_number(session, person) == 2
    problems = dose_rules.preview_dose_problems(principal=provider, recipient_id=person, lot_id=lot)  # the same number
    assert [p[:45] for p in problems] == ['Dose 2 is earlier than the 21-day interval of']
