"""One table of inputs through every way a recipient comes in: Bulk Registration's row check, the desk's point-of-care
registration, the portal's registration (contact step), self-registration (sign-up) and household (add a family
member), and paper back-entry (which names registered people): the same verdict and the same message everywhere,
on SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlmodel import select

from models import Recipient
from services.bulk import registration as bulk
from services.clinic import back_entry, common, walkin
from services.core.db import session_scope
from services.core.errors import ServiceError
from services.portal import household_members, registration_form, vaccine_groups
from services.recipients import fields
from tests.factories import ADMIN, MANAGER, PROVIDER, RECIPIENT, principal

TODAY = fields.today()
FUTURE = f'{TODAY + timedelta(days=1):%m/%d/%Y}'
NAME_HINT = ' (use only letters, digits, spaces, hyphens, apostrophes and periods)'
DUPLICATE = ('Duplicate recipient: a recipient with this first name, last name and date of birth is already registered '
             '(find that record instead of registering the person again)')
CONTACT = {'address_line1': '1 Main St', 'city': 'Raleigh', 'county': 'Wake', 'zip_code': '27603',
           'phone': '919-555-0100', 'sex': 'F', 'race': '2106-3', 'ethnicity': '2186-5', 'preferred_language': 'en'}
IDENTITY = ('first_name', 'last_name', 'date_of_birth')
SCREENING = {key: 'no' for key, _ in common.SCREENING_QUESTIONS}


@dataclass(frozen=True)
class Case:
    field: str
    typed: str
    message: str | None  # None: accepted
    stored: str | None = None  # what is kept, when it differs from what was typed


CASES = [
    Case('first_name', 'Anne2', None),  # the guide's own files load "Ashley1"
    Case('last_name', 'Ñúñez', None),
    Case('last_name', "O'Brien-Smith", None),
    Case('last_name', 'O’Neil Jr.', None),
    Case('first_name', 'Mary  Ann', None, stored='Mary Ann'),
    Case('first_name', 'Zoë', None),
    Case('first_name', 'Anne<', f'FirstName: invalid characters: Anne<{NAME_HINT}'),
    Case('last_name', 'Smith, Jr', f'LastName: invalid characters: Smith, Jr{NAME_HINT}'),
    Case('last_name', '=1+2', f'LastName: invalid characters: =1+2{NAME_HINT}'),
    Case('first_name', '42', 'FirstName: invalid characters: 42 (a name needs at least one letter)'),
    Case('first_name', 'A' * 81, f'FirstName: too long (at most 80 characters): {"A" * 81}'),
    Case('last_name', '', 'Required fields are missing: [LastName]'),
    Case('date_of_birth', '1/1/1905', 'Date of birth: invalid Date of birth: 1/1/1905 (more than 120 years ago)'),
    Case('date_of_birth', FUTURE, f'Date of birth: invalid Date of birth: {FUTURE} (it is in the future)'),
    Case('date_of_birth', f'{TODAY:%m/%d/%Y}', None),
    Case('date_of_birth', '3/9/1961', None),
    Case('date_of_birth', '12/8/19555', 'Date of birth: invalid Date of birth: 12/8/19555 (enter it as MM/DD/YYYY)'),
    Case('date_of_birth', '2/30/1990', 'Date of birth: invalid Date of birth: 2/30/1990 (enter it as MM/DD/YYYY)'),
    Case('date_of_birth', '1990-01-02', 'Date of birth: invalid Date of birth: 1990-01-02 (enter it as MM/DD/YYYY)'),
    Case('email', 'bademail', 'Email: invalid email address: bademail (enter an address like name@example.org)'),
    Case('email', 'Nicholas.NoEmail@',
         'Email: invalid email address: Nicholas.NoEmail@ (enter an address like name@example.org)'),
    Case('email', 'zoe@bücher.de', None),
    Case('phone', '(919) 555-0100', None),
    Case('phone', '+1 919 555 0100', None),
    Case('phone', '555-0100',
         'Phone: invalid phone number: 555-0100 (enter a 10-digit phone number, like 919-555-0100)'),
    Case('phone', '123-456-7890',
         'Phone: invalid phone number: 123-456-7890 (enter a 10-digit phone number, like 919-555-0100)'),
    Case('phone', 'call 9195550100',
         'Phone: invalid phone number: call 9195550100 (enter a 10-digit phone number, like 919-555-0100)'),
    Case('zip_code', '27603-1234', None),
    Case('zip_code', '2760', 'ZIP code: invalid ZIP code: 2760 (enter 5 digits, or ZIP+4 like 27603-1234)'),
    Case('zip_code', '27603abcde', 'ZIP code: invalid ZIP code: 27603abcde (enter 5 digits, or ZIP+4 like 27603-1234)'),
    Case('county', 'wake county', None, stored='Wake'),
    Case('county', 'Narnia',
         'County: not a North Carolina county: Narnia (choose one of the 100 counties, like Wake)'),
    Case('city', 'Winston-Salem', None),
    Case('city', 'Raleigh!', f'City: invalid characters: Raleigh!{NAME_HINT}'),
    Case('address_line1', '1 Main St, Apt #2', None),
    Case('address_line1', 'x' * 201, f'Street address: too long (at most 200 characters): {"x" * 201}'),
    Case('sex', 'Female', None, stored='F'),
    Case('sex', 'female', None, stored='F'),
    Case('sex', 'F', None, stored='F'),
    Case('sex', 'f', None, stored='F'),
    Case('sex', 'M', None, stored='M'),
    Case('sex', 'Unknown', None, stored='U'),
    Case('sex', 'X', 'Sex: invalid value: X (choose one of: Female, Male, Unknown or prefer not to say)'),
    Case('race', 'Black or African American', None, stored='2054-5'),
    Case('race', '2106-3', None, stored='2106-3'),
    Case('race', 'Prefer not to say', None, stored='UNK'),
    Case('ethnicity', 'hispanic or latino', None, stored='2135-2'),
    Case('ethnicity', 'Latino', 'Ethnicity: invalid value: Latino (choose one of: Hispanic or Latino, '
                                'Not Hispanic or Latino, Unknown or prefer not to say)'),
]


@dataclass(frozen=True)
class Outcome:
    message: str | None  # None: accepted
    recipient_id: int | None = None


def person(path: str, case: int, field: str, typed: str) -> dict[str, str]:
    """A valid record whose one field is `typed`; the other identity fields differ by path and case (no accidental
    duplicates)."""
    born = date(1950, 1, 1) + timedelta(days=case)
    values = {'first_name': path, 'last_name': f'Case{case} {path}', 'date_of_birth': f'{born:%m/%d/%Y}',
              'email': f'{path.lower()}{case}@example.org', **CONTACT, 'state': 'NC'}
    values[field] = typed
    return values


# ---------------------------------------------------------------- the entry paths


def by_bulk(values: dict[str, str]) -> Outcome:
    data = io.StringIO()
    csv.writer(data).writerows([['First name', 'Last name', 'Date of birth', 'Email'],
                                [values['first_name'], values['last_name'], values['date_of_birth'], values['email']]])
    [row] = bulk.preview(principal=principal(MANAGER), data=data.getvalue().encode(), file_name='parity.csv').rows
    return Outcome(row.error.removeprefix('Line 2: ') if not row.ready else None)


def by_desk(values: dict[str, str]) -> Outcome:
    data = walkin.PointOfCareRegistration(screening=SCREENING, **{
        name: values[name] for name in ('first_name', 'last_name', 'date_of_birth', 'sex', 'address_line1', 'city',
                                        'county', 'state', 'zip_code', 'phone', 'email', 'race', 'ethnicity')})
    return _outcome(lambda: walkin.register_at_point_of_care(principal=principal(PROVIDER), data=data).recipient_id)


def by_portal_registration(values: dict[str, str]) -> Outcome:
    who = principal(RECIPIENT)
    grace = household_members.household(principal=who)[0].id
    registration = registration_form.load_registration(principal=who, recipient_id=grace)
    registration.contact.update({name: values[name] for name in CONTACT})
    page_says = fields.problems_text(registration_form.contact_problems(registration.contact)) or None

    def complete() -> int:
        registration_form.complete_registration(principal=who, registration=registration, lang='en')
        return grace
    outcome = _outcome(complete)
    assert page_says == outcome.message  # the stepper's Next shows what Submit refuses
    return outcome


def by_sign_up(values: dict[str, str]) -> Outcome:
    def sign_up() -> int:
        registration_form.sign_up(first_name=values['first_name'], last_name=values['last_name'],
                                  date_of_birth=values['date_of_birth'], email=values['email'], lang='en')
        with session_scope() as session:
            return session.exec(select(Recipient.id).where(Recipient.email == values['email'].lower())).one()
    return _outcome(sign_up)


def by_household(values: dict[str, str]) -> Outcome:
    return _outcome(lambda: household_members.add_dependent(
        principal=principal(RECIPIENT), first_name=values['first_name'], last_name=values['last_name'],
        date_of_birth=values['date_of_birth'], lang='en'))


def by_back_entry(values: dict[str, str]) -> Outcome:
    """Back-entry registers no one: it finds the person the paper form names, by the same rules."""
    data = io.StringIO()
    csv.writer(data).writerows([back_entry.TEMPLATE_HEADER, [
        values['first_name'], values['last_name'], values['date_of_birth'], f'{TODAY:%m/%d/%Y}', '09:00', '207',
        'LOT-X', '1', 'Left deltoid', 'IM', '0.5', 'Outage', '']])
    outcome = back_entry.load_file(principal=principal(PROVIDER), data=data.getvalue().encode(), email_errors=False)
    error = list(csv.reader(io.StringIO(outcome.error_file.decode('utf-8-sig'))))[1][-1].removeprefix('Line 2: ')
    return Outcome(None if error.startswith('No registered recipient is named') else error)


def _outcome(action: Callable[[], int]) -> Outcome:
    try:
        return Outcome(None, action())
    except ServiceError as refusal:
        return Outcome(str(refusal))


PATHS = {'Bulk': (by_bulk, {'first_name', 'last_name', 'date_of_birth', 'email'}),
         'Desk': (by_desk, set(fields.RECIPIENT_FIELDS)),
         'Portal': (by_portal_registration, set(CONTACT)),
         'Signup': (by_sign_up, {'first_name', 'last_name', 'date_of_birth', 'email'}),
         'Family': (by_household, set(IDENTITY)),
         'Paper': (by_back_entry, set(IDENTITY))}


def stored(recipient_id: int, field: str) -> object:
    with session_scope() as session:
        recipient = session.get(Recipient, recipient_id)
        value = getattr(recipient, field)
        return f'{value:%m/%d/%Y}' if isinstance(value, date) else value


@pytest.mark.parametrize('case', CASES, ids=[f'{c.field}={c.typed[:20]!r}' for c in CASES])
def test_every_entry_path_gives_the_same_verdict_and_message(demo, case: Case) -> None:
    vaccine_groups.set_self_registration(principal=principal(ADMIN), enabled=True)
    index = CASES.index(case)
    verdicts = {}
    for path, (enter, takes) in PATHS.items():
        if case.field not in takes or (path == 'Paper' and not case.typed):
            continue  # back-entry's file has its own required columns
        outcome = enter(person(path, index, case.field, case.typed))
        verdicts[path] = outcome.message
        if outcome.recipient_id is not None and case.field != 'date_of_birth':
            kept = case.typed.lower() if case.field == 'email' else case.typed
            assert stored(outcome.recipient_id, case.field) == (case.stored or kept), path
    assert len(verdicts) >= 2
    assert verdicts == dict.fromkeys(verdicts, case.message)


def test_a_person_registered_anywhere_is_refused_by_every_path_with_one_message(demo) -> None:
    """Grace Wilms, 03/09/1961, is the demo's recipient: every path that registers refuses her again, however
    her name is spelled."""
    vaccine_groups.set_self_registration(principal=principal(ADMIN), enabled=True)
    for spelling, (first, last) in enumerate((('Grace', 'Wilms'), (' grace ', 'WILMS'))):
        for path, enter in (('Bulk', by_bulk), ('Desk', by_desk), ('Signup', by_sign_up), ('Family', by_household)):
            values = {**person(path, 100 + spelling, 'first_name', first), 'last_name': last,
                      'date_of_birth': '03/09/1961'}
            assert enter(values).message == DUPLICATE, path
    with session_scope() as session:
        assert len(session.exec(select(Recipient.id).where(Recipient.last_name == 'Wilms')
                                .where(Recipient.date_of_birth == date(1961, 3, 9))).all()) == 1


def test_the_portal_says_it_in_spanish(demo) -> None:
    who = principal(RECIPIENT)
    vaccine_groups.set_self_registration(principal=principal(ADMIN), enabled=True)
    with pytest.raises(ServiceError) as refused:
        household_members.add_dependent(principal=who, first_name='Lily', last_name='Wilms',
                                        date_of_birth='2/30/2015', lang='es')
    assert str(refused.value) == ('Fecha de nacimiento: Fecha de nacimiento no válida: 2/30/2015 '
                                  '(escríbala como MM/DD/AAAA)')
    with pytest.raises(ServiceError) as refused:
        registration_form.sign_up(first_name='Grace', last_name='Wilms', date_of_birth='03/09/1961',
                                  email='grace2@example.org', lang='es')
    assert str(refused.value).startswith('Registro duplicado: ya hay una persona registrada')
