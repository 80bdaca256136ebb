"""Account screens through the simulated browser: refusals, no lock-outs, forgot password, change password, outbox."""
from __future__ import annotations

import asyncio
import re

import pytest
from nicegui import app, ui
from nicegui.testing import User
from sqlmodel import select

from models import AuditEvent, OutboxMessage
from models import User as UserRow
from services.core.db import session_scope
from services.core.mail import body_as_sent
from services.core.settings import reset_settings
from tests.conftest import sqlite_only
from tests.factories import ADMIN, EMPLOYER, MANAGER, PROVIDER, log_in, staff_row


@pytest.mark.parametrize('path', ['/outbox', '/audit', '/admin/users'])
async def test_a_provider_opening_a_page_of_another_role_is_refused(demo, user: User, path: str) -> None:
    await log_in(user, PROVIDER)
    await user.open(path)
    await user.should_see('Not allowed')
    await user.should_see('Your role does not give access to this page.')
    with session_scope() as session:
        refusal = session.exec(select(AuditEvent).where(AuditEvent.action == 'access_denied')
                               .order_by(AuditEvent.id)).all()[-1]
    assert refusal.actor_email == PROVIDER and path in refusal.detail


@sqlite_only
async def test_a_provider_is_refused_a_location_manager_page(demo, user: User) -> None:
    lm_only = [p for p in ('/bulk-registration', '/reports') if p in {getattr(r, 'path', '') for r in app.routes}]
    if not lm_only:
        pytest.skip('no location-manager-only screen is registered yet')
    await log_in(user, PROVIDER)
    await user.open(lm_only[0])
    await user.should_see('Not allowed')


@sqlite_only
async def test_navigation_shows_only_what_the_role_may_use(demo, user: User) -> None:
    await log_in(user, EMPLOYER)
    await user.should_not_see('Vaccine Inventory')
    await user.should_not_see('Outbox')
    await user.should_see('Erin Employer')


@pytest.fixture
def no_delays(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv('CVMS_LOGIN_SLOW_AFTER', '1000')
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


async def test_wrong_passwords_never_lock_the_owner_out(demo, no_delays, user: User) -> None:
    for _ in range(6):
        await log_in(user, MANAGER, 'this is not the password', expect_success=False)
        await user.should_see('Incorrect email or password.', retries=50)
        await user.should_not_see('locked')
    await log_in(user, MANAGER)  # the right password still works


async def test_forgot_password_ends_with_a_working_new_password(demo, user: User) -> None:
    await user.open('/login')
    user.find('Forgot password?').click()
    await user.should_see('Send reset link')
    user.find('Email').type(MANAGER)
    user.find(kind=ui.button, content='Send reset link').click()
    await user.should_see('If an account exists for this address', retries=50)
    with session_scope() as session:
        body = body_as_sent(session.exec(select(OutboxMessage).where(OutboxMessage.to_addr == MANAGER)).one())
    path = re.search(r'http://cvms\.test(/set-password/\S+)', body).group(1)

    await user.open(path)
    await user.should_see(f'Username: {MANAGER}')
    user.find('New password').type('short')
    user.find('Repeat new password').type('short')
    user.find(kind=ui.button, content='Set password').click()
    await user.should_see('Use at least 12 characters', retries=50)
    user.find('New password').clear().type('Violets by the old mill')
    user.find('Repeat new password').clear().type('Violets by the old mill')
    user.find(kind=ui.button, content='Set password').click()
    await user.should_see("Today's Appointments", retries=100)  # signed in by the link

    await user.open('/logout')
    await log_in(user, MANAGER, 'Violets by the old mill')
    await user.open(path)
    await user.should_see('already been used')


async def test_change_password_logs_out_everywhere(demo, user: User) -> None:
    await log_in(user, MANAGER)
    await user.open('/account/password')
    user.find('Current password').type('Demo-Password-2021')
    user.find('New password').type('Marigolds along the fence')
    user.find('Repeat new password').type('Marigolds along the fence')
    user.find(kind=ui.button, content='Change password').click()
    await user.should_see('Log in', retries=100)
    await user.open('/')
    await user.should_see('Log in')  # the old session is over
    await log_in(user, MANAGER, 'Marigolds along the fence')


async def test_admin_reads_emails_in_the_outbox(demo, user: User) -> None:
    await log_in(user, ADMIN)
    await user.open('/outbox')
    await user.should_see('Welcome to the North Carolina Vaccine Management COVID-19 Vaccine Portal', retries=50)


async def test_outbox_pages_and_filters_on_the_server(demo, user: User) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert

    from services.core.db import get_engine
    now = datetime.now(UTC)
    with get_engine().begin() as conn:  # 260 emails after the demo's, every 13th failed
        conn.execute(insert(OutboxMessage.__table__), [  # type: ignore[attr-defined]
            {'to_addr': f'person{i}@plant.example.com', 'subject': f'Reminder {i}', 'body_text': f'body {i}',
             'status': 'failed' if i % 13 == 0 else 'sent', 'created_at': now + timedelta(seconds=i),
             'next_attempt_at': now} for i in range(260)])
    await log_in(user, ADMIN)
    await user.open('/outbox')
    await user.should_see('person259@plant.example.com · Reminder 259', retries=50)
    assert len(user.find(marker='outbox-message').elements) == 25  # a page, not the newest 200
    user.find(kind=ui.button, content='Older').click()
    await user.should_see('person234@plant.example.com · Reminder 234', retries=50)
    await user.should_see('Page 2')
    await user.should_not_see('Reminder 235')
    user.find(kind=ui.button, content='Newer').click()
    await user.should_see('Reminder 259', retries=50)
    user.find(marker='outbox-recipient').type('person11')
    await user.should_see('Reminder 119', retries=50)  # person11, person110-119
    await user.should_not_see('Reminder 259')
    assert len(user.find(marker='outbox-message').elements) == 11
    with user:
        user.find(marker='outbox-status').elements.pop().set_value('failed')
    for _ in range(50):
        if len(user.find(marker='outbox-message').elements) == 1:
            break
        await asyncio.sleep(0.1)
    await user.should_see('Reminder 117')  # 117 = 9 x 13, the only failed one
    assert len(user.find(marker='outbox-message').elements) == 1
    with user:
        user.find(marker='outbox-from').elements.pop().set_value('2001-01-01')
        user.find(marker='outbox-to').elements.pop().set_value('2001-01-02')
    await user.should_see('No email matches these filters.', retries=50)


@sqlite_only
async def test_log_out_ends_the_session(demo, user: User) -> None:
    await log_in(user, MANAGER)
    user.find(kind=ui.button, content='Log out').click()
    await user.should_see('Log in', retries=50)
    await user.open('/')
    await user.should_see('Forgot password?')


async def test_log_in_pages_speak_spanish_and_the_choice_reaches_the_portal(demo, user: User) -> None:
    from models import PortalAccount
    from models import User as UserRow
    from services.accounts import auth as auth_service
    with session_scope() as session:  # a recipient's welcome link, as a bulk upload sends it
        recipient_user = session.exec(select(UserRow).where(UserRow.email == 'recipient@demo.cvms.example.org')).one()
        token = auth_service.issue_token(session, recipient_user.id, 'welcome')
    await user.open('/login')
    user.find(marker='auth-language').click()
    await user.should_see('Contraseña', retries=50)
    user.find('Correo electrónico').type(MANAGER)
    user.find('Contraseña').type('not the password at all')
    user.find(kind=ui.button, content='Iniciar sesión').click()
    await user.should_see('Correo electrónico o contraseña incorrectos.', retries=100)

    await user.open(f'/set-password/{token}')
    await user.should_see('Establezca su contraseña')
    user.find('Contraseña nueva').type('short')
    user.find('Repita la contraseña nueva').type('short')
    user.find(kind=ui.button, content='Guardar contraseña').click()
    await user.should_see('Use al menos 12 caracteres (esta tiene 5).', retries=50)
    user.find('Contraseña nueva').clear().type('Girasoles junto al camino')
    user.find('Repita la contraseña nueva').clear().type('Girasoles junto al camino')
    user.find(kind=ui.button, content='Guardar contraseña').click()
    await user.should_see('Estado en el programa de vacunación', retries=100)
    with session_scope() as session:
        account = session.exec(select(PortalAccount).where(PortalAccount.user_id == recipient_user.id)).one()
    assert account.language == 'es'


async def test_the_admin_adds_an_employer_account_to_an_employer_organization_only(demo, user: User) -> None:
    await log_in(user, ADMIN)
    await user.open('/admin/users')
    user.find(marker='new-user-email').type('hr@example.org')
    user.find(marker='new-user-role').elements.pop().value = 'employer'
    choices = user.find(marker='new-user-organization').elements.pop()
    by_name = {label: key for key, label in choices.options.items()}
    choices.value = by_name['Demo Health System (provider)']
    user.find(marker='new-user-add').click()
    await user.should_see('Demo Health System is a provider organization: an employer account can only belong to '
                          'an employer organization.')
    with session_scope() as session:
        assert session.exec(select(UserRow).where(UserRow.email == 'hr@example.org')).first() is None
    choices.value = by_name['Demo Manufacturing Co. (employer)']
    user.find(marker='new-user-add').click()
    await user.should_see('hr@example.org was added')
    assert (await staff_row(user, 'hr@example.org'))[4] == 'Demo Manufacturing Co.'
