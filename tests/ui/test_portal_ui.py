"""The recipient portal in the simulated browser: home, registration with Pause, household, Spanish."""
from __future__ import annotations

import asyncio
from datetime import date

import pytest
from nicegui import ui
from nicegui.testing import User
from sqlmodel import select

from models import PortalAccount
from services.clinic import common, scheduling
from services.core.db import session_scope
from services.core.errors import NotAllowed
from services.portal import household_members, registration_form
from tests.conftest import body_of
from tests.factories import (
    RECIPIENT,
    give_dose,
    invite,
    link_in,
    local_today,
    log_in,
    open_clinic,
    principal,
    recipient_named,
    set_value,
)


async def test_portal_home_shows_status_and_household(demo, user: User) -> None:
    await log_in(user, RECIPIENT)
    await user.should_see('Vaccine Program Status')
    await user.should_see('Not Enrolled')
    await user.should_see('Grace Wilms')
    await user.should_see('Your household')


async def test_portal_home_before_registering_shows_no_empty_group_nor_a_pause_never_pressed(
        demo, user: User) -> None:
    await log_in(user, RECIPIENT)
    await user.should_see('Not Enrolled')
    await user.should_not_see('Your vaccine group')
    await user.should_not_see('You paused your registration')
    # Start and Next keep the answers, but the person never pressed Pause.
    await user.open('/portal/registration')
    user.find(marker='registration-next-0').click()
    await step_shown(user, 1)
    await user.open('/portal')
    await user.should_see('You started your registration. Review what you entered and continue.')
    await user.should_not_see('You paused your registration')
    await user.should_not_see('Your vaccine group')


async def test_portal_contact_step_marks_each_missing_field_beside_it(demo, user: User) -> None:
    await log_in(user, RECIPIENT)
    await user.open('/portal/registration')
    user.find(marker='registration-next-0').click()
    await step_shown(user, 1)
    set_value(user, 'contact-city', 'Raleigh')
    set_value(user, 'contact-zip_code', '2760')
    user.find(marker='registration-next-1').click()
    await user.should_see('There is a problem', retries=50)  # the summary above the form, each error linked
    fields = {name: user.find(marker=f'contact-{name}').elements.pop() for name in CONTACT}
    assert fields['address_line1'].props['error'] is True
    assert fields['address_line1'].props['error-message'] == 'Street address: required'
    assert fields['zip_code'].props['error-message'].startswith('ZIP code: invalid ZIP code: 2760')
    assert not fields['city'].props.get('error')
    assert sorted(name for name, field in fields.items() if field.props.get('error')) == sorted(
        set(CONTACT) - {'city'})
    set_value(user, 'contact-address_line1', '12 Oak Street')
    assert not fields['address_line1'].props.get('error')


CONTACT = {'address_line1': '12 Oak Street', 'city': 'Raleigh', 'county': 'Wake', 'zip_code': '27603',
           'phone': '919-555-0100', 'sex': 'F', 'race': '2106-3', 'ethnicity': '2186-5',
           'preferred_language': 'en'}



async def step_shown(user: User, index: int) -> None:
    """Wait until the stepper moved on: the progress is saved before the step changes."""
    stepper = user.find(kind=ui.stepper).elements.pop()
    for _ in range(100):
        if stepper.value == f'step{index}':
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f'the stepper stayed at {stepper.value}')


async def fill_contact(user: User) -> None:
    for name, value in CONTACT.items():
        set_value(user, f'contact-{name}', value)


async def click(user: User, label: str) -> None:
    user.find(kind=ui.button, content=label).click()


async def test_portal_registration_pause_and_resume(demo, user: User) -> None:
    await log_in(user, RECIPIENT)
    await user.open('/portal/registration')
    await user.should_see('Vaccine Registration for: Grace Wilms')
    user.find(marker='registration-next-0').click()
    await step_shown(user, 1)  # a person fills the step once it shows (an earlier Next may still be saving)
    await fill_contact(user)
    user.find(marker='registration-next-1').click()
    await step_shown(user, 2)
    set_value(user, 'question-age_65', 'yes')
    user.find(marker='registration-pause-2').click()
    await user.should_see('You paused your registration', retries=50)
    # Back later: the portal asks to review what was kept, then continues at the same step.
    await user.open('/portal/registration')
    await user.should_see('Welcome back. Review what you entered and continue.')
    await user.should_see('Street address: 12 Oak Street')
    await user.should_see('County: Wake')
    await user.should_see('Are you 65 years of age or older? Yes')
    await click(user, 'Continue')
    await user.should_see('Answer a few questions to find your vaccine group.', retries=50)
    user.find(marker='registration-next-2').click()
    await user.should_see('Are you feeling sick today?', retries=50)
    set_value(user, 'question-feeling_sick', 'no')
    user.find(marker='registration-next-3').click()
    await user.should_see('Your registration is complete', retries=50)
    await user.should_see('registration does not mean that you are currently eligible', retries=5)
    await user.should_see('Group 2: Older adults (65 years and older)')
    await user.open('/portal')
    await user.should_see('Enrolled')


async def register_through_stepper(user: User, *, group_answers: dict[str, str] | None = None) -> None:
    await user.open('/portal/registration')
    user.find(marker='registration-next-0').click()
    await step_shown(user, 1)
    await fill_contact(user)
    user.find(marker='registration-next-1').click()
    await user.should_see('Answer a few questions to find your vaccine group.', retries=50)
    for code, answer in (group_answers or {}).items():
        set_value(user, f'question-{code}', answer)
    user.find(marker='registration-next-2').click()
    await user.should_see('Are you feeling sick today?', retries=50)
    for key, _ in common.SCREENING_QUESTIONS:
        set_value(user, f'question-{key}', 'no')
    user.find(marker='registration-next-3').click()
    await user.should_see('Your registration is complete', retries=50)


async def test_portal_whole_path_from_welcome_email_to_verified_proof(demo, smtp_server, user: User) -> None:
    _product_id, lot_id = open_clinic()
    invite('Jon', 'NewRecipient', date(1980, 5, 17), 'jon@example.org')
    [welcome] = await smtp_server.wait_for('jon@example.org')
    assert welcome['Subject'].strip() == 'Welcome to the North Carolina Vaccine Management COVID-19 Vaccine Portal'
    await user.open(link_in(body_of(welcome), '/set-password/'))
    await user.should_see('Username: jon@example.org')
    user.find('New password').type('jon picks a long passphrase')
    user.find('Repeat new password').type('jon picks a long passphrase')
    user.find(kind=ui.button, content='Set password').click()
    await user.should_see('Vaccine Program Status', retries=100)
    await user.should_see('Not Enrolled')

    await register_through_stepper(user, group_answers={'frontline': 'yes'})
    await user.should_see('Group 3: Frontline essential workers')
    assert await smtp_server.wait_for('jon@example.org',
                                      subject_contains='Your COVID-19 Vaccine Registration is complete')

    await user.open('/portal/appointments')
    await user.should_see('Clinic Location1')
    user.find(kind=ui.button, content='Choose Clinic Location1').click()
    first_slot = scheduling.open_slots(location_id=recipient_named('Jon').location_id)[0]
    await user.should_see(kind=ui.button, content=first_slot.local_time, retries=50)  # not 'Soonest: ...'
    user.find(kind=ui.button, content=first_slot.local_time).click()
    await user.should_see(marker='confirmation-number', retries=100)
    case_number = user.find(marker='confirmation-number').elements.pop().text.split()[-1]
    assert len(case_number) == 8
    confirmation = await smtp_server.wait_for('jon@example.org', subject_contains=case_number)
    assert confirmation and case_number in body_of(confirmation[0])
    assert any(part.get_content_type() == 'image/png' for part in confirmation[0].iter_attachments())

    give_dose(case_number, lot_id)
    await user.open('/portal')
    await user.should_see('Vaccinated')
    await user.should_see('Your next dose is due on or after')
    await user.open('/portal/record')
    await user.should_see('Proof of COVID-19 vaccination')
    await user.should_see('Lot: LOT-PORTAL')
    await user.should_see('Product: Comirnaty Test')
    await user.should_see('Location: Clinic Location1')
    user.find(marker='download-pdf').click()
    pdf = await user.download.next(timeout=10)
    assert pdf.content.startswith(b'%PDF')
    verify_url = user.find(marker='verification-link').elements.pop().text
    assert verify_url.startswith('http://cvms.test/verify/')

    await user.open(verify_url.removeprefix('http://cvms.test'))
    await user.should_see('Valid COVID-19 vaccination record')
    await user.should_see('Name initials: J. N.')
    await user.should_see(f'Dose 1: Comirnaty Test, {local_today():%m/%d/%Y}')
    for hidden in ('NewRecipient', 'Jon', 'LOT-PORTAL', 'Clinic Location1', '05/17/1980'):
        await user.should_not_see(hidden)


async def test_portal_spanish_pages_and_the_choice_is_remembered(demo, user: User) -> None:
    await log_in(user, RECIPIENT)
    await user.should_see('Vaccine Program Status')
    user.find(marker='portal-language').click()
    await user.should_see('Estado en el programa de vacunación', retries=50)
    await user.should_see('No inscrito')
    await user.should_see('Inscripción para la vacuna contra el COVID-19')
    with session_scope() as session:
        assert session.exec(select(PortalAccount.language).where(PortalAccount.email == RECIPIENT)).one() == 'es'
    # This browser keeps the choice for its log-in page; back to English there, as on another device ...
    await user.open('/logout')
    await user.should_see('Iniciar sesión')
    user.find(marker='auth-language').click()
    await user.should_see('Forgot password?', retries=50)
    # ... and the account still brings the person back to Spanish.
    await log_in(user, RECIPIENT, expect_success=False)
    await user.should_see('Estado en el programa de vacunación', retries=100)
    await user.open('/portal/registration')
    await user.should_see('Inscripción para la vacuna de: Grace Wilms')
    user.find(marker='registration-next-0').click()
    await user.should_see('Dirección', retries=50)
    await user.should_see('Código postal')
    await user.open('/portal/record')
    await user.should_see('Todavía no se ha registrado ninguna dosis.')
    await user.open('/verify/not-a-real-code')
    await user.should_see('No se encontró ningún registro para este código.')


async def test_portal_household_add_dependent_and_switch(demo, user: User) -> None:
    await log_in(user, RECIPIENT)
    await user.open('/portal/household')
    user.find('First name').type('Lily')
    user.find('Last name').type('Wilms')
    user.find('Date of birth (MM/DD/YYYY)').type('04/02/2015')
    user.find(kind=ui.button, content='Add family member').click()
    await user.should_see('Vaccine Program Status', retries=50)
    assert user.find(marker='household-switcher').elements.pop().value == recipient_named('Lily').id
    await register_through_stepper(user)
    await user.open('/portal')
    await user.should_see('Enrolled')
    await user.should_see('Lily Wilms')
    # Switch back to the account holder: her own status, untouched by Lily's registration.
    await user.open('/portal/household')
    user.find(kind=ui.button, content='Switch to Grace').click()
    await user.should_see('Not Enrolled', retries=50)
    assert user.find(marker='household-switcher').elements.pop().value == recipient_named('Grace').id
    # The switcher on every page does the same.
    set_value(user, 'household-switcher', recipient_named('Lily').id)
    await user.should_see('Enrolled', retries=50)
    await user.should_not_see('Not Enrolled')
    # Another household's member is never reachable.
    with pytest.raises(NotAllowed):
        registration_form.load_registration(principal=principal(RECIPIENT),
                                            recipient_id=invite('Other', 'Person', date(1990, 1, 1), 'o@example.org'))


async def test_portal_change_password_in_spanish_logs_out_everywhere(demo, user: User) -> None:
    from services.accounts import auth as auth_service
    await log_in(user, RECIPIENT)
    user.find(marker='portal-language').click()  # Español
    await user.should_see('Estado en el programa de vacunación', retries=50)
    await user.open('/portal/password')
    await user.should_see('Contraseña actual')
    user.find('Contraseña actual').type('not my password!')
    user.find('Contraseña nueva').type('Amapolas en el campo')
    user.find('Repita la contraseña nueva').type('Amapolas en el campo')
    user.find(kind=ui.button, content='Cambiar contraseña').click()
    await user.should_see('Su contraseña actual no es correcta.', retries=100)
    user.find('Contraseña actual').clear().type('Demo-Password-2021')
    user.find(kind=ui.button, content='Cambiar contraseña').click()
    await user.should_see('Iniciar sesión', retries=100)
    result = auth_service.login(email=RECIPIENT, password='Amapolas en el campo', browser='b')
    assert result.principal.email == RECIPIENT


async def test_portal_registration_submit_refusal_names_and_links_the_field(demo, user: User) -> None:
    """A refusal at Submit (contact kept from an earlier visit that the rules now refuse) uses the summary pattern:
    back on the Contact step, "There is a problem" linking to the field to fix, the message beside it."""
    who = principal(RECIPIENT)
    person = household_members.household(principal=who)[0]
    registration = registration_form.load_registration(principal=who, recipient_id=person.id)
    registration.contact.update({**CONTACT, 'zip_code': '276'})
    registration.step = 3
    registration_form.save_progress(principal=who, registration=registration)
    await log_in(user, RECIPIENT)
    await user.open('/portal/registration?review=1')
    await user.should_see('Are you feeling sick today?', retries=50)
    user.find(marker='registration-next-3').click()
    await step_shown(user, 1)
    await user.should_see('There is a problem', retries=50)
    with user:
        zip_input = user.find(marker='contact-zip_code').elements.pop()
        assert zip_input.props.get('aria-invalid') == 'true' and zip_input.props.get('error')
        summaries = [s for s in user.find(marker='error-summary').elements if s.visible]
        assert len(summaries) == 1
        assert [e for e in summaries[0].descendants() if e.props.get('href') == f'#c{zip_input.id}']
        described = zip_input.props['aria-describedby']
        assert any(f'c{e.id}' == described for e in summaries[0].descendants())
