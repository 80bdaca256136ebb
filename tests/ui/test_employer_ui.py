"""Employer portal and the state admin's approvals in the simulated browser."""
from __future__ import annotations

from datetime import date

from nicegui import ui
from nicegui.testing import User

from models import Organization, Recipient
from services.core.db import session_scope
from tests.factories import ADMIN, EMPLOYER, invited_by_employer, log_in, organization_id


async def test_employer_sees_invitation_status_and_no_health_data(demo, user: User) -> None:
    for recipient_id in invited_by_employer([(f'Ana{i}', 'Worker', date(1990, 2, i + 1), f'ana{i}@example.org')
                                             for i in range(2)]):
        with session_scope() as session:
            recipient = session.get(Recipient, recipient_id)
            recipient.county, recipient.race = 'Wake', 'asian'  # demographics the employer must not see
            session.add(recipient)
    await log_in(user, EMPLOYER)
    await user.should_see('Invitations')  # in the header navigation
    await user.open('/invitations')
    await user.should_see(marker='invitations-table')
    table = user.find(marker='invitations-table').elements.pop()
    assert sorted((r['name'], r['status']) for r in table.rows) == [('Ana0 Worker', 'Invited'),
                                                                    ('Ana1 Worker', 'Invited')]
    assert set(table.rows[0]) == {'id', 'name', 'email', 'invited', 'status'}
    totals = {e.default_slot.children[1].text: e.default_slot.children[0].text
              for e in user.find(marker='invitation-total').elements}
    assert totals == {'Invited': '2', 'Registered': '0', 'Not registered yet': '2'}
    await user.should_not_see('Wake')
    # Health data pages are not theirs.
    await user.open('/portal/record')
    await user.should_not_see('Proof of COVID-19 vaccination')


async def test_employer_of_an_unapproved_organization_waits_for_the_state(demo, user: User) -> None:
    with session_scope() as session:
        organization = session.get(Organization, organization_id('employer'))
        organization.enrollment_status = 'pending'
        session.add(organization)
    await log_in(user, EMPLOYER)
    await user.open('/invitations')
    await user.should_see('waiting for approval by the state')
    await user.open('/logout')
    await log_in(user, ADMIN)
    await user.open('/admin/organizations')
    await user.should_see('Demo Manufacturing Co.')
    await user.should_see('Pending')
    user.find(kind=ui.button, content='Approve').click()
    await user.should_see('Suspend', retries=50)
    with session_scope() as session:
        assert session.get(Organization, organization_id('employer')).enrollment_status == 'approved'


async def test_portal_admin_turns_self_registration_on_and_edits_groups(demo, user: User) -> None:
    await log_in(user, ADMIN)
    await user.open('/admin/portal')
    await user.should_see('Group 1: Health care workers and long-term care staff and residents')
    user.find(marker='self-registration-switch').elements.pop().set_value(True)
    await user.open('/logout')
    await user.open('/login')
    await user.should_see('Create a COVID-19 Vaccine Portal account')
    await user.open('/portal/sign-up')
    user.find('First name').type('Sol')
    user.find('Last name').type('Rivera')
    user.find('Date of birth (MM/DD/YYYY)').type('07/04/1992')
    user.find('Email').type('sol@example.org')
    user.find(kind=ui.button, content='Create account').click()
    await user.should_see('Check your email: we sent a link to sol@example.org', retries=100)
