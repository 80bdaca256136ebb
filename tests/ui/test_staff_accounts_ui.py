"""The Users screen (NiceGUI's simulated user): a location manager adds a healthcare provider, who sets a password
from the emailed link (real SMTP) and logs in; changes a role, resends an invitation, deactivates an account whose
session ends at once; never reaches another location's account. The state searches and pages every account."""
from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from nicegui import ui
from nicegui.testing import User
from sqlmodel import select

from models import AuditEvent, Role
from models import User as Account
from services.accounts import staff
from services.core.db import session_scope
from services.core.errors import NotAllowed
from tests.conftest import body_of
from tests.factories import (
    ADMIN,
    MANAGER,
    PROVIDER,
    RECIPIENT,
    location_id,
    log_in,
    manager_of,
    principal,
    staff_row,
    staff_rows,
)


def account(email: str) -> Account:
    with session_scope(read_only=True) as session:
        return session.exec(select(Account).where(Account.email == email)).one()


async def test_staff_manager_adds_a_provider_who_sets_a_password_from_the_email_and_logs_in(
        demo, user: User, smtp_server) -> None:  # noqa: ANN001
    await log_in(user, MANAGER)
    await user.open('/admin/users')
    assert {row[1] for row in staff_rows(user)} == {MANAGER, PROVIDER}
    user.find(marker='staff-add').click()
    await user.should_see('Name: enter the person\'s full name.')
    user.find(marker='staff-name').type('Nina Nurse')
    user.find(marker='staff-email').type('nina@example.org')
    user.find(marker='staff-add').click()  # Healthcare Provider at Clinic Location1: filled in already
    await user.should_see('nina@example.org was added; they will receive an email with a link to set their password.')
    row = await staff_row(user, 'nina@example.org')
    assert row[:6] == ['Nina Nurse', 'nina@example.org', 'Healthcare Provider', 'Clinic Location1 (DEMO1)',
                       'Demo Health System', 'Invited']

    [welcome] = await smtp_server.wait_for('nina@example.org')
    body = body_of(welcome)
    assert 'Username: nina@example.org' in body and 'Healthcare Provider' in body
    path = re.search(r'http://cvms\.test(/set-password/\S+)', body).group(1)
    user.find(kind=ui.button, content='Log out').click()
    await user.should_see('Log in', retries=50)
    await user.open(path)
    await user.should_see('Username: nina@example.org')
    user.find('New password').type('a long passphrase for nina')
    user.find('Repeat new password').type('a long passphrase for nina')
    user.find('Set password').click()
    await user.should_see('Nina Nurse', retries=100)
    user.find(kind=ui.button, content='Log out').click()
    await user.should_see('Log in', retries=50)
    await log_in(user, 'nina@example.org', 'a long passphrase for nina')
    await user.should_see('Clinic Location1')


async def test_staff_manager_changes_a_role_resends_and_deactivation_ends_a_live_session(
        demo, user: User, create_user: Callable[[], User]) -> None:  # noqa: ANN001
    invited = staff.add_staff_account(principal=principal(MANAGER), full_name='Ivan Invited',
                                      email='ivan@example.org', role=Role.HEALTHCARE_PROVIDER,
                                      location_id=location_id('DEMO1'))
    provider = create_user()
    await log_in(provider, PROVIDER)
    await log_in(user, MANAGER)
    await user.open('/admin/users')
    user.find(marker=f'role-{PROVIDER}').click()
    await user.should_see(f'{PROVIDER} is now a Location Manager.')
    assert account(PROVIDER).role == Role.LOCATION_MANAGER
    await staff_row(user, PROVIDER, showing='Location Manager')
    user.find(marker=f'role-{PROVIDER}').click()
    await user.should_see(f'{PROVIDER} is now a Healthcare Provider.')
    assert account(PROVIDER).role == Role.HEALTHCARE_PROVIDER
    await staff_row(user, PROVIDER, showing='Healthcare Provider')

    user.find(marker='resend-ivan@example.org').click()
    await user.should_see('A new invitation email was sent to ivan@example.org.')
    await user.should_not_see(marker=f'resend-{PROVIDER}')  # a password is set: nothing to resend

    await provider.open('/account/password')  # the provider is logged in
    await provider.should_see('Log out')
    user.find(marker=f'deactivate-{PROVIDER}').click()
    await user.should_see(f'{PROVIDER} is deactivated; their sessions have ended.')
    await staff_row(user, PROVIDER, showing='Deactivated')
    await provider.open('/account/password')  # the next page load finds the session ended
    await provider.should_see('Forgot password?')
    await log_in(provider, PROVIDER, expect_success=False)
    await provider.should_see('Incorrect email or password.', retries=100)
    with session_scope(read_only=True) as session:
        done = session.exec(select(AuditEvent.action).where(AuditEvent.actor_email == MANAGER)
                            .where(AuditEvent.action.startswith('user_'))).all()
    assert sorted(done) == sorted(['user_created', 'user_role_changed', 'user_role_changed',
                                   'user_invitation_resent', 'user_deactivated'])
    assert invited.id


async def test_staff_a_location_manager_is_refused_on_another_locations_user(demo, user: User) -> None:  # noqa: ANN001
    other = manager_of('DEMO2')
    await log_in(user, MANAGER)
    await user.open('/admin/users')
    user.find(marker='users-search').type(other.email)
    await user.should_see('No account matches this search.')
    places = user.find(marker='staff-location').elements.pop().options
    assert list(places) == [location_id('DEMO1')]  # staff are added at their own location only
    with user:  # a forged event (a stale page, a crafted websocket message) reaches the service: it refuses
        with pytest.raises(NotAllowed):
            staff.set_staff_active(principal=principal(MANAGER), user_id=other.user_id, active=False)
    assert account(other.email).is_active
    with session_scope(read_only=True) as session:
        refusal = session.exec(select(AuditEvent).where(AuditEvent.action == 'access_denied')
                               .order_by(AuditEvent.id.desc())).first()
    assert (refusal.actor_email, refusal.entity_id) == (MANAGER, str(other.user_id))


async def test_staff_the_state_searches_and_pages_every_organizations_accounts(demo, user: User) -> None:  # noqa: ANN001
    other = manager_of('DEMO2')
    for number in range(26):
        staff.add_staff_account(principal=principal(ADMIN), full_name=f'Temp {number:02}',
                                email=f'temp{number:02}@example.org', role=Role.HEALTHCARE_PROVIDER,
                                location_id=location_id('DEMO2'))
    total = staff.staff_accounts(principal=principal(ADMIN)).total  # the demo's staff and the 26 added
    assert 25 < total <= 50
    await log_in(user, ADMIN)
    await user.open('/admin/users')
    emails = {row[1] for row in staff_rows(user)}
    assert len(emails) == 25 and RECIPIENT not in emails
    await user.should_see(f'Page 1 of 2 · {total} accounts')
    user.find(kind=ui.button, content='Next').click()
    await user.should_see(f'Page 2 of 2 · {total} accounts')
    assert RECIPIENT not in {row[1] for row in staff_rows(user)}
    user.find(marker='users-search').type('manager.demo2')
    await user.should_see('Page 1 of 1 · 1 account')
    await staff_row(user, other.email)
    assert [row[1] for row in staff_rows(user)] == [other.email]
    user.find(marker=f'deactivate-{other.email}').click()  # the state manages any organization's accounts
    await user.should_see(f'{other.email} is deactivated; their sessions have ended.')
    assert not account(other.email).is_active
