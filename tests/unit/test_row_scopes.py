"""Row scopes (services/permissions.py, docs/adr/0008-row-scopes.md): a service function given the id of a record
outside the caller's scope refuses (an audited NotAllowed) and reveals nothing, changes nothing."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlmodel import func, select

from models import AuditEvent, utcnow
from models.clinic import Appointment
from services.clinic import administration, dose_rules, scheduling, walkin
from services.clinic.administration import DoseDetails
from services.core.db import session_scope
from services.core.errors import NotAllowed
from tests import factories as fx

ALL_NO = {key: 'no' for key, _ in walkin.SCREENING_QUESTIONS}


@dataclass(frozen=True)
class Elsewhere:
    """Records of Clinic Location2 (DEMO2), seen from Clinic Location1 (DEMO1)."""
    product_id: int
    lot_id: int  # held at DEMO2 only
    recipient_id: int  # registered at DEMO2, one dose given there, checked in there for the next
    appointment_id: int
    administration_id: int


@pytest.fixture
def elsewhere(demo) -> Elsewhere:  # noqa: ANN001
    product = fx.product(name='Comirnaty Scope', interval=21)
    lot = fx.stocked_lot(product, doses=10, code='DEMO2')
    person = fx.recipient('Olga', 'Otherplace', born=date(1970, 5, 6), code='DEMO2')
    manager2 = fx.manager_of('DEMO2')
    first = administration.record_paper_administration(
        principal=manager2, recipient_id=person,
        details=DoseDetails(lot_id=lot, administered_at=utcnow() - timedelta(days=30)))
    fx.clinic_session([product], code='DEMO2')
    booked = scheduling.book_appointment(principal=manager2, recipient_id=person,
                                         slot_id=fx.first_slot(product, fx.location_id('DEMO2')), notify=False)
    from services.clinic import checkin
    checkin.check_in(principal=manager2, appointment_id=booked.id)
    return Elsewhere(product, lot, person, booked.id, first.administration_id)


def refusals() -> int:
    with session_scope() as session:
        return session.exec(select(func.count()).select_from(AuditEvent)
                            .where(AuditEvent.action == 'access_denied')).one()


def status_of(appointment_id: int) -> str:
    with session_scope() as session:
        return session.get(Appointment, appointment_id).status


def test_walk_in_of_another_locations_recipient_is_refused_and_cancels_nothing(elsewhere: Elsewhere) -> None:
    provider = fx.principal(fx.PROVIDER)
    before = refusals()
    with pytest.raises(NotAllowed) as refused:
        walkin.start_walk_in(principal=provider, recipient_id=elsewhere.recipient_id)
    assert 'Olga' not in str(refused.value) and 'Otherplace' not in str(refused.value)
    assert status_of(elsewhere.appointment_id) == 'checked_in'  # their visit at Clinic Location2 goes on
    with session_scope() as session:
        assert session.exec(select(Appointment).where(Appointment.recipient_id == elsewhere.recipient_id)
                            .where(Appointment.walk_in)).all() == []
    assert refusals() == before + 1


def test_walk_in_of_a_person_named_exactly_reaches_them_wherever_registered(elsewhere: Elsewhere) -> None:
    """The desk's exact match (first, last name, date of birth typed in full) is how a person registered elsewhere is
    seen as a walk-in: their open appointment there is cancelled, as before."""
    provider = fx.principal(fx.PROVIDER)
    [hit] = walkin.search_walk_in(principal=provider, name='Olga Otherplace', date_of_birth=date(1970, 5, 6))
    assert hit.elsewhere and hit.named is not None
    with pytest.raises(NotAllowed):  # a wrong date of birth names someone else
        walkin.start_walk_in(principal=provider, recipient_id=elsewhere.recipient_id,
                             named=('Olga', 'Otherplace', date(1970, 5, 7)))
    visit = walkin.start_walk_in(principal=provider, recipient_id=hit.recipient_id, named=hit.named)
    assert visit.recipient_name == 'Olga Otherplace' and visit.location_name == 'Clinic Location1'
    assert status_of(elsewhere.appointment_id) == 'cancelled'
    # now served here: the desk reaches them by id for this visit (dose warnings, booking the next dose)
    problems = dose_rules.preview_dose_problems(principal=provider, recipient_id=elsewhere.recipient_id,
                                                lot_id=fx.stocked_lot(elsewhere.product_id, doses=5))
    assert problems == []  # 30 days after dose 1 of a 21-day series, same product: nothing to override


def test_dose_preview_does_not_reveal_another_locations_history(elsewhere: Elsewhere) -> None:
    provider = fx.principal(fx.PROVIDER)
    here_lot = fx.stocked_lot(fx.product(name='Other Vaccine'), doses=5)
    before = refusals()
    for lot in (here_lot, None):
        with pytest.raises(NotAllowed) as refused:
            dose_rules.preview_dose_problems(principal=provider, recipient_id=elsewhere.recipient_id, lot_id=lot)
        assert 'Comirnaty' not in str(refused.value)  # "Earlier dose was Comirnaty Scope" would tell the history
    assert refusals() == before + 2
    with pytest.raises(NotAllowed):
        dose_rules.vaccination_record(principal=provider, recipient_id=elsewhere.recipient_id)
    manager2 = fx.manager_of('DEMO2')
    assert [d.lot_number for d in dose_rules.vaccination_record(principal=manager2,
                                                                recipient_id=elsewhere.recipient_id)] != []


def test_a_lot_never_held_at_the_location_is_refused_by_the_dose_preview(elsewhere: Elsewhere) -> None:
    provider = fx.principal(fx.PROVIDER)
    mine = fx.recipient()
    with pytest.raises(NotAllowed):
        dose_rules.preview_dose_problems(principal=provider, recipient_id=mine, lot_id=elsewhere.lot_id)
    assert dose_rules.preview_dose_problems(principal=provider, recipient_id=mine,
                                            lot_id=fx.stocked_lot(elsewhere.product_id, doses=3)) == []
