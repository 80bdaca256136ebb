"""The Provider Enrollment Portal in the simulated browser: the state invites, the provider fills the agreement with
Pause and resume, signs and submits, the state returns it, the provider answers, and the state approves or
rejects."""
from __future__ import annotations

import asyncio
import re

from nicegui import ui
from nicegui.testing import User
from sqlmodel import select

from models import Organization, OutboxMessage
from models.enrollment import Enrollment
from services.core.db import session_scope
from services.enrollment import form
from tests import factories as fx
from tests.conftest import body_of

ORGANIZATION_PATHS = [f'organization.{name}' for name in form.ORGANIZATION_FIELDS] + [
    f'{officer}.{name}' for officer in form.OFFICERS for name in form.OFFICER_FIELDS]
LOCATION_PATHS = [f'locations.0.{name}' for name in form.LOCATION_FIELDS] + [
    'locations.0.storage_units.0.type', 'locations.0.storage_units.0.capacity']


async def on_step(user: User, index: int) -> None:
    """Wait until the stepper shows step `index` (Next keeps the draft first, off the event loop)."""
    with user:
        stepper = user.find(kind=ui.stepper).elements.pop()
    for _ in range(200):
        if stepper.value == f'step{index}':
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f'the stepper stayed at {stepper.value}, not step{index}')


def status_of(name: str) -> str:
    with session_scope(read_only=True) as session:
        return session.exec(select(Organization.enrollment_status).where(Organization.name == name)).one()


async def test_state_admin_invites_and_the_contact_sets_a_password_from_the_email(demo, user: User,
                                                                                  smtp_server) -> None:
    await fx.log_in(user, fx.ADMIN)
    await user.open('/admin/enrollments')
    await user.should_see(marker='enrollment-queue')  # the demo's submission waits in it
    queue = user.find(marker='enrollment-queue').elements.pop()
    assert [row['organization'] for row in queue.rows] == ['Piedmont Family Clinic']
    user.find(marker='invite-send').click()  # nothing entered: each field says what is missing
    await user.should_see('Enter the name of the organization.')
    await user.should_see('Choose the priority group.')
    fx.set_value(user, 'invite-name', 'Sandhills Pharmacy')
    fx.set_value(user, 'invite-email', fx.ENROLLING)
    fx.set_value(user, 'invite-group', 'G1')
    user.find(marker='invite-send').click()
    await user.should_see('Sandhills Pharmacy was invited', retries=100)
    assert status_of('Sandhills Pharmacy') == 'invited'

    [email] = await smtp_server.wait_for(fx.ENROLLING)
    path = fx.link_in(body_of(email), '/set-password/')
    await user.open('/logout')
    await user.open(path)
    await user.should_see(f'Username: {fx.ENROLLING}')
    user.find('New password').type('Sandhills-Enroll-2021!')
    user.find('Repeat new password').type('Sandhills-Enroll-2021!')
    user.find(kind=ui.button, content='Set password').click()
    await user.should_see('Section A: Organization', retries=100)  # Home is the Provider Agreement
    await user.should_see('Enrollment status: Invited')


async def test_provider_fills_pauses_resumes_signs_and_submits(demo, user: User) -> None:
    fx.invited_provider()
    fx.with_password(fx.ENROLLING)
    draft = fx.agreement_draft()
    await fx.log_in(user, fx.ENROLLING)
    await user.open('/enrollment')
    await user.should_see('Section A: Organization')
    user.find(marker='agreement-next-0').click()  # empty: the summary and each field say what to enter
    await user.should_see('There is a problem', retries=50)
    street = user.find(marker='agreement-organization-address_line1').elements.pop()
    assert street.props['error-message'] == 'Enter street address.'
    # the name the State invited is filled in already
    assert user.find(marker='agreement-organization-legal_name').elements.pop().value == 'Sandhills Pharmacy'
    assert user.find(marker='agreement-cmo-email').elements.pop().props['error'] is True
    fx.fill_agreement_fields(user, draft, ORGANIZATION_PATHS)
    fx.set_value(user, 'agreement-cmo-phone', '12345')
    user.find(marker='agreement-next-0').click()
    await user.should_see('Phone: enter a 10-digit phone number, like 919-555-0100.', retries=50)
    fx.set_value(user, 'agreement-cmo-phone', '336-555-0141')
    user.find(marker='agreement-next-0').click()
    await on_step(user, 1)
    await user.should_see('Enrollment status: In progress')

    # Pause on the signatures step; back later, everything is kept
    user.find(marker='agreement-pause-1').click()
    await user.should_see('Welcome back', retries=100)
    await user.should_see('You stopped at: Signatures')
    await user.should_see('Organization: Sandhills Pharmacy; locations: 1')
    user.find(marker='agreement-continue').click()
    await user.should_see(marker='sign-cmo', retries=50)
    assert user.find(marker='agreement-organization-legal_name').elements.pop().value == 'Sandhills Pharmacy'
    assert status_of('Sandhills Pharmacy') == 'in_progress'

    for key in form.ATTESTATIONS:
        fx.set_value(user, f'attest-cmo-{key}', True)
    fx.set_value(user, 'sign-name-cmo', 'Someone Else')
    user.find(marker='sign-cmo').click()
    await user.should_see('Type the chief medical officer\'s name exactly as in Section A: Dana Okafor.', retries=50)
    fx.set_value(user, 'sign-name-cmo', 'Dana Okafor')
    user.find(marker='sign-cmo').click()
    await user.should_see(marker='signed-cmo', retries=50)
    for key in form.ATTESTATIONS:
        fx.set_value(user, f'attest-ceo-{key}', True)
    fx.set_value(user, 'sign-name-ceo', 'Lee Whitfield')
    user.find(marker='sign-ceo').click()
    await user.should_see(marker='signed-ceo', retries=50)
    user.find(marker='agreement-next-1').click()
    await on_step(user, 2)

    # Section B: a second location added, then removed again
    await user.should_see(marker='add-location', retries=50)
    user.find(marker='add-location').click()
    await user.should_see(marker='location-1', retries=50)
    user.find(marker='remove-location-1').click()
    await user.should_not_see(marker='location-1', retries=50)
    fx.fill_agreement_fields(user, draft, LOCATION_PATHS)
    user.find(marker='agreement-next-2').click()
    await on_step(user, 3)
    await user.should_see('Supplemental COVID-19 Vaccine Redistribution Agreement', retries=50)
    user.find(marker='agreement-next-3').click()
    await on_step(user, 4)
    await user.should_see('Check the agreement before you submit it', retries=50)
    await user.should_see('Location 1: Sandhills Pharmacy Main, Greensboro; coordinator Casey Coord', retries=100)
    await user.should_not_see(marker='agreement-problems')
    user.find(marker='agreement-submit').click()
    await user.should_see('Enrollment status: Submitted', retries=100)
    assert status_of('Sandhills Pharmacy') == 'submitted'
    await user.should_see(marker='agreement-pdf')


async def test_return_for_changes_the_provider_sees_the_note_answers_and_resubmits(demo, user: User) -> None:
    enrollment_id = fx.submitted_provider()
    fx.with_password(fx.ENROLLING)
    await fx.log_in(user, fx.ADMIN)
    await user.open(f'/admin/enrollments/{enrollment_id}')
    await user.should_see('Sandhills Pharmacy Main')
    user.find(marker='decision-return').click()
    await user.should_see('Write what the provider should change.', retries=50)
    fx.set_value(user, 'decision-note', 'Add your Saturday hours.')
    user.find(marker='decision-return').click()
    await user.should_see('Enrollment status: Returned', retries=100)
    await user.open('/logout')

    await fx.log_in(user, fx.ENROLLING)
    await user.open('/enrollment')
    await user.should_see('The State returned your agreement for changes')
    await user.should_see('Add your Saturday hours.')
    fx.set_value(user, 'agreement-locations-0-hours', 'Mon-Fri 8:00-17:00, Sat 9:00-13:00')
    user.find(marker='agreement-submit').click()  # no answer yet
    await user.should_see("Answer the State's note: say what you changed.", retries=100)
    fx.set_value(user, 'agreement-answer', 'Saturday 9 to 13 added.')
    user.find(marker='agreement-submit').click()
    await user.should_see('Enrollment status: Submitted', retries=100)
    await user.open('/logout')

    await fx.log_in(user, fx.ADMIN)
    await user.open('/admin/enrollments')
    queue = user.find(marker='enrollment-queue').elements.pop()
    assert [(r['organization'], r['note']) for r in queue.rows] == [('Piedmont Family Clinic', ''), (
        'Sandhills Pharmacy', 'Resubmitted after a return')]
    await user.open(f'/admin/enrollments/{enrollment_id}')
    await user.should_see('Saturday 9 to 13 added.')
    await user.should_see('Hours of operation: Mon-Fri 8:00-17:00, Sat 9:00-13:00')


async def test_state_admin_approves_one_agreement_and_rejects_another(demo, user: User) -> None:
    enrollment_id = fx.submitted_provider()
    await fx.log_in(user, fx.ADMIN)
    await user.open('/')
    await user.should_see('Pending enrollments')
    await user.open(f'/admin/enrollments/{enrollment_id}')
    user.find(marker='decision-approve').click()
    await user.should_see('Enrollment status: Approved', retries=100)
    await user.should_see('Provider PIN: NCA')
    with session_scope(read_only=True) as session:
        pin = session.exec(select(Organization.provider_pin).where(Organization.name == 'Sandhills Pharmacy')).one()
        assert re.fullmatch(r'NCA\d{6}', pin)
        assert session.exec(select(OutboxMessage).where(OutboxMessage.to_addr == fx.COORDINATOR)).one()
        piedmont = session.exec(select(Enrollment.id).where(Enrollment.contact_email != fx.ENROLLING)).one()
    await user.open(f'/admin/enrollments/{piedmont}')
    user.find(marker='decision-reject').click()
    await user.should_see('Give the reason for rejecting the agreement.', retries=50)
    fx.set_value(user, 'decision-reason', 'The clinic is outside North Carolina.')
    user.find(marker='decision-reject').click()
    await user.should_see('Enrollment status: Rejected', retries=100)
    await user.should_see('The clinic is outside North Carolina.')
    await user.open('/admin/enrollments')
    await user.should_see('No agreement is waiting for review.')
    await user.open('/admin/organizations')
    await user.should_see('Rejected')


async def test_invitation_requests_page_follows_the_states_setting(demo, user: User) -> None:
    await user.open('/enrollment/request')
    await user.should_see('The State is not taking requests for invitations at the moment.')
    await fx.log_in(user, fx.ADMIN)
    await user.open('/admin/enrollments')
    fx.set_value(user, 'requests-open', True)
    await user.should_see('Providers can now request an invitation', retries=50)
    await user.open('/logout')
    await user.open('/enrollment/request')
    fx.set_value(user, 'request-organization_name', 'Coastal Urgent Care')
    fx.set_value(user, 'request-contact_name', 'Ada Coast')
    fx.set_value(user, 'request-email', 'ada-at-coastal')
    user.find(marker='request-send').click()
    await user.should_see('Enter an email address like name@example.org.', retries=50)
    fx.set_value(user, 'request-email', 'ada@coastal.example.org')
    user.find(marker='request-send').click()
    await user.should_see('The State received your request', retries=50)
    await fx.log_in(user, fx.ADMIN)
    await user.open('/admin/enrollments')
    await user.should_see('Coastal Urgent Care · Ada Coast <ada@coastal.example.org>')
