"""Row scopes (services/permissions.py, docs/adr/0008-row-scopes.md): a service function given the id of a record
outside the caller's scope refuses (an audited NotAllowed) and reveals nothing, changes nothing."""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time, timedelta

import pytest
from sqlmodel import col, func, select

import services
from models import (
    AuditEvent,
    EnrollmentStatus,
    OrganizationKind,
    Recipient,
    RecipientSource,
    User,
    utcnow,
)
from models.clinic import Administration, Appointment, StandbyEntry
from models.helpdesk import Case
from models.inventory import LedgerEntry, ProductCreate, Shipment
from models.readiness import ReadinessItem
from services import dashboard
from services.accounts import staff
from services.bulk import registration as bulk
from services.clinic import administration, checkin, common, dose_rules, reminders, scheduling, standby, walkin
from services.clinic.administration import DoseDetails
from services.core.csv_safe import to_csv_bytes
from services.core.db import session_scope
from services.core.errors import NotAllowed
from services.enrollment import agreement as enrollment_agreement
from services.enrollment import review as enrollment_review
from services.fhir import api as fhir_api
from services.fhir import health_cards
from services.fhir import tokens as fhir_tokens
from services.helpdesk import bulk_loads, cases, knowledge
from services.inventory import ledger, quarantine, reports, shipments
from services.organizations import employers, readiness
from services.permissions import Kind, scope
from services.portal import booking, program_status, proof, registration_form, vaccine_groups
from services.principal import Principal
from services.recipients import listing, removal
from services.registry import history, overview, reporting
from tests import factories as fx

ALL_NO = {key: 'no' for key, _ in common.SCREENING_QUESTIONS}


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


# ---------------------------------------------------------------- who sees which rows

def visible_ids(principal: Principal, ids: list[int]) -> set[int]:
    with session_scope(read_only=True) as session:
        return set(session.exec(scope(select(Recipient.id).where(col(Recipient.id).in_(ids)), principal=principal,
                                      kind=Kind.RECIPIENT)))


def test_who_sees_which_recipients(demo) -> None:  # noqa: ANN001
    here, there = fx.recipient('Hana'), fx.recipient('Theo', code='DEMO2')
    [invited] = fx.invited_by_employer([('Ivy', 'Invited', date(1990, 1, 1), 'ivy@example.org')])
    grace = fx.recipient_named('Grace').id  # the demo recipient's household, registered at Clinic Location1
    everyone = [here, there, invited, grace]
    assert visible_ids(fx.principal(fx.ADMIN), everyone) == set(everyone)
    assert visible_ids(fx.principal(fx.MANAGER), everyone) == {here, grace}
    assert visible_ids(fx.principal(fx.PROVIDER), everyone) == {here, grace}
    assert visible_ids(fx.manager_of('DEMO2'), everyone) == {there}
    assert visible_ids(fx.principal(fx.EMPLOYER), everyone) == {invited}
    assert visible_ids(fx.principal(fx.RECIPIENT), everyone) == {grace}


def test_help_desk_cases_are_for_agents_admins_and_their_requester(demo) -> None:  # noqa: ANN001
    opened = {email: cases.open_case(principal=fx.principal(email), request_type='technical', subject='Help',
                                     description=f'From {email}').id
              for email in (fx.MANAGER, fx.PROVIDER, fx.EMPLOYER, fx.RECIPIENT)}
    agent = fx.help_desk_agent()
    with session_scope(read_only=True) as session:
        for who in (fx.principal(fx.ADMIN), agent):
            assert set(session.exec(scope(select(Case.id), principal=who, kind=Kind.CASE)).all()) == \
                set(opened.values())
        for email, case_id in opened.items():
            assert session.exec(scope(select(Case.id), principal=fx.principal(email), kind=Kind.CASE)).all() == \
                [case_id], email


def _employer_account(name: str) -> tuple[Principal, str]:
    """A second approved employer organization with its own employer account."""
    email = f'hr@{name.lower().replace(" ", "-")}.example.org'
    with session_scope() as session:
        organization = staff.create_organization(session, _employer(name))
        staff.create_user(session, email=email, role='employer', organization_id=organization.id,
                          password='Another-Demo-Password-2021', send_welcome=False)
    return fx.principal(email), email


def _employer(name: str):  # noqa: ANN202
    from models import OrganizationCreate
    return OrganizationCreate(name=name, kind=OrganizationKind.EMPLOYER, enrollment_status=EnrollmentStatus.APPROVED)


def test_employers_see_the_people_they_invited_only(demo) -> None:  # noqa: ANN001
    employer = fx.principal(fx.EMPLOYER)
    ivy, ike = fx.invited_by_employer([('Ivy', 'Invited', date(1990, 1, 1), 'ivy@example.org'),
                                       ('Ike', 'Invited', date(1990, 1, 2), 'ike@example.org')])
    with session_scope() as session:  # a colleague at the same employer invites too: the organization's invitations
        staff.create_user(session, email='hr2@demo.cvms.example.org', role='employer',
                          organization_id=employer.organization_id, password='Another-Demo-Password-2021',
                          send_welcome=False)
    [cole] = fx.invited_by_employer([('Cole', 'Colleague', date(1990, 1, 3), 'cole@example.org')],
                                    email='hr2@demo.cvms.example.org')
    # Someone carrying the employer's organization id whom no invitation created (registered at a desk): not theirs.
    stray = fx.recipient('Stray', 'Sameorg')
    with session_scope() as session:
        row = session.get(Recipient, stray)
        row.organization_id, row.source = employer.organization_id, RecipientSource.POINT_OF_CARE
        session.add(row)
    other, other_email = _employer_account('Other Works')
    [otto] = fx.invited_by_employer([('Otto', 'Other', date(1990, 1, 4), 'otto@example.org')], email=other_email)

    mine = {'Ivy Invited', 'Ike Invited', 'Cole Colleague'}
    listed = listing.list_recipients(principal=employer)
    assert {f'{r.first_name} {r.last_name}' for r in listed.rows} == mine and listed.total == 3
    assert {row.name for row in employers.invitations(principal=employer).rows} == mine
    assert dashboard.employer_summary(principal=employer) == {'Invited': 3, 'Registered': 0}
    assert visible_ids(employer, [ivy, ike, cole, stray, otto]) == {ivy, ike, cole}
    assert visible_ids(other, [ivy, ike, cole, stray, otto]) == {otto}
    with pytest.raises(NotAllowed):
        listing.request_removal(principal=employer, recipient_id=stray, reason='Not one of ours at all')
    with pytest.raises(NotAllowed):
        listing.request_removal(principal=other, recipient_id=ivy, reason='Not one of ours at all')
    assert listing.request_removal(principal=employer, recipient_id=ivy,
                                   reason='Left the company in May').startswith('VACHCP')


def test_employers_never_see_health_data(demo) -> None:  # noqa: ANN001
    employer, provider = fx.principal(fx.EMPLOYER), fx.principal(fx.PROVIDER)
    [ivy] = fx.invited_by_employer([('Ivy', 'Invited', date(1990, 1, 1), 'ivy@example.org')])
    visit = walkin.start_walk_in(principal=provider, recipient_id=ivy, named=('Ivy', 'Invited', date(1990, 1, 1)))
    dose = administration.record_vaccination(principal=provider, appointment_id=visit.id,
                                             details=DoseDetails(lot_id=fx.stocked_lot(), screening=ALL_NO,
                                                                 consent=True))
    assert visible_ids(employer, [ivy]) == {ivy}  # their invitee, by name and email only
    refused = [
        lambda: dose_rules.vaccination_record(principal=employer, recipient_id=ivy),
        lambda: scheduling.appointments_of(principal=employer, recipient_id=ivy),
        lambda: program_status.vaccination_record(principal=employer, recipient_id=ivy),
        lambda: registration_form.load_registration(principal=employer, recipient_id=ivy),
        lambda: checkin.appointment(principal=employer, appointment_id=visit.id),
        lambda: dose_rules.preview_dose_problems(principal=employer, recipient_id=ivy, lot_id=None),
    ]
    for call in refused:
        with pytest.raises(NotAllowed):
            call()
    with session_scope(read_only=True) as session:
        for model, kind, record_id in ((Appointment, Kind.APPOINTMENT, visit.id),
                                       (Administration, Kind.ADMINISTRATION, dose.administration_id)):
            assert session.exec(scope(select(model.id).where(model.id == record_id), principal=employer,
                                      kind=kind)).all() == []


# ---------------------------------------------------------------- every function taking a record id

@dataclass(frozen=True)
class World:
    """Clinic Location1's manager (`staff`) and the portal account of Grace Wilms (`household`), beside records of
    Clinic Location2 (`there`) and of their own (`here_*`)."""
    staff: Principal
    household: Principal
    there: Elsewhere
    location_there: int
    upload_there: int
    shipment_there: int
    standby_there: int
    ledger_entry_there: int
    quarantine_there: int
    slot_there: int
    here_lot: int
    here_recipient: int
    here_appointment: int
    here_slot: int
    employer_organization: int
    employer_user: int
    case_there: int  # a help desk case Clinic Location2's manager opened, with a file
    case_file_there: int
    staff_there: int  # Clinic Location2's manager


@pytest.fixture
def world(elsewhere: Elsewhere) -> World:
    manager2 = fx.manager_of('DEMO2')
    there = fx.location_id('DEMO2')
    file = to_csv_bytes(['First name', 'Last name', 'Date of birth', 'Email'],
                        [['Uma', 'Upload', '01/02/1980', 'uma@example.org'], ['', 'Nameless', '01/02/1980', '']])
    upload = bulk.create_records(principal=manager2, previewed=bulk.preview(principal=manager2, data=file,
                                                                           file_name='clinic2.csv')).upload_id
    with session_scope() as session:
        shipment = Shipment(product_id=elsewhere.product_id, location_id=there, doses_expected=10, status='shipped')
        entry = StandbyEntry(location_id=there, full_name='Stan Standby', phone='9195550100')
        session.add_all([shipment, entry])
        session.flush()
        receipt = session.exec(select(LedgerEntry.id).where(LedgerEntry.location_id == there)
                               .where(LedgerEntry.lot_id == elsewhere.lot_id)).first()
        employer_user = session.exec(select(User.id).where(User.email == fx.EMPLOYER)).one()
        held = quarantine.hold(session, location_id=there, lot_id=elsewhere.lot_id, shipment_id=shipment.id or 0,
                               doses=5)
        shipment_id, entry_id, held_id = shipment.id, entry.id, held.id
    case = cases.open_case(principal=manager2, request_type='technical', subject='Scanner offline',
                           description='The barcode scanner stopped.',
                           attachments=[cases.NewFile('scanner.txt', b'error 42')])
    case_file = cases.case_view(principal=manager2, case_id=case.id).attachments[0].id
    here_product = fx.product()
    here_lot = fx.stocked_lot(here_product, doses=10)
    fx.clinic_session([here_product])
    here_recipient = fx.recipient('Hera', 'Here')
    here_appointment = fx.appointment(here_product, fx.recipient('Hal', 'Here')).id
    return World(staff=fx.principal(fx.MANAGER), household=fx.principal(fx.RECIPIENT), there=elsewhere,
                 location_there=there, upload_there=upload, shipment_there=shipment_id or 0,
                 standby_there=entry_id or 0, ledger_entry_there=receipt or 0, quarantine_there=held_id or 0,
                 slot_there=fx.first_slot(elsewhere.product_id, there), here_lot=here_lot,
                 here_recipient=here_recipient, here_appointment=here_appointment,
                 here_slot=fx.first_slot(here_product), employer_organization=fx.organization_id('employer'),
                 employer_user=employer_user, case_there=case.id, case_file_there=case_file,
                 staff_there=manager2.user_id)


def _in_unit_of_work(work: Callable) -> None:
    with session_scope() as session:
        work(session)


def _dose(w: World, **more) -> DoseDetails:  # noqa: ANN003
    return DoseDetails(lot_id=w.here_lot, screening=ALL_NO, consent=True, **more)


def _readiness_item() -> int:
    """The first item of the state's readiness checklist (the demo seeds the default list)."""
    with session_scope(read_only=True) as session:
        return session.exec(select(ReadinessItem.id).order_by(ReadinessItem.id)).first() or 0


def _registration(w: World, who: Principal) -> registration_form.Registration:
    return registration_form.Registration(recipient_id=w.there.recipient_id, name='Olga Otherplace')


def _demo_enrollment() -> int:
    """The Provider Agreement of the demo's Piedmont Family Clinic (submitted): not the manager's to see."""
    from models.enrollment import Enrollment
    with session_scope(read_only=True) as session:
        return session.exec(select(Enrollment.id)).first() or 0


Call = Callable[[World, Principal], object]
# Each public service function that takes the id of a record, with calls that each pass one record outside the
# caller's scope (another location's, another household's), made as Clinic Location1's manager ('staff') and, for
# the portal, also as another household ('household'). Every call must refuse with NotAllowed, audited. A refusal by
# role (an action the manager does not have, such as approving organizations) counts: it is the same answer.
CASES: dict[str, tuple[tuple[str, ...], list[Call]]] = {
    'accounts.staff.add_user': (('staff',), [lambda w, p: staff.add_user(
        principal=p, email='new@example.org', role='employer', organization_id=w.employer_organization)]),
    'accounts.staff.add_staff_account': (('staff',), [lambda w, p: staff.add_staff_account(
        principal=p, full_name='Nina Nurse', email='nina@example.org', role='healthcare_provider',
        location_id=w.location_there)]),
    'accounts.staff.change_staff_role': (('staff',), [lambda w, p: staff.change_staff_role(
        principal=p, user_id=w.staff_there, role='healthcare_provider')]),
    'accounts.staff.set_staff_active': (('staff',), [lambda w, p: staff.set_staff_active(
        principal=p, user_id=w.staff_there, active=False)]),
    'accounts.staff.resend_invitation': (('staff',), [lambda w, p: staff.resend_invitation(
        principal=p, user_id=w.staff_there)]),
    'accounts.staff.approve_organization': (('staff',), [lambda w, p: _in_unit_of_work(
        lambda s: staff.approve_organization(s, principal=p, organization_id=w.employer_organization))]),
    'accounts.staff.set_enrollment_status': (('staff',), [lambda w, p: _in_unit_of_work(
        lambda s: staff.set_enrollment_status(s, principal=p, organization_id=w.employer_organization,
                                              status='suspended'))]),
    'bulk.registration.resubmit_row': (('staff',), [lambda w, p: bulk.resubmit_row(
        principal=p, upload_id=w.upload_there, line=3, first_name='Nia', last_name='Nameless',
        date_of_birth='01/02/1980', email='')]),
    'bulk.registration.upload_error_file': (('staff',), [
        lambda w, p: bulk.upload_error_file(principal=p, upload_id=w.upload_there)]),
    'bulk.registration.upload_failures': (('staff',), [
        lambda w, p: bulk.upload_failures(principal=p, upload_id=w.upload_there)]),
    'bulk.registration.upload_status': (('staff',), [
        lambda w, p: bulk.upload_status(principal=p, upload_id=w.upload_there)]),
    'clinic.administration.correct_administration': (('staff',), [lambda w, p: administration.correct_administration(
        principal=p, administration_id=w.there.administration_id, reason='Wrong lot', details=_dose(w))]),
    'clinic.administration.record_paper_administration': (('staff',), [
        lambda w, p: administration.record_paper_administration(
            principal=p, recipient_id=w.there.recipient_id,
            details=_dose(w, administered_at=utcnow() - timedelta(hours=2)))]),
    'clinic.administration.record_vaccination': (('staff',), [lambda w, p: administration.record_vaccination(
        principal=p, appointment_id=w.there.appointment_id, details=_dose(w))]),
    'clinic.administration.vaccination_form': (('staff',), [
        lambda w, p: administration.vaccination_form(principal=p, appointment_id=w.there.appointment_id)]),
    'clinic.administration.void_administration': (('staff',), [lambda w, p: administration.void_administration(
        principal=p, administration_id=w.there.administration_id, reason='Not given')]),
    'clinic.checkin.appointment': (('staff',), [
        lambda w, p: checkin.appointment(principal=p, appointment_id=w.there.appointment_id)]),
    'clinic.checkin.check_in': (('staff',), [
        lambda w, p: checkin.check_in(principal=p, appointment_id=w.there.appointment_id)]),
    'clinic.dose_rules.preview_dose_problems': (('staff',), [
        lambda w, p: dose_rules.preview_dose_problems(principal=p, recipient_id=w.there.recipient_id, lot_id=None),
        lambda w, p: dose_rules.preview_dose_problems(principal=p, recipient_id=w.here_recipient,
                                                      lot_id=w.there.lot_id)]),
    'clinic.dose_rules.vaccination_record': (('staff', 'household'), [
        lambda w, p: dose_rules.vaccination_record(principal=p, recipient_id=w.there.recipient_id)]),
    'clinic.reminders.mark_no_shows': (('staff',), [
        lambda w, p: reminders.mark_no_shows(principal=p, location_id=w.location_there)]),
    'clinic.scheduling.appointments_of': (('staff', 'household'), [
        lambda w, p: scheduling.appointments_of(principal=p, recipient_id=w.there.recipient_id)]),
    'clinic.scheduling.book_appointment': (('staff', 'household'), [
        lambda w, p: scheduling.book_appointment(principal=p, recipient_id=w.there.recipient_id,
                                                 slot_id=w.here_slot, notify=False),
        lambda w, p: scheduling.book_appointment(principal=p, recipient_id=w.here_recipient, slot_id=w.slot_there,
                                                 notify=False)]),
    'clinic.scheduling.cancel_appointment': (('staff', 'household'), [
        lambda w, p: scheduling.cancel_appointment(principal=p, appointment_id=w.there.appointment_id,
                                                   notify=False)]),
    'clinic.scheduling.create_clinic_session': (('staff',), [lambda w, p: scheduling.create_clinic_session(
        principal=p, location_id=w.location_there, session_date=date.today() + timedelta(days=5),
        start_time=time(9), end_time=time(10), slot_minutes=15, capacity_per_slot=2,
        product_ids=[w.there.product_id])]),
    'clinic.scheduling.list_clinic_sessions': (('staff',), [
        lambda w, p: scheduling.list_clinic_sessions(principal=p, location_id=w.location_there)]),
    'clinic.scheduling.reschedule_appointment': (('staff', 'household'), [
        lambda w, p: scheduling.reschedule_appointment(principal=p, appointment_id=w.there.appointment_id,
                                                       slot_id=w.here_slot, notify=False),
        lambda w, p: scheduling.reschedule_appointment(principal=p, appointment_id=w.here_appointment,
                                                       slot_id=w.slot_there, notify=False)]),
    'clinic.scheduling.upcoming_appointments': (('staff',), [
        lambda w, p: scheduling.upcoming_appointments(principal=p, location_id=w.location_there)]),
    'clinic.standby.add_to_standby': (('staff',), [lambda w, p: standby.add_to_standby(
        principal=p, full_name='Olga Otherplace', phone='9195550101', recipient_id=w.there.recipient_id)]),
    'clinic.standby.update_standby': (('staff',), [
        lambda w, p: standby.update_standby(principal=p, entry_id=w.standby_there, status='called')]),
    'clinic.walkin.start_walk_in': (('staff',), [
        lambda w, p: walkin.start_walk_in(principal=p, recipient_id=w.there.recipient_id)]),
    'inventory.ledger.correct_count': (('staff',), [
        lambda w, p: ledger.correct_count(principal=p, location_id=w.location_there, lot_id=w.there.lot_id,
                                          change=1, reason='Found one'),
        lambda w, p: ledger.correct_count(principal=p, location_id=fx.location_id(), lot_id=w.there.lot_id,
                                          change=1, reason='Found one')]),
    'inventory.ledger.count_sheet': (('staff',), [
        lambda w, p: ledger.count_sheet(principal=p, location_id=w.location_there)]),
    'inventory.ledger.draw_dose': (('staff',), [
        lambda w, p: _in_unit_of_work(lambda s: ledger.draw_dose(
            s, principal=p, location_id=w.location_there, lot_id=w.there.lot_id, reference='administration:0')),
        lambda w, p: _in_unit_of_work(lambda s: ledger.draw_dose(
            s, principal=p, location_id=fx.location_id(), lot_id=w.there.lot_id, reference='administration:0'))]),
    'inventory.ledger.history': (('staff',), [
        lambda w, p: ledger.history(principal=p, location_id=w.location_there),
        lambda w, p: ledger.history(principal=p, location_id=fx.location_id(), lot_id=w.there.lot_id)]),
    'inventory.ledger.location_stock': (('staff',), [
        lambda w, p: ledger.location_stock(principal=p, location_id=w.location_there)]),
    'inventory.ledger.record_inventory_count': (('staff',), [
        lambda w, p: ledger.record_inventory_count(principal=p, location_id=w.location_there,
                                                   counted={w.there.lot_id: 9}),
        lambda w, p: ledger.record_inventory_count(principal=p, location_id=fx.location_id(),
                                                   counted={w.there.lot_id: 9})]),
    'inventory.ledger.record_waste': (('staff',), [
        lambda w, p: ledger.record_waste(principal=p, location_id=w.location_there, lot_id=w.there.lot_id, doses=1,
                                         waste_reason='broken_vial'),
        lambda w, p: ledger.record_waste(principal=p, location_id=fx.location_id(), lot_id=w.there.lot_id, doses=1,
                                         waste_reason='broken_vial')]),
    'inventory.ledger.reverse_entry': (('staff',), [lambda w, p: _in_unit_of_work(lambda s: ledger.reverse_entry(
        s, principal=p, entry_id=w.ledger_entry_there, reason='Miscounted'))]),
    'inventory.ledger.save_product': (('staff',), [lambda w, p: ledger.save_product(
        principal=p, product_id=w.there.product_id,
        data=ProductCreate(name='Renamed', manufacturer='Test Pharma', cvx_code='T-REN'))]),
    'inventory.ledger.transfer': (('staff',), [
        lambda w, p: ledger.transfer(principal=p, from_location_id=w.location_there, to_location_id=fx.location_id(),
                                     lot_id=w.there.lot_id, doses=1),
        lambda w, p: ledger.transfer(principal=p, from_location_id=fx.location_id(), to_location_id=w.location_there,
                                     lot_id=w.there.lot_id, doses=1)]),
    'inventory.ledger.transfer_destinations': (('staff',), [
        lambda w, p: ledger.transfer_destinations(principal=p, location_id=w.location_there),
        lambda w, p: ledger.transfer_destinations(principal=p, location_id=fx.location_id(), lot_id=w.there.lot_id)]),
    'inventory.quarantine.held': (('staff',), [
        lambda w, p: quarantine.held(principal=p, location_id=w.location_there)]),
    'inventory.quarantine.release': (('staff',), [
        lambda w, p: quarantine.release(principal=p, hold_id=w.quarantine_there, reason='viable')]),
    'inventory.quarantine.waste': (('staff',), [
        lambda w, p: quarantine.waste(principal=p, hold_id=w.quarantine_there, reason='not viable')]),
    'registry.reporting.messages_for': (('staff', 'household'), [
        lambda w, p: reporting.messages_for(principal=p, administration_id=w.there.administration_id)]),
    'registry.history.query_history': (('staff', 'household'), [
        lambda w, p: history.query_history(principal=p, recipient_id=w.there.recipient_id)]),
    'registry.overview.location_registry': (('staff', 'household'), [
        lambda w, p: overview.location_registry(principal=p, location_id=w.location_there)]),
    'registry.overview.resend': (('staff', 'household'), [
        lambda w, p: overview.resend(principal=p, message_id=_registry_message_of(w.there.administration_id))]),
    'enrollment.agreement.agreement_pdf': (('staff', 'household'), [
        lambda w, p: enrollment_agreement.agreement_pdf(principal=p, enrollment_id=_demo_enrollment())]),
    'enrollment.review.approve': (('staff',), [
        lambda w, p: enrollment_review.approve(principal=p, enrollment_id=_demo_enrollment())]),
    'enrollment.review.open_agreement': (('staff',), [
        lambda w, p: enrollment_review.open_agreement(principal=p, enrollment_id=_demo_enrollment())]),
    'enrollment.review.reject': (('staff',), [
        lambda w, p: enrollment_review.reject(principal=p, enrollment_id=_demo_enrollment(), reason='No')]),
    'enrollment.review.return_for_changes': (('staff',), [
        lambda w, p: enrollment_review.return_for_changes(principal=p, enrollment_id=_demo_enrollment(), note='No')]),
    'inventory.reports.location_report': (('staff',), [
        lambda w, p: reports.location_report(principal=p, location_id=w.location_there)]),
    'inventory.shipments.allocate': (('staff',), [lambda w, p: shipments.allocate(
        principal=p, location_id=w.location_there, product_id=w.there.product_id, doses=10)]),
    'inventory.shipments.list_shipments': (('staff',), [
        lambda w, p: shipments.list_shipments(principal=p, location_id=w.location_there)]),
    'inventory.shipments.mark_shipped': (('staff',), [
        lambda w, p: shipments.mark_shipped(principal=p, shipment_id=w.shipment_there)]),
    'inventory.shipments.receive': (('staff',), [lambda w, p: shipments.receive(
        principal=p, shipment_id=w.shipment_there, lots=[shipments.ReceivedLot('NEW-1', 10, date(2030, 1, 1))],
        condition='good', temperature_excursion=False)]),
    'organizations.employers.approve': (('staff',), [
        lambda w, p: employers.approve(principal=p, organization_id=w.employer_organization)]),
    'organizations.employers.set_user_active': (('staff',), [
        lambda w, p: employers.set_user_active(principal=p, user_id=w.employer_user, active=False)]),
    'organizations.employers.suspend': (('staff',), [
        lambda w, p: employers.suspend(principal=p, organization_id=w.employer_organization)]),
    'organizations.readiness.checklist': (('staff',), [
        lambda w, p: readiness.checklist(principal=p, location_id=w.location_there)]),
    'organizations.readiness.set_ticked': (('staff',), [lambda w, p: readiness.set_ticked(
        principal=p, location_id=w.location_there, item_id=_readiness_item(), ticked=True)]),
    'organizations.readiness.rename_item': (('staff',), [lambda w, p: readiness.rename_item(
        principal=p, item_id=_readiness_item(), label='Renamed')]),
    'organizations.readiness.retire_item': (('staff',), [lambda w, p: readiness.retire_item(
        principal=p, item_id=_readiness_item())]),
    'organizations.readiness.move_item': (('staff',), [lambda w, p: readiness.move_item(
        principal=p, item_id=_readiness_item(), step=1)]),
    'portal.booking.book': (('staff', 'household'), [
        lambda w, p: booking.book(principal=p, recipient_id=w.there.recipient_id, slot_id=w.here_slot)]),
    'portal.booking.cancel_booking': (('staff', 'household'), [
        lambda w, p: booking.cancel_booking(principal=p, appointment_id=w.there.appointment_id)]),
    'portal.booking.reschedule_booking': (('staff', 'household'), [
        lambda w, p: booking.reschedule_booking(principal=p, appointment_id=w.there.appointment_id,
                                                slot_id=w.here_slot)]),
    'portal.booking.upcoming_appointments': (('staff', 'household'), [
        lambda w, p: booking.upcoming_appointments(principal=p, recipient_id=w.there.recipient_id)]),
    'portal.program_status.program_summary': (('staff', 'household'), [
        lambda w, p: program_status.program_summary(principal=p, recipient_id=w.there.recipient_id)]),
    'portal.program_status.vaccination_record': (('staff', 'household'), [
        lambda w, p: program_status.vaccination_record(principal=p, recipient_id=w.there.recipient_id)]),
    'portal.proof.proof_pdf': (('staff', 'household'), [
        lambda w, p: proof.proof_pdf(principal=p, recipient_id=w.there.recipient_id, lang='en')]),
    'portal.proof.verification_url': (('staff', 'household'), [
        lambda w, p: proof.verification_url(principal=p, recipient_id=w.there.recipient_id)]),
    'portal.registration_form.load_registration': (('staff', 'household'), [
        lambda w, p: registration_form.load_registration(principal=p, recipient_id=w.there.recipient_id)]),
    'portal.registration_form.save_progress': (('staff', 'household'), [
        lambda w, p: registration_form.save_progress(principal=p, registration=_registration(w, p), pause=True)]),
    'portal.registration_form.complete_registration': (('staff', 'household'), [
        lambda w, p: registration_form.complete_registration(principal=p, registration=_registration(w, p),
                                                             lang='en')]),
    'portal.vaccine_groups.add_rule': (('staff',), [lambda w, p: vaccine_groups.add_rule(
        principal=p, question_id=1, answer='yes', group_id=1, priority=1)]),
    'portal.vaccine_groups.delete_rule': (('staff',), [
        lambda w, p: vaccine_groups.delete_rule(principal=p, rule_id=1)]),
    'portal.vaccine_groups.save_group': (('staff',), [lambda w, p: vaccine_groups.save_group(
        principal=p, group_id=1, code='G1', name_en='Group 1', name_es='Grupo 1', sort_order=1, is_default=False)]),
    'portal.vaccine_groups.save_question': (('staff',), [lambda w, p: vaccine_groups.save_question(
        principal=p, question_id=1, code='Q1', text_en='Question?', text_es='¿Pregunta?', sort_order=1,
        active=True)]),
    'helpdesk.bulk_loads.load_choices': (('staff', 'household'), [
        lambda w, p: bulk_loads.load_choices(principal=p, case_id=w.case_there)]),
    'helpdesk.bulk_loads.load_on_behalf': (('staff', 'household'), [lambda w, p: bulk_loads.load_on_behalf(
        principal=p, case_id=w.case_there, attachment_id=w.case_file_there, location_id=fx.location_id())]),
    'helpdesk.cases.add_comment': (('staff', 'household'), [
        lambda w, p: cases.add_comment(principal=p, case_id=w.case_there, body='Any news?'),
        lambda w, p: cases.add_comment(principal=p, case_id=w.case_there, body='Noted', internal=True)]),
    'helpdesk.cases.assign': (('staff', 'household'), [lambda w, p: cases.assign(
        principal=p, case_id=w.case_there, group='Technical Support', agent_user_id=p.user_id)]),
    'helpdesk.cases.attachment_file': (('staff', 'household'), [
        lambda w, p: cases.attachment_file(principal=p, attachment_id=w.case_file_there),
        lambda w, p: cases.attachment_file(principal=p, attachment_id=w.case_file_there, key='guessed-key')]),
    'helpdesk.cases.case_view': (('staff', 'household'), [
        lambda w, p: cases.case_view(principal=p, case_id=w.case_there)]),
    'helpdesk.cases.close_case': (('staff', 'household'), [
        lambda w, p: cases.close_case(principal=p, case_id=w.case_there)]),
    'helpdesk.cases.reopen_case': (('staff', 'household'), [
        lambda w, p: cases.reopen_case(principal=p, case_id=w.case_there)]),
    'helpdesk.cases.resolve': (('staff', 'household'), [
        lambda w, p: cases.resolve(principal=p, case_id=w.case_there, notes='Done')]),
    'helpdesk.cases.set_priority': (('staff', 'household'), [
        lambda w, p: cases.set_priority(principal=p, case_id=w.case_there, priority=1)]),
    'helpdesk.cases.set_state': (('staff', 'household'), [
        lambda w, p: cases.set_state(principal=p, case_id=w.case_there, state='in_progress')]),
    'fhir.api.read_immunization': (('staff', 'household'), [
        lambda w, p: fhir_api.read_immunization(principal=p, immunization_id=str(w.there.administration_id))]),
    'fhir.api.read_patient': (('staff', 'household'), [
        lambda w, p: fhir_api.read_patient(principal=p, patient_id=str(w.there.recipient_id))]),
    'fhir.health_cards.health_card': (('staff', 'household'), [
        lambda w, p: health_cards.health_card(principal=p, recipient_id=w.there.recipient_id)]),
    'fhir.tokens.issue_token': (('staff',), [
        lambda w, p: fhir_tokens.issue_token(principal=p, name='Mine', location_id=w.location_there)]),
    'fhir.tokens.revoke_token': (('staff',), [lambda w, p: fhir_tokens.revoke_token(principal=p, token_id=1)]),
    'recipients.listing.list_recipients': (('staff',), [
        lambda w, p: listing.list_recipients(principal=p, location_id=w.location_there)]),
    'recipients.listing.request_removal': (('staff',), [lambda w, p: listing.request_removal(
        principal=p, recipient_id=w.there.recipient_id, reason='Registered twice by mistake')]),
    'helpdesk.knowledge.article_for_editing': (('staff', 'household'), [
        lambda w, p: knowledge.article_for_editing(principal=p, article_id=1)]),
    'helpdesk.knowledge.save_article': (('staff', 'household'), [lambda w, p: knowledge.save_article(
        principal=p, article_id=1, title='Changed', body='Changed', audience='both', language='en')]),
    'helpdesk.knowledge.set_published': (('staff', 'household'), [
        lambda w, p: knowledge.set_published(principal=p, article_id=1, published=False)]),
    'recipients.removal.removal_preview': (('staff', 'household'), [
        lambda w, p: removal.removal_preview(principal=p, recipient_id=w.there.recipient_id)]),
    'recipients.removal.merge_history': (('staff', 'household'), [
        lambda w, p: removal.merge_history(principal=p, recipient_id=w.there.recipient_id)]),
    'recipients.removal.remove_recipient': (('staff', 'household'), [lambda w, p: removal.remove_recipient(
        principal=p, recipient_id=w.here_recipient, reason='Registered twice by mistake')]),
    'recipients.removal.mark_inactive': (('staff', 'household'), [lambda w, p: removal.mark_inactive(
        principal=p, recipient_id=w.there.recipient_id, reason='Moved out of state')]),
    'recipients.removal.merge_recipients': (('staff', 'household'), [lambda w, p: removal.merge_recipients(
        principal=p, source_id=w.here_recipient, survivor_id=w.there.recipient_id, reason='The same person')]),
}

# Functions that receive a record holding an id (a Registration's recipient id) rather than an id parameter.
BY_RECORD = {'portal.registration_form.save_progress', 'portal.registration_form.complete_registration'}

# Functions that take a record id but no principal, and why that is safe: they run inside a caller's unit of work
# after the caller's check, for a job the uploader's check already covered, or show only public data.
UNCHECKED = {
    'accounts.auth.end_sessions': 'inside the unit of work of a password change or a disabled account',
    'accounts.auth.issue_token': 'inside the unit of work that created or checked the account',
    'accounts.staff.create_user': 'the server\'s command line, the demo data, and add_user (which checks)',
    'core.outbox.list_outbox': 'before_id is a page cursor, not a record; only state admins see the outbox',
    'background.finish_upload': 'the job engine finishing an upload its uploader submitted (and was checked for)',
    'inventory.quarantine.hold': 'inside the receiving unit of work of shipments.receive, which checked the shipment',
    'registry.sending.send_message': 'the job engine sending a message a checked dose event queued',
    'registry.reporting.queue_dose_event': 'inside the unit of work recording the dose event, which checked it',
    'bulk.pipeline.insert_ready': 'inside the bulk upload\'s unit of work; the id is the uploader\'s own',
    'helpdesk.bulk_loads.report_stopped': 'inside the unit of work of the job that stopped a load an agent was '
                                          'checked for (load_on_behalf)',
    'bulk.registration.run_job': 'the job engine running an upload its uploader submitted (and was checked for)',
    'clinic.dose_rules.doses_before': 'inside a unit of work that fetched the person through permissions',
    'clinic.dose_rules.doses_for_verification': 'the public verification link: its unguessable code is the key',
    'clinic.dose_rules.valid_dose_rows': 'inside a unit of work that fetched the person through permissions',
    'clinic.dose_rules.next_dose_number': 'inside a unit of work that fetched the person through permissions',
    'clinic.events.publish': 'in-process change notices: a location id, no data',
    'clinic.events.subscribe': 'in-process change notices: a location id, no data',
    'clinic.events.subscriber_count': 'in-process change notices: a location id, no data',
    'clinic.scheduling.doses_booked': 'inside a booking\'s unit of work, after its check',
    'clinic.scheduling.open_slots': 'public: the open times of every clinic, for booking',
    'core.audit.record': 'writes the audit row of a change the caller was allowed to make',
    'core.audit.record_now': 'writes the audit row of a read or download the caller was allowed to make',
    'inventory.ledger.local_day': 'inside the caller\'s unit of work, after its check',
    'inventory.ledger.local_today': 'inside the caller\'s unit of work, after its check',
    'inventory.ledger.lot_for': 'inside a shipment receipt\'s unit of work, after its check (a product id)',
    'inventory.ledger.on_hand': 'inside the caller\'s unit of work, after its check',
    'inventory.ledger.post': 'the one ledger write, inside the caller\'s unit of work, after its check',
    'inventory.ledger.stock': 'inside the caller\'s unit of work, after its check',
    'inventory.ledger.usable_lots': 'inside the caller\'s unit of work, after its check',
    'permissions.fetch': 'the rule itself',
    'permissions.require': 'the rule itself',
    'permissions.works_at': 'the rule itself',
    'portal.booking.slots_at': 'public: the open times of a clinic, for booking',
    'portal.program_status.doses_for_verification': 'the public verification link: its unguessable code is the key',
    'recipients.registry.create_recipient': 'inside the unit of work of a registration path, after its check',
    'helpdesk.knowledge.published_article': 'public: a published article, for anyone; drafts are NotFound',
    'helpdesk.knowledge.article_url': 'the address of an article: no record is read',
    'recipients.visibility.listed': 'a condition (recipient_id names a column), added beside a list\'s row scope',
    'recipients.visibility.inactive_count': 'a count inside a list\'s unit of work, after its check',
}


def _registry_message_of(administration_id: int) -> int:
    from models.registry import RegistryMessage
    with session_scope(read_only=True) as session:
        return session.exec(select(RegistryMessage.id).where(RegistryMessage.administration_id == administration_id)
                            ).first()


def functions_taking_a_record_id() -> set[str]:
    """Every public function of services/ with a parameter naming a record's id (`..._id`), as 'module.function'
    under services."""
    found = set()
    for module_info in pkgutil.walk_packages(services.__path__, 'services.'):
        module = importlib.import_module(module_info.name)
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ == module.__name__ and not name.startswith('_') and any(
                    parameter.endswith('_id') for parameter in inspect.signature(function).parameters):
                found.add(f'{module.__name__.removeprefix("services.")}.{name}')
    return found


def test_every_function_taking_a_record_id_has_its_case() -> None:
    """A new service function with an id parameter needs a line in CASES (or UNCHECKED, with the reason)."""
    discovered = functions_taking_a_record_id()
    missing = discovered - set(CASES) - set(UNCHECKED)
    assert not missing, f'add a refusal case to CASES (or a reason to UNCHECKED) for: {sorted(missing)}'
    gone = (set(CASES) - BY_RECORD | set(UNCHECKED)) - discovered
    assert not gone, f'these functions are gone or take no id any more: {sorted(gone)}'


def test_every_function_taking_a_record_id_refuses_another_locations_record(world: World) -> None:
    failures = []
    for name, (who, calls) in CASES.items():
        for role in who:
            principal = getattr(world, role)
            for number, call in enumerate(calls, start=1):
                before = refusals()
                try:
                    call(world, principal)
                except NotAllowed:
                    if refusals() != before + 1:
                        failures.append(f'{name} #{number} as {role}: refused without an audit event')
                    continue
                except Exception as error:  # noqa: BLE001 - every other outcome is a failure, listed below
                    failures.append(f'{name} #{number} as {role}: {type(error).__name__}: {error}')
                    continue
                failures.append(f'{name} #{number} as {role}: not refused')
    assert not failures, '\n'.join(failures)
    assert status_of(world.there.appointment_id) == 'checked_in'  # nothing happened to Clinic Location2's visit
