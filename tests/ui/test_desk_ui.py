"""The check-in desk through the simulated browser: check-in by number (scanner-style Enter), the messages for
wrong numbers, walk-in found and not found, recording a dose, and Today's Appointments live on a second desk."""
from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import date, timedelta

from nicegui.testing import User
from sqlmodel import select

from models import Recipient, utcnow
from models.clinic import Administration
from services.clinic import administration, common, walkin
from services.clinic.administration import DoseDetails
from services.core.db import session_scope
from services.portal import household_members, registration_form
from tests import factories as fx
from tests.factories import MANAGER, PROVIDER, count_rows, log_in


def _booked_today(*, first: str = 'Grace', last: str = 'Mid Wilms', doses: int = 10) -> tuple[str, int]:
    product = fx.product(name='Test Moderna Vaccine', interval=28)
    lot = fx.stocked_lot(product, doses=doses, lot_number='MOD-001')
    fx.today_session([product])
    return fx.appointment(product, fx.recipient(first, last)).case_number, lot


def _table_rows(user: User) -> list[dict]:
    return user.find(marker='today-table').elements.pop().rows


def _row(rows: list[dict], number: str) -> dict | None:
    return next((r for r in rows if r['case_number'] == number), None)


async def _rows_soon(user: User, check: Callable[[list[dict]], bool]) -> list[dict]:
    for _ in range(100):
        with user:
            rows = _table_rows(user)
        if check(rows):
            return rows
        await asyncio.sleep(0.05)
    return rows


async def test_desk_check_in_by_number_and_record_a_dose(demo, user: User) -> None:
    number, lot = _booked_today()
    await log_in(user, PROVIDER)
    rows = await _rows_soon(user, lambda r: _row(r, number) is not None)
    assert _row(rows, number)['details'] == 'Grace Mid Wilms Dose 1 Scheduled'
    user.find(marker='confirmation-number').type(number).trigger('keydown.enter')
    await user.should_see('Grace Mid Wilms', retries=100)
    user.find(marker='check-in-confirm').click()
    await user.should_see('Record vaccination', retries=100)
    await user.should_see('Dose 1')
    with user:
        lot_select = user.find(marker='lot').elements.pop()
        assert lot_select.value == lot  # the only unexpired lot on hand
    user.find(marker='screening-none-apply').click()
    user.find(marker='consent').click()
    user.find(marker='save-dose').click()
    await user.should_see('Dose 1 of Test Moderna Vaccine recorded (lot MOD-001).', retries=100)
    await user.should_see('Dose 2 is due on or after')
    assert fx.on_hand(lot) == 9


async def test_desk_check_in_messages(demo, user: User) -> None:
    await log_in(user, PROVIDER)
    user.find(marker='confirmation-number').type('1234').trigger('keydown.enter')
    await user.should_see('is not a confirmation number: it has 8 digits', retries=100)
    user.find(marker='confirmation-number').clear().type('99999999')
    user.find(marker='check-in-go').click()
    await user.should_see('No appointment with confirmation number 99999999 was found at', retries=100)


async def test_desk_walk_in_found(demo, user: User) -> None:
    person = fx.recipient('Ann', 'Walker', born=date(1980, 5, 17))
    fx.stocked_lot(fx.product(), doses=5)
    await log_in(user, PROVIDER)
    user.find(marker='walk-in-name').type('walk')
    user.find(marker='walk-in-dob').type('05/17/1980').trigger('keydown.enter')
    await user.should_see('Ann Walker', retries=100)
    user.find(marker=f'walk-in-{person}').click()
    await user.should_see('Record vaccination', retries=100)
    await user.should_see('Ann Walker')


async def test_desk_walk_in_not_found_registers_at_point_of_care(demo, user: User) -> None:
    fx.stocked_lot(fx.product(), doses=5)
    await log_in(user, PROVIDER)
    user.find(marker='walk-in-name').type('Dana Ortiz')
    user.find(marker='walk-in-dob').type('01/02/1975')
    user.find(marker='walk-in-search').click()
    await user.should_see('No one found with this name and date of birth.', retries=100)
    user.find(marker='walk-in-register').click()
    await user.should_see('COVID-19 Vaccination Questionnaire', retries=100)
    with user:
        assert user.find(marker='reg-first').elements.pop().value == 'Dana'
        assert user.find(marker='reg-last').elements.pop().value == 'Ortiz'
    user.find(marker='reg-phone').type('919-555-0100')
    user.find(marker='screening-none-apply').click()
    user.find(marker='reg-save').click()
    await user.should_see('Record vaccination', retries=100)
    await user.should_see('Dana Ortiz')


async def test_desk_finds_nunez_and_shows_the_similar_person_before_registering(demo, user: User) -> None:
    """Typed without accents, the name finds the person loaded at this location; a person loaded at another
    location is shown (name and date of birth only) before registration is offered, and picking them starts
    their walk-in instead of creating a second record."""
    here = fx.recipient('Ana', 'Ñúñez', born=date(1975, 1, 2))
    elsewhere = fx.recipient('María', 'Ñúñez', born=date(1980, 5, 17), code='DEMO2')
    with session_scope() as session:
        person = session.get(Recipient, elsewhere)
        person.address_line1, person.city = '5 Elm Street', 'Durham'
        session.add(person)
    fx.stocked_lot(fx.product(), doses=5)
    await log_in(user, PROVIDER)
    user.find(marker='walk-in-name').type('Nunez')
    user.find(marker='walk-in-dob').type('01021975').trigger('keydown.enter')
    await user.should_see('Ana Ñúñez', retries=100)
    with user:
        assert user.find(marker=f'walk-in-{here}').elements
    user.find(marker='walk-in-name').clear().type('Nunez')
    user.find(marker='walk-in-dob').clear().type('5/17/1980')
    user.find(marker='walk-in-search').click()
    await user.should_see('Already registered with this date of birth and a similar name', retries=100)
    await user.should_see('María Ñúñez · 05/17/1980')
    await user.should_see('None of them: register a new person')
    await user.should_not_see('5 Elm Street')
    await user.should_not_see('Clinic Location2')
    user.find(marker=f'walk-in-{elsewhere}').click()
    await user.should_see('Record vaccination', retries=100)
    await user.should_see('María Ñúñez')
    assert count_rows(Recipient, Recipient.date_of_birth == date(1980, 5, 17)) == 1


async def test_desk_registers_a_different_person_after_seeing_the_similar_ones(demo, user: User) -> None:
    fx.recipient('María', 'Ñúñez', born=date(1980, 5, 17), code='DEMO2')
    fx.stocked_lot(fx.product(), doses=5)
    await log_in(user, PROVIDER)
    user.find(marker='walk-in-name').type('Maria Nunes')
    user.find(marker='walk-in-dob').type('1980-05-17').trigger('keydown.enter')
    await user.should_see('María Ñúñez · 05/17/1980', retries=100)
    user.find(marker='walk-in-register').click()
    await user.should_see('COVID-19 Vaccination Questionnaire', retries=100)
    with user:
        assert user.find(marker='reg-last').elements.pop().value == 'Nunes'
        assert user.find(marker='reg-dob').elements.pop().value == '05/17/1980'
    user.find(marker='reg-phone').type('919-555-0100')
    user.find(marker='screening-none-apply').click()
    user.find(marker='reg-save').click()
    await user.should_see('Record vaccination', retries=100)
    assert count_rows(Recipient, Recipient.date_of_birth == date(1980, 5, 17)) == 2


async def test_desk_todays_appointments_update_live_on_a_second_desk(demo, user: User,
                                                                      create_user: Callable[[], User]) -> None:
    number, _ = _booked_today(first='Test Tall', last='Recipient-1')
    await log_in(user, PROVIDER)
    second = create_user()
    await log_in(second, MANAGER)
    rows = await _rows_soon(second, lambda r: _row(r, number) is not None)
    assert _row(rows, number)['status'] == 'Scheduled'
    user.find(marker='confirmation-number').type(number).trigger('keydown.enter')
    await user.should_see('Test Tall Recipient-1', retries=100)
    user.find(marker='check-in-confirm').click()
    await user.should_see('Record vaccination', retries=100)
    rows = await _rows_soon(second, lambda r: (_row(r, number) or {}).get('status') == 'Checked in')
    assert _row(rows, number)['details'] == 'Test Tall Recipient-1 Dose 1 Checked in'
    with second:
        second.find(marker='today-status').elements.pop().value = 'scheduled'
    rows = await _rows_soon(second, lambda r: _row(r, number) is None)
    assert _row(rows, number) is None and {r['status'] for r in rows} <= {'Scheduled'}


async def test_desk_manager_corrects_a_dose_and_stock_follows(demo, user: User) -> None:
    product = fx.product(name='Correctable Vaccine')
    wrong = fx.stocked_lot(product, doses=5, lot_number='WRONG-1')
    right = fx.stocked_lot(product, doses=5, lot_number='RIGHT-1')
    provider = fx.principal(PROVIDER)
    visit = walkin.start_walk_in(principal=provider, recipient_id=fx.recipient('Cora', 'Rection'))
    administration.record_vaccination(principal=provider, appointment_id=visit.id, details=administration.DoseDetails(
        lot_id=wrong, consent=True, screening={k: 'no' for k, _ in common.SCREENING_QUESTIONS}))
    await log_in(user, MANAGER)
    await user.open('/desk/doses')
    await user.should_see('Cora Rection', retries=100)
    user.find(marker='correct-dose').click()
    with user:
        user.find(marker='correct-lot').elements.pop().value = right
    user.find(marker='correct-reason').type('Wrong lot scanned')
    user.find(marker='correct-confirm').click()
    await user.should_see('VOID', retries=100)
    assert (fx.on_hand(wrong), fx.on_hand(right)) == (5, 4)


def _portal_answers(health: dict[str, str]) -> int:
    """The demo portal account's person (Grace Wilms) answers the health questionnaire; returns their id."""
    who = fx.principal(fx.RECIPIENT)
    person = household_members.household(principal=who)[0]
    registration = registration_form.load_registration(principal=who, recipient_id=person.id)
    registration.contact.update(fx.PORTAL_CONTACT)
    registration.health_answers.update(health)
    registration_form.complete_registration(principal=who, registration=registration, lang='en')
    return person.id


async def _open_dose_form(user: User, number: str) -> None:
    await log_in(user, PROVIDER)
    user.find(marker='confirmation-number').type(number).trigger('keydown.enter')
    await user.should_see(marker='check-in-confirm', retries=100)
    user.find(marker='check-in-confirm').click()
    await user.should_see('Screening', retries=100)


def _answers(user: User) -> dict[str, str | None]:
    with user:
        return {key: user.find(marker=f'screening-{key}').elements.pop().value for key, _ in common.SCREENING_QUESTIONS}


async def test_desk_screening_prefills_the_portal_answers_and_marks_them(demo, user: User) -> None:
    product = fx.product(name='Portal Screened Vaccine')
    fx.stocked_lot(product, doses=5, lot_number='PS-1')
    fx.today_session([product])
    person = _portal_answers({'feeling_sick': 'no', 'pregnant': 'yes', 'severe_allergy': 'unknown'})
    number = fx.appointment(product, person).case_number
    await _open_dose_form(user, number)
    answers = _answers(user)
    assert (answers['feeling_sick'], answers['pregnant']) == ('no', 'yes')
    assert answers['severe_allergy'] is None  # "Don't know" is asked again at the desk
    assert [k for k, v in answers.items() if v is None] == ['severe_allergy', 'other_vaccine_14_days',
                                                            'covid_90_days', 'bleeding_disorder', 'immunocompromised']
    await user.should_see(marker='screening-theirs-pregnant')
    await user.should_see("The recipient's answer in the portal (Yes)")
    await user.should_not_see(marker='screening-theirs-covid_90_days')

    user.find(marker='screening-none-apply').click()
    answers = _answers(user)
    assert answers['pregnant'] == 'yes' and set(answers.values()) == {'no', 'yes'}  # theirs kept, the rest No
    user.find(marker='consent').click()
    user.find(marker='save-dose').click()
    await user.should_see('Dose 1 of Portal Screened Vaccine recorded (lot PS-1).', retries=100)
    with session_scope(read_only=True) as session:
        stored = session.exec(select(Administration.screening).where(Administration.recipient_id == person)).one()
    assert json.loads(stored)['pregnant'] == 'yes' and json.loads(stored)['bleeding_disorder'] == 'no'


async def test_desk_refuses_a_dose_with_a_screening_question_unanswered(demo, user: User) -> None:
    number, lot = _booked_today(first='Una', last='Answered')
    await _open_dose_form(user, number)
    assert set(_answers(user).values()) == {None}  # nothing is answered for the person
    with user:
        user.find(marker='screening-feeling_sick').elements.pop().value = 'no'
    user.find(marker='consent').click()
    user.find(marker='save-dose').click()
    await user.should_see('There is a problem', retries=100)
    await user.should_see('Answer: Are you pregnant or breastfeeding?')
    await user.should_see(marker='screening-error-pregnant')
    await user.should_not_see(marker='screening-error-feeling_sick')
    assert count_rows(Administration) == 0 and fx.on_hand(lot) == 10

    with user:  # answering clears the error beside the question
        user.find(marker='screening-pregnant').elements.pop().value = 'no'
    await user.should_not_see(marker='screening-error-pregnant')
    user.find(marker='screening-none-apply').click()
    user.find(marker='save-dose').click()
    await user.should_see('recorded (lot MOD-001)', retries=100)
    assert fx.on_hand(lot) == 9


async def test_desk_dose_needing_an_override_uses_the_error_summary(demo, user: User) -> None:
    """A dose a rule refuses without an override (here too early) gives "There is a problem" at the top linking to
    the override field, which is marked invalid and described by the summary entry and by the warnings."""
    product = fx.product(name='Test Moderna Vaccine', interval=28)
    lot = fx.stocked_lot(product, doses=10, lot_number='MOD-001')
    fx.today_session([product])
    person = fx.recipient('Otto', 'Early')
    administration.record_paper_administration(principal=fx.principal(fx.PROVIDER), recipient_id=person,
                                               details=DoseDetails(lot_id=lot, administered_at=utcnow()
                                                                   - timedelta(days=3)))
    number = fx.appointment(product, person).case_number
    await _open_dose_form(user, number)
    await user.should_see('earlier than the 28-day interval', retries=100)
    user.find(marker='screening-none-apply').click()
    user.find(marker='consent').click()
    user.find(marker='save-dose').click()
    await user.should_see('There is a problem', retries=100)
    with user:
        override = user.find(marker='override-reason').elements.pop()
        warnings = user.find(marker='dose-warnings').elements.pop()
        summary = user.find(marker='error-summary').elements.pop()
        links = [e for e in summary.descendants() if e.props.get('href') == f'#c{override.id}']
        assert links, 'the summary links to the override field'
        assert override.props['aria-invalid'] == 'true' and override.props['error']
        described = override.props['aria-describedby'].split()
        assert f'c{warnings.id}' in described and len(described) == 2
        assert all(label.props.get('role') != 'alert' for label in warnings.descendants())  # the summary alerts
        override.value = 'Travelling abroad'
    user.find(marker='save-dose').click()
    await user.should_see('Dose 2 of Test Moderna Vaccine recorded', retries=100)
