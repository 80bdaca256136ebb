"""Coded demographics on the screens: the desk and the portal offer labels (the portal in the reader's language) and
store codes; the paper registration form lists the same labels; the rules' messages show where people type."""
from __future__ import annotations

from nicegui import ui
from nicegui.testing import User
from sqlmodel import select

from models import Recipient
from services.core.db import session_scope
from services.portal import vaccine_groups
from tests.conftest import sqlite_only
from tests.factories import ADMIN, PROVIDER, RECIPIENT, log_in, principal, set_value


def options_of(user: User, marker: str) -> dict:
    with user:
        return user.find(marker=marker).elements.pop().options



async def test_desk_registration_shows_labels_and_stores_codes(demo, user: User) -> None:
    await log_in(user, PROVIDER)
    await user.open('/desk/register?name=Dana%20Ortiz&dob=1975-01-02')  # a date typed in the Walk-In search
    await user.should_see('COVID-19 Vaccination Questionnaire', retries=100)
    assert options_of(user, 'reg-sex') == {'F': 'Female', 'M': 'Male', 'U': 'Unknown or prefer not to say'}
    assert options_of(user, 'reg-race')['2054-5'] == 'Black or African American'
    with user:
        assert user.find(marker='reg-dob').elements.pop().value == '01/02/1975'
    user.find(marker='screening-none-apply').click()
    set_value(user, 'reg-phone', '919-555-01')
    user.find(marker='reg-save').click()
    await user.should_see('Phone: invalid phone number: 919-555-01 (enter a 10-digit phone number, like 919-555-0100)',
                          retries=100)
    set_value(user, 'reg-phone', '919-555-0100')
    set_value(user, 'reg-sex', 'F')
    set_value(user, 'reg-race', '2054-5')
    set_value(user, 'reg-ethnicity', 'UNK')
    user.find(marker='reg-save').click()
    await user.should_see('Record vaccination', retries=100)
    with session_scope() as session:
        dana = session.exec(select(Recipient).where(Recipient.first_name == 'Dana')).one()
        assert (dana.sex, dana.race, dana.ethnicity, dana.state) == ('F', '2054-5', 'UNK', 'NC')


async def test_desk_registration_of_someone_registered_points_to_the_walk_in_search(demo, user: User) -> None:
    await log_in(user, PROVIDER)
    await user.open('/desk/register?name=Grace%20Wilms&dob=03/09/1961')
    await user.should_see('COVID-19 Vaccination Questionnaire', retries=100)
    user.find(marker='screening-none-apply').click()
    user.find(marker='reg-save').click()
    await user.should_see('Duplicate recipient: a recipient with this first name, last name and date of birth is '
                          'already registered (find that record instead of registering the person again). Search for '
                          'them in Appointment Walk-In with the full name and date of birth.', retries=100)


@sqlite_only
async def test_paper_registration_form_lists_the_labels(demo, user: User) -> None:
    await log_in(user, PROVIDER)
    await user.open('/forms/registration')
    await user.should_see('Unknown or prefer not to say', retries=50)
    await user.should_see('Native Hawaiian or Other Pacific Islander')
    await user.should_see('Not Hispanic or Latino')
    await user.should_not_see('Non-binary (X)')


async def test_portal_contact_step_in_spanish_offers_spanish_labels_and_says_what_to_fix(demo, user: User) -> None:
    await log_in(user, RECIPIENT)
    user.find(marker='portal-language').click()
    await user.should_see('Estado en el programa de vacunación', retries=50)
    await user.open('/portal/registration')
    user.find(marker='registration-next-0').click()
    await user.should_see('Código postal', retries=50)
    assert options_of(user, 'contact-sex') == {'F': 'Femenino', 'M': 'Masculino',
                                               'U': 'Desconocido o prefiero no decirlo'}
    assert options_of(user, 'contact-ethnicity')['2135-2'] == 'Hispano o latino'
    for name, value in {'address_line1': '1 Main St', 'city': 'Raleigh', 'county': 'Wake', 'zip_code': '2760',
                        'phone': '919-555-0100', 'sex': 'F', 'race': '2106-3', 'ethnicity': '2135-2',
                        'preferred_language': 'es'}.items():
        set_value(user, f'contact-{name}', value)
    user.find(marker='registration-next-1').click()
    await user.should_see('Código postal: código postal no válido: 2760 (escriba 5 dígitos, o ZIP+4 como 27603-1234)',
                          retries=50)


async def test_sign_up_of_someone_registered_says_so_and_how_to_get_in(demo, user: User) -> None:
    vaccine_groups.set_self_registration(principal=principal(ADMIN), enabled=True)
    await user.open('/portal/sign-up')
    user.find('First name').type('Grace')
    user.find('Last name').type('Wilms')
    user.find('Date of birth (MM/DD/YYYY)').type('03/09/1961')
    user.find('Email').type('grace.again@example.org')
    user.find(kind=ui.button, content='Create account').click()
    await user.should_see('Duplicate recipient: a recipient with this first name, last name and date of birth is '
                          'already registered (find that record instead of registering the person again). If this '
                          'is you, use the email from your vaccine provider or "Forgot password?".', retries=100)
