"""The one place tests make and look up data: the demo logins and their principals, locations, products and lots
with stock, recipients, clinic sessions, slots and appointments, portal accounts, and the UI log-in.

Everything goes through the database (and through the services where a person would act), so a test sees what a
user would. Import the names (`from tests.factories import MANAGER, principal`) or the module
(`from tests import factories as fx` where the names would clash with a test's own variables)."""
from __future__ import annotations

import re
import uuid
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import select

from models import Location, Organization, Recipient, User
from models.clinic import Appointment
from models.inventory import LedgerKind, Product
from services.accounts.auth import principal_for
from services.clinic import administration, checkin, common, scheduling
from services.core import localtime
from services.core.db import session_scope
from services.demo import DEMO_PASSWORD
from services.inventory import ledger
from services.portal import household_members, registration_form
from services.portal.accounts import attach_recipient
from services.principal import Principal
from services.recipients.identity import fold, identity_key

# ---------------------------------------------------------------- the demo logins (the `demo` fixture makes them)

ADMIN = 'admin@demo.cvms.example.org'
MANAGER = 'manager@demo.cvms.example.org'  # location manager of DEMO1
PROVIDER = 'provider@demo.cvms.example.org'  # healthcare provider at DEMO1
EMPLOYER = 'employer@demo.cvms.example.org'
RECIPIENT = 'recipient@demo.cvms.example.org'  # a portal account; its household holds Grace Wilms
AGENT = 'agent@demo.cvms.example.org'  # help desk agent (state staff)


def principal(email: str) -> Principal:
    """The principal of an existing account, as services receive it from a page."""
    with session_scope(read_only=True) as session:
        return principal_for(session, session.exec(select(User).where(User.email == email)).one())


def help_desk_agent() -> Principal:
    return principal(AGENT)


def manager_of(code: str) -> Principal:
    """The demo's manager for DEMO1; a location manager made on first use for any other location."""
    if code == 'DEMO1':
        return principal(MANAGER)
    email = f'manager.{code.lower()}@demo.cvms.example.org'
    with session_scope() as session:
        user = session.exec(select(User).where(User.email == email)).first()
        if user is None:
            from services.accounts.staff import create_user
            user = create_user(session, email=email, role='location_manager', full_name=f'Manager {code}',
                               location_code=code, password='Another-Demo-Password-2021', send_welcome=False)
        return principal_for(session, user)


async def log_in(user, email: str, password: str = DEMO_PASSWORD, *,  # noqa: ANN001 - NiceGUI's testing User
                 expect_success: bool = True) -> None:
    """Fill the log-in form like a person; waits for the dashboard (hashing runs off the event loop)."""
    from nicegui import ui  # imported here: service tests and the CLI tests never load NiceGUI
    await user.open('/login')
    user.find('Email').type(email)
    user.find('Password').type(password)
    user.find(kind=ui.button, content='Log in').click()
    if expect_success:
        await user.should_see('Log out', retries=100)


def staff_rows(user) -> list[list[str]]:  # noqa: ANN001 - NiceGUI's testing User
    """The Users screen's accounts as the simulated browser shows them: [name, email, role, location, organization,
    status, actions] of each row."""
    from nicegui import ui
    return [[label.text for label in row.descendants() if isinstance(label, ui.label)]
            for row in user.find(marker='staff-row').elements if not row.is_deleted]


async def staff_row(user, email: str, *, showing: str | None = None) -> list[str]:  # noqa: ANN001
    """The Users screen's row of this account once it shows (with the text `showing` in a cell, when given): the
    list redraws just after the click's handler."""
    import asyncio
    for _ in range(100):
        rows = [row for row in staff_rows(user) if row[1] == email and (showing is None or showing in row)]
        if rows:
            return rows[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f'no row for {email} showing {showing} in {staff_rows(user)}')


def set_value(user, marker: str, value: object) -> None:  # noqa: ANN001 - NiceGUI's testing User
    """Choose a value in the simulated browser's input, select or radio with this marker."""
    with user:
        user.find(marker=marker).elements.pop().set_value(value)


def count_rows(model, *where) -> int:  # noqa: ANN001
    """How many rows of `model` match every condition in `where`."""
    with session_scope(read_only=True) as session:
        query = select(func.count()).select_from(model)
        for condition in where:
            query = query.where(condition)
        return session.exec(query).one()


# ---------------------------------------------------------------- places

def location(code: str = 'DEMO1') -> Location:
    with session_scope(read_only=True) as session:
        return session.exec(select(Location).where(Location.code == code)).one()


def location_id(code: str = 'DEMO1') -> int:
    return location(code).id or 0


def organization_id(kind: str) -> int:
    """The demo's one organization of a kind ('employer', ...)."""
    with session_scope(read_only=True) as session:
        return session.exec(select(Organization.id).where(Organization.kind == kind)).one()


def local_today(code: str = 'DEMO1') -> date:
    """Today at the location (doses are dated in its time zone, which may differ from UTC's date)."""
    return localtime.local_today(location(code))


# ---------------------------------------------------------------- products and lots

def product(*, name: str | None = None, cvx: str | None = None, doses: int = 2, interval: int | None = 28,
            per_vial: int = 10, storage: str = 'frozen') -> int:
    """A new product (a unique CVX code unless given); returns its id."""
    cvx = cvx or 'T' + uuid.uuid4().hex[:6]
    with session_scope() as session:
        row = Product(name=name or f'Test vaccine {cvx}', manufacturer='Test Pharma', cvx_code=cvx,
                      doses_in_series=doses, days_between_doses=interval, doses_per_vial=per_vial, storage=storage,
                      hours_usable_after_puncture=6)
        session.add(row)
        session.flush()
        return row.id or 0


def product_id(cvx: str) -> int:
    """An existing product by its CVX code (the demo's: '207' Moderna, '208' Pfizer-BioNTech, '212' Janssen)."""
    with session_scope(read_only=True) as session:
        return session.exec(select(Product.id).where(Product.cvx_code == cvx)).one()


def stocked_lot(product_id: int | None = None, *, doses: int = 10, code: str = 'DEMO1', lot_number: str | None = None,
                expires: date | None = None, received_at: datetime | None = None) -> int:
    """A lot of the product (a new product unless given) with `doses` received at the location (a receipt row in
    the ledger; none for 0 doses); returns the lot id."""
    product_id = product_id or product()
    where = location_id(code)
    with session_scope() as session:
        lot = ledger.lot_for(session, product_id=product_id, lot_number=lot_number or f'L{uuid.uuid4().hex[:6]}',
                             expiration_date=expires or date.today() + timedelta(days=120))
        if doses:
            ledger.post(session, actor=None, location_id=where, lot_id=lot.id, change=doses,
                        kind=LedgerKind.RECEIPT, reference='test receipt', at=received_at)
        return lot.id or 0


def lot_by_number(lot_number: str, code: str = 'DEMO1') -> int:
    """A lot held at the location, by its number."""
    with session_scope(read_only=True) as session:
        return next(s.lot_id for s in ledger.stock(session, location_id=location_id(code))
                    if s.lot_number == lot_number)


def on_hand(lot_id: int | None = None, code: str = 'DEMO1') -> int:
    """Doses of the lot (of every lot without one) on hand at the location."""
    with session_scope(read_only=True) as session:
        return ledger.on_hand(session, location_id=location_id(code), lot_id=lot_id)


# ---------------------------------------------------------------- recipients and portal accounts

def recipient(first: str = 'Grace', last: str | None = None, *, born: date = date(1961, 3, 9), code: str = 'DEMO1',
              email: str | None = None) -> int:
    """A recipient loaded at the location (a unique last name unless given); returns the id."""
    last = last or f'Wilms{uuid.uuid4().hex[:4]}'
    here = location(code)
    with session_scope() as session:
        row = Recipient(first_name=first, last_name=last, date_of_birth=born, email=email, location_id=here.id,
                        organization_id=here.organization_id, identity_key=identity_key(first, last, born),
                        first_name_key=fold(first), last_name_key=fold(last))
        session.add(row)
        session.flush()
        return row.id or 0


def invite(first: str, last: str, born: date, email: str, code: str = 'DEMO1') -> int:
    """A recipient loaded by a provider with a portal account: the same attach_recipient the bulk upload uses
    (queues the welcome email with the set-password link). Returns the recipient id."""
    recipient_id = recipient(first, last, born=born, code=code, email=email)
    with session_scope() as session:
        attach_recipient(session, session.get(Recipient, recipient_id))
    return recipient_id


def invited_by_employer(people: list[tuple[str, str, date, str]], email: str = EMPLOYER) -> list[int]:
    """People (first name, last name, date of birth, email) the employer invites as the screen does: a Low Volume
    Bulk Registration file (their portal accounts and welcome emails too). Returns their recipient ids."""
    from services.bulk import registration as bulk
    from services.core.csv_safe import to_csv_bytes
    employer = principal(email)
    rows = [[first, last, f'{born:%m/%d/%Y}', address] for first, last, born, address in people]
    outcome = bulk.create_records(principal=employer, previewed=bulk.preview(principal=employer, data=to_csv_bytes(
        ['First name', 'Last name', 'Date of birth', 'Email'], rows), file_name='invitations.csv'))
    assert outcome.failed == 0, [r.error for r in outcome.failed_rows]
    with session_scope(read_only=True) as session:
        return [session.exec(select(Recipient.id).where(Recipient.identity_key == identity_key(first, last, born))
                             ).one() for first, last, born, _ in people]


def recipient_named(first: str) -> Recipient:
    with session_scope(read_only=True) as session:
        return session.exec(select(Recipient).where(Recipient.first_name == first)).one()


# As the portal's selects give them: sex, race and ethnicity as codes (services.recipients.codes).
PORTAL_CONTACT = {'address_line1': '1 Main St', 'city': 'Raleigh', 'county': 'Wake', 'zip_code': '27603',
                  'phone': '(919) 555-0100', 'sex': 'F', 'race': '2028-9', 'ethnicity': '2135-2',
                  'preferred_language': 'es'}


def portal_registration(email: str = RECIPIENT, **answers: str) -> tuple[Principal, int]:
    """The portal account's first household member completes registration (contact details above, vaccine-group
    `answers` such as health_worker='yes'). Returns (the account's principal, the recipient id)."""
    who = principal(email)
    person = household_members.household(principal=who)[0]
    registration = registration_form.load_registration(principal=who, recipient_id=person.id)
    registration.contact.update(PORTAL_CONTACT)
    registration.group_answers.update(answers)
    registration_form.complete_registration(principal=who, registration=registration, lang='en')
    return who, person.id


def link_in(body: str, path: str) -> str:
    """The path of the link to `path` in an email body (e.g. '/set-password/')."""
    match = re.search(rf'https?://\S+({re.escape(path)}\S+)', body)
    assert match, body
    return match.group(1)


# ---------------------------------------------------------------- clinic sessions, slots, appointments, doses

def clinic_session(product_ids: list[int], *, on: date | None = None, start: time = time(9), end: time = time(12),
                   slot_minutes: int = 15, capacity: int = 4, code: str = 'DEMO1') -> scheduling.ClinicSessionInfo:
    """A clinic session at the location (three days ahead unless `on`), made by its manager."""
    on = on or date.today() + timedelta(days=3)
    return scheduling.create_clinic_session(principal=manager_of(code), location_id=location_id(code), session_date=on,
                                            start_time=start, end_time=end, slot_minutes=slot_minutes,
                                            capacity_per_slot=capacity, product_ids=product_ids)


def today_session(product_ids: list[int], *, capacity: int = 10, code: str = 'DEMO1') -> scheduling.ClinicSessionInfo:
    """A session later today at the location (5-minute slots from two minutes from now), for desk tests."""
    here = location(code)
    now = localtime.local_now(here)
    start = (now + timedelta(minutes=2)).replace(second=0, microsecond=0)
    if start.date() != now.date() or start.time() > time(23, 40):
        pytest.skip('too close to midnight at the location for a same-day clinic session')
    end = min(datetime.combine(now.date(), time(23, 59)), (start + timedelta(minutes=60)).replace(tzinfo=None))
    return scheduling.create_clinic_session(principal=manager_of(code), location_id=here.id, session_date=now.date(),
                                            start_time=start.time(), end_time=end.time(), slot_minutes=5,
                                            capacity_per_slot=capacity, product_ids=product_ids)


def open_clinic(code: str = 'DEMO1', *, days_ahead: int = 1, doses: int = 20, lot_number: str = 'LOT-PORTAL',
                product_id: int | None = None) -> tuple[int, int]:
    """A two-dose product with stock at the location and a clinic session `days_ahead` from today at the location
    (09:00-11:00, 15-minute slots, two people a slot). Returns (product id, lot id)."""
    product_id = product_id or product(name='Comirnaty Test')
    lot_id = stocked_lot(product_id, doses=doses, code=code, lot_number=lot_number)
    clinic_session([product_id], on=local_today(code) + timedelta(days=days_ahead), start=time(9), end=time(11),
                   capacity=2, code=code)
    return product_id, lot_id


def first_slot(product_id: int, location_id: int | None = None) -> int:
    """The soonest open slot offering the product (the demo has its own sessions too); at DEMO1 unless given."""
    return scheduling.open_slots(location_id=location_id or location().id, product_id=product_id,
                                 limit=1)[0].slot_id


def appointment(product_id: int, recipient_id: int | None = None, *,
                code: str = 'DEMO1') -> scheduling.AppointmentPublic:
    """The location's manager books the soonest open slot offering the product (for a new recipient unless given),
    without the confirmation email."""
    return scheduling.book_appointment(principal=manager_of(code), recipient_id=recipient_id or recipient(code=code),
                                       slot_id=first_slot(product_id, location_id(code)), notify=False)


def give_dose(case_number: str, lot_id: int) -> None:
    """The clinic desk: check the person in and record the dose (the clinic-day services)."""
    manager = principal(MANAGER)
    with session_scope(read_only=True) as session:
        appointment_id = session.exec(select(Appointment.id).where(Appointment.case_number == case_number)).one()
    checkin.check_in(principal=manager, appointment_id=appointment_id)
    answers = {key: 'no' for key, _ in common.SCREENING_QUESTIONS}
    administration.record_vaccination(principal=manager, appointment_id=appointment_id,
                                      details=administration.DoseDetails(lot_id=lot_id, screening=answers,
                                                                         consent=True))


def walk_in_dose(first: str, last: str, *, born: date = date(1958, 5, 17), lot_id: int | None = None,
                 code: str = 'DEMO1') -> int:
    """A dose given to a new walk-in at the location (a registry message is queued with it); the dose's id."""
    from models.clinic import Administration
    from services.clinic import walkin
    lot_id = lot_id or stocked_lot(product_id('207'), doses=5, code=code)
    provider = principal(PROVIDER) if code == 'DEMO1' else manager_of(code)
    visit = walkin.start_walk_in(principal=provider, recipient_id=recipient(first, last, born=born, code=code),
                                 screening=None)
    administration.record_vaccination(principal=provider, appointment_id=visit.id, details=administration.DoseDetails(
        lot_id=lot_id, screening={key: 'no' for key, _ in common.SCREENING_QUESTIONS}, consent=True))
    with session_scope(read_only=True) as session:
        return session.exec(select(Administration.id).where(Administration.appointment_id == visit.id)).one()


def recorded_dose(first: str = 'Rosa', last: str | None = None, *, born: date = date(1950, 7, 4),
                  cvx: str = '207') -> tuple[int, int]:
    """A demo product's dose recorded at the DEMO1 desk for a new recipient: returns (recipient id, dose id)."""
    from models.clinic import Administration
    product = product_id(cvx)
    lot = stocked_lot(product, doses=5)
    clinic_session([product])
    person = recipient(first, last, born=born)
    give_dose(appointment(product, person).case_number, lot)
    with session_scope(read_only=True) as session:
        return person, session.exec(select(Administration.id).where(Administration.recipient_id == person)).one()

# ---------------------------------------------------------------- background work

def due_reminders(count: int, *, code: str = 'DEMO1') -> list[int]:
    """`count` dose reminders due today, for as many new recipients with email addresses (one real dose recorded
    at the desk gives them an administration to point at; the rest are written as the clinic job would find them).
    Returns the reminders' ids."""
    from models.clinic import Administration, DoseReminder
    from services.clinic import walkin
    product_id = product(interval=21)
    lot_id = stocked_lot(product_id, doses=2, code=code)
    provider = principal(PROVIDER)
    visit = walkin.start_walk_in(principal=provider, recipient_id=recipient('Remy', code=code), screening=None)
    administration.record_vaccination(principal=provider, appointment_id=visit.id, details=administration.DoseDetails(
        lot_id=lot_id, screening={key: 'no' for key, _ in common.SCREENING_QUESTIONS}, consent=True))
    today = local_today(code)
    here = location(code)
    with session_scope() as session:
        given = session.exec(select(Administration.id).order_by(Administration.id.desc())).first()
        people = [Recipient(first_name=f'Due{i}', last_name='Reminder', date_of_birth=date(1970, 1, 1) + timedelta(i),
                            email=f'due{i}@remind.example.org', location_id=here.id,
                            organization_id=here.organization_id,
                            identity_key=identity_key(f'Due{i}', 'Reminder', date(1970, 1, 1) + timedelta(i)),
                            first_name_key=fold(f'Due{i}'), last_name_key='reminder') for i in range(count)]
        session.add_all(people)
        session.flush()
        reminders = [DoseReminder(recipient_id=p.id, administration_id=given, dose_number=2,
                                  due_date=today + timedelta(days=3), send_on=today) for p in people]
        session.add_all(reminders)
        session.flush()
        return [r.id for r in reminders]


# ---------------------------------------------------------------- provider enrollment (services/enrollment)

ENROLLING = 'enroll@sandhills.example.org'  # the contact of the provider `invited_provider` invites
COORDINATOR = 'coordinator@sandhills.example.org'  # its location's primary vaccine coordinator


def invited_provider(name: str = 'Sandhills Pharmacy', email: str = ENROLLING, group: str = 'G1') -> int:
    """A provider organization the state admin invited (status Invited); returns the enrollment's id."""
    from services.enrollment import invitations
    return invitations.invite(principal=principal(ADMIN), organization_name=name, contact_email=email,
                              priority_group=group)


def agreement_draft(*, legal_name: str = 'Sandhills Pharmacy', coordinator: str = COORDINATOR,
                    redistribution: bool = False) -> dict:
    """A complete Provider Agreement: the demo's, renamed, with its own coordinator email."""
    from services.enrollment.demo import demo_draft
    draft = demo_draft()
    draft['organization']['legal_name'] = legal_name
    draft['locations'][0].update(name=f'{legal_name} Main', primary_email=coordinator, primary_name='Casey Coord')
    draft['redistribution'] = redistribution
    return draft


def signed_agreement(email: str = ENROLLING, **draft_options: object) -> Principal:
    """The contact fills the agreement and both officers (and the redistribution part, when asked) sign it."""
    from services.enrollment import agreement, form
    who = principal(email)
    draft = agreement_draft(**draft_options)  # type: ignore[arg-type]
    agreement.save_draft(principal=who, draft=draft, step=4)
    for part in ('cmo', 'ceo'):
        agreement.sign(principal=who, part=part, typed_name=draft[part]['name'], attestations=list(form.ATTESTATIONS))
    if draft['redistribution']:
        agreement.sign(principal=who, part='redistribution', typed_name=draft['ceo']['name'],
                       attestations=list(form.REDISTRIBUTION_ATTESTATIONS))
    return who


def submitted_provider(name: str = 'Sandhills Pharmacy', email: str = ENROLLING, **draft_options: object) -> int:
    """Invited, filled, signed and submitted; returns the enrollment's id."""
    from services.enrollment import agreement
    enrollment_id = invited_provider(name, email)
    agreement.submit(principal=signed_agreement(email, legal_name=name, **draft_options))
    return enrollment_id


def with_password(email: str, password: str = DEMO_PASSWORD) -> None:
    """An account invited by email, as if its owner had followed the link and chosen `password`."""
    from services.accounts.passwords import hash_password
    with session_scope() as session:
        user = session.exec(select(User).where(User.email == email)).one()
        user.password_hash = hash_password(password)
        session.add(user)


def fill_agreement_fields(user, draft: dict, paths: list[str]) -> None:  # noqa: ANN001 - NiceGUI's testing User
    """Type the draft's answers into the agreement form's fields named by `paths` ('organization.legal_name',
    'locations.0.hours', 'locations.0.storage_units.1.capacity'...)."""
    for path in paths:
        value: object = draft
        for part in path.split('.'):
            value = value[int(part)] if isinstance(value, list) else value[part]  # type: ignore[index]
        set_value(user, f'agreement-{path.replace(".", "-")}', value)
