"""Staff accounts of a location (services/accounts/staff.py): a location manager adds, changes and deactivates the
accounts of their own location only; the state sees every organization's, never recipients' portal logins."""
from __future__ import annotations

import pytest
from sqlmodel import col, select

from models import AuditEvent, AuthSession, OutboxMessage, PasswordToken, Role, User
from services.accounts import auth, staff
from services.core.db import session_scope
from services.core.errors import NotAllowed, ValidationFailed
from services.core.mail import body_as_sent
from tests import factories as fx


def account(email: str) -> User:
    with session_scope(read_only=True) as session:
        return session.exec(select(User).where(User.email == email)).one()


def actions(email: str) -> list[str]:
    user_id = str(account(email).id)
    with session_scope(read_only=True) as session:
        return list(session.exec(select(AuditEvent.action).where(AuditEvent.entity_type == 'user')
                                 .where(AuditEvent.entity_id == user_id)
                                 .where(col(AuditEvent.action).startswith('user_'))
                                 .order_by(AuditEvent.id)).all())


def welcome_emails(email: str) -> list[OutboxMessage]:
    with session_scope(read_only=True) as session:
        return list(session.exec(select(OutboxMessage).where(OutboxMessage.to_addr == email)
                                 .order_by(OutboxMessage.id)).all())


def test_a_manager_adds_a_provider_at_their_location_with_a_welcome_email(demo) -> None:  # noqa: ANN001
    manager = fx.principal(fx.MANAGER)
    assert staff.staff_locations(principal=manager) == [(fx.location_id('DEMO1'),
                                                         'Clinic Location1 (DEMO1) · Demo Health System')]
    with pytest.raises(ValidationFailed, match='Name:'):
        staff.add_staff_account(principal=manager, full_name=' ', email='nina@example.org',
                                role=Role.HEALTHCARE_PROVIDER, location_id=fx.location_id('DEMO1'))
    with pytest.raises(ValidationFailed, match='Role:'):
        staff.add_staff_account(principal=manager, full_name='Nina Nurse', email='nina@example.org',
                                role=Role.STATE_ADMIN, location_id=fx.location_id('DEMO1'))
    with pytest.raises(ValidationFailed, match='Email:'):
        staff.add_staff_account(principal=manager, full_name='Nina Nurse', email='nina@', role=Role.HEALTHCARE_PROVIDER,
                                location_id=fx.location_id('DEMO1'))
    with pytest.raises(NotAllowed):
        staff.add_staff_account(principal=manager, full_name='Nina Nurse', email='nina@example.org',
                                role=Role.HEALTHCARE_PROVIDER, location_id=fx.location_id('DEMO2'))
    added = staff.add_staff_account(principal=manager, full_name='Nina  Nurse', email='Nina@Example.org',
                                    role=Role.HEALTHCARE_PROVIDER, location_id=fx.location_id('DEMO1'))
    assert (added.email, added.full_name, added.location_id) == ('nina@example.org', 'Nina Nurse',
                                                                 fx.location_id('DEMO1'))
    [mail] = welcome_emails('nina@example.org')
    assert '/set-password/[hidden]' in mail.body_text and mail.secret  # a link to set one, never a password
    assert fx.DEMO_PASSWORD not in body_as_sent(mail)
    assert account('nina@example.org').password_hash is None
    assert actions('nina@example.org') == ['user_created']
    with pytest.raises(ValidationFailed, match='already exists'):
        staff.add_staff_account(principal=manager, full_name='Nina Again', email='nina@example.org',
                                role=Role.HEALTHCARE_PROVIDER, location_id=fx.location_id('DEMO1'))


def test_the_list_is_scoped_searchable_paged_and_never_holds_portal_logins(demo) -> None:  # noqa: ANN001
    admin, manager = fx.principal(fx.ADMIN), fx.principal(fx.MANAGER)
    there = fx.manager_of('DEMO2')  # a manager at Clinic Location2
    mine = {row.email for row in staff.staff_accounts(principal=manager).rows}
    assert mine == {fx.MANAGER, fx.PROVIDER}
    assert there.email not in mine
    everyone = staff.staff_accounts(principal=admin, page_size=100)
    emails = {row.email for row in everyone.rows}
    assert {fx.ADMIN, fx.MANAGER, fx.PROVIDER, fx.EMPLOYER, there.email} <= emails
    assert fx.RECIPIENT not in emails and everyone.total == len(emails)
    for number in range(30):
        staff.add_staff_account(principal=admin, full_name=f'Temp {number:02}', email=f'temp{number:02}@example.org',
                                role=Role.HEALTHCARE_PROVIDER, location_id=fx.location_id('DEMO2'))
    first = staff.staff_accounts(principal=admin, search='TEMP', page_size=25)
    assert (first.total, first.pages, len(first.rows), first.rows[0].email) == (30, 2, 25, 'temp00@example.org')
    second = staff.staff_accounts(principal=admin, search='temp', page=2, page_size=25)
    assert [row.email for row in second.rows] == [f'temp{n}@example.org' for n in range(25, 30)]
    assert staff.staff_accounts(principal=admin, search='Location2', page_size=100).total == 31
    assert staff.staff_accounts(principal=admin, search='100%').total == 0  # % is a character, not a wildcard
    assert staff.staff_accounts(principal=manager, search='temp').total == 0
    with pytest.raises(NotAllowed):
        staff.staff_accounts(principal=fx.principal(fx.PROVIDER))


def test_change_role_deactivate_and_resend_refuse_another_locations_account(demo) -> None:  # noqa: ANN001
    manager = fx.principal(fx.MANAGER)
    there = account(fx.manager_of('DEMO2').email)
    for call in (lambda: staff.change_staff_role(principal=manager, user_id=there.id, role=Role.HEALTHCARE_PROVIDER),
                 lambda: staff.set_staff_active(principal=manager, user_id=there.id, active=False),
                 lambda: staff.resend_invitation(principal=manager, user_id=there.id),
                 lambda: staff.set_staff_active(principal=manager, user_id=account(fx.ADMIN).id, active=False),
                 lambda: staff.set_staff_active(principal=manager, user_id=account(fx.RECIPIENT).id, active=False)):
        with pytest.raises(NotAllowed):
            call()
    after = account(there.email)
    assert (after.role, after.is_active) == (Role.LOCATION_MANAGER, True)
    with session_scope(read_only=True) as session:
        refused = session.exec(select(AuditEvent).where(AuditEvent.action == 'access_denied')
                               .where(AuditEvent.entity_id == str(there.id))).all()
    assert len(refused) == 3 and all(e.actor_email == fx.MANAGER for e in refused)
    with pytest.raises(ValidationFailed, match='your own account'):
        staff.set_staff_active(principal=manager, user_id=account(fx.MANAGER).id, active=False)


def test_deactivating_ends_every_session_at_once_and_reactivating_lets_them_in(demo) -> None:  # noqa: ANN001
    manager = fx.principal(fx.MANAGER)
    provider = account(fx.PROVIDER)
    code = auth.login(email=fx.PROVIDER, password=fx.DEMO_PASSWORD, browser='b1').sign_in_code
    token = auth.start_session(sign_in_code=code, browser='b1')
    assert auth.resolve_session(token=token) is not None
    staff.change_staff_role(principal=manager, user_id=provider.id, role=Role.LOCATION_MANAGER)
    assert auth.resolve_session(token=token).role == Role.LOCATION_MANAGER  # effective at the next click
    staff.set_staff_active(principal=manager, user_id=provider.id, active=False)
    with session_scope(read_only=True) as session:
        ended = session.exec(select(AuthSession).where(AuthSession.user_id == provider.id)).all()
    assert [(s.end_reason, s.ended_at is not None) for s in ended] == [('account_disabled', True)]
    assert auth.resolve_session(token=token) is None
    with pytest.raises(auth.LoginRefused):
        auth.login(email=fx.PROVIDER, password=fx.DEMO_PASSWORD, browser='b2')
    staff.set_staff_active(principal=manager, user_id=provider.id, active=True)
    assert auth.login(email=fx.PROVIDER, password=fx.DEMO_PASSWORD, browser='b3').principal.email == fx.PROVIDER
    assert actions(fx.PROVIDER)[-3:] == ['user_role_changed', 'user_deactivated', 'user_reactivated']


def test_resend_replaces_the_earlier_link_and_only_before_a_password_is_set(demo) -> None:  # noqa: ANN001
    manager = fx.principal(fx.MANAGER)
    added = staff.add_staff_account(principal=manager, full_name='Nina Nurse', email='nina@example.org',
                                    role=Role.HEALTHCARE_PROVIDER, location_id=fx.location_id('DEMO1'))
    staff.resend_invitation(principal=manager, user_id=added.id)
    first, second = welcome_emails('nina@example.org')
    assert first.dedupe_key != second.dedupe_key
    with session_scope(read_only=True) as session:
        tokens = session.exec(select(PasswordToken).where(PasswordToken.user_id == added.id)
                              .where(col(PasswordToken.purpose) == 'welcome').order_by(PasswordToken.id)).all()
    assert [t.used_at is None for t in tokens] == [False, True]  # only the newest link works
    assert actions('nina@example.org') == ['user_created', 'user_invitation_resent']
    with pytest.raises(ValidationFailed, match='already set a password'):
        staff.resend_invitation(principal=manager, user_id=account(fx.PROVIDER).id)
