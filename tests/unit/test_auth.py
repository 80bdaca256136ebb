"""Logging in, throttling and locking, sessions and their timeouts, emailed password links."""
from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from sqlmodel import select

from models import AuditEvent, AuthSession, OutboxMessage, PasswordToken, User, utcnow
from services.accounts import auth
from services.core.db import session_scope
from services.core.errors import ServiceError
from services.core.mail import body_as_sent
from services.core.settings import reset_settings
from services.demo import DEMO_PASSWORD
from tests.factories import MANAGER, PROVIDER


def actions() -> list[str]:
    with session_scope() as session:
        return [e.action for e in session.exec(select(AuditEvent).order_by(AuditEvent.id))]


def test_login_opens_a_session_and_is_audited(demo) -> None:
    result = auth.login(email=MANAGER, password=DEMO_PASSWORD, client_ip='10.0.0.5')
    assert result.principal.email == MANAGER and result.principal.location_id is not None
    assert auth.resolve_session(token=result.token) == result.principal.__class__(**{**result.principal.__dict__,
                                                                              'client_ip': None})
    assert actions()[-1] == 'login'
    with session_scope() as session:  # only the token's hash is stored
        stored = session.exec(select(AuthSession)).one()
    assert result.token not in stored.token_hash


def test_each_login_gets_a_new_session_identity(demo) -> None:
    first = auth.login(email=MANAGER, password=DEMO_PASSWORD).token
    second = auth.login(email=MANAGER, password=DEMO_PASSWORD).token
    assert first != second


def test_email_is_matched_case_insensitively(demo) -> None:
    assert auth.login(email='  Manager@Demo.CVMS.example.org ', password=DEMO_PASSWORD).principal.email == MANAGER


def test_unknown_email_and_wrong_password_get_the_same_message(demo) -> None:
    with pytest.raises(auth.LoginRefused) as unknown:
        auth.login(email='nobody@example.org', password=DEMO_PASSWORD, client_ip='10.0.0.1')
    with pytest.raises(auth.LoginRefused) as wrong:
        auth.login(email=MANAGER, password='wrong password here', client_ip='10.0.0.2')
    assert str(unknown.value) == str(wrong.value) == 'Incorrect email or password.'
    assert actions()[-2:] == ['login_failed', 'login_failed']


def test_repeated_failures_lock_the_account_with_a_clear_message(demo, no_slowdown) -> None:
    for attempt in range(5):
        with pytest.raises(auth.LoginRefused) as refused:
            auth.login(email=PROVIDER, password=f'wrong guess number {attempt}', client_ip=f'10.1.0.{attempt}')
    assert 'locked for 15 minutes' in str(refused.value)
    with pytest.raises(auth.LoginRefused) as locked:  # even the right password is refused while locked
        auth.login(email=PROVIDER, password=DEMO_PASSWORD, client_ip='10.1.0.99')
    assert 'This account is locked' in str(locked.value)
    assert 'login_refused_locked' in actions()
    with session_scope() as session:  # once the lock has passed, the right password works again
        user = session.exec(select(User).where(User.email == PROVIDER)).one()
        user.locked_until = utcnow() - timedelta(seconds=1)
        session.add(user)
    assert auth.login(email=PROVIDER, password=DEMO_PASSWORD).principal.email == PROVIDER


@pytest.fixture
def no_slowdown(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests about locking skip the growing delays (they have a test of their own)."""
    monkeypatch.setenv('CVMS_LOGIN_SLOW_AFTER', '1000')
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


def test_failures_past_the_free_ones_are_slowed(demo) -> None:
    timings = []
    for attempt in range(4):
        started = time.monotonic()
        with pytest.raises(auth.LoginRefused):
            auth.login(email=MANAGER, password=f'wrong guess {attempt}', client_ip='10.9.9.9')
        timings.append(time.monotonic() - started)
    assert timings[2] >= 0.5 and timings[3] >= 1.0  # the third and fourth failures wait 0.5 s and 1 s


def test_a_client_guessing_many_accounts_is_locked(demo, no_slowdown) -> None:
    for attempt in range(10):
        with pytest.raises(auth.LoginRefused):
            auth.login(email=f'guess{attempt}@example.org', password='some password', client_ip='203.0.113.9')
    with pytest.raises(auth.LoginRefused) as refused:
        auth.login(email=MANAGER, password=DEMO_PASSWORD, client_ip='203.0.113.9')
    assert 'from this device' in str(refused.value)
    assert auth.login(email=MANAGER, password=DEMO_PASSWORD, client_ip='198.51.100.1')  # other clients are unaffected


def _age_session(token: str, *, created: timedelta = timedelta(0), seen: timedelta = timedelta(0)) -> None:
    with session_scope() as session:
        row = session.exec(select(AuthSession).where(AuthSession.token_hash == auth.token_digest(token))).one()
        row.created_at -= created
        row.last_seen_at -= seen
        session.add(row)


def test_idle_timeout_ends_the_session(demo) -> None:
    token = auth.login(email=MANAGER, password=DEMO_PASSWORD).token
    _age_session(token, seen=timedelta(minutes=31))
    assert auth.resolve_session(token=token) is None
    _age_session(token, seen=-timedelta(minutes=31))  # ended for good, even if activity is faked afterwards
    assert auth.resolve_session(token=token) is None


def test_absolute_timeout_ends_an_active_session(demo) -> None:
    token = auth.login(email=MANAGER, password=DEMO_PASSWORD).token
    _age_session(token, created=timedelta(hours=12, minutes=1))
    assert auth.resolve_session(token=token) is None


def test_logout_ends_the_session(demo) -> None:
    token = auth.login(email=MANAGER, password=DEMO_PASSWORD).token
    auth.logout(token=token)
    assert auth.resolve_session(token=token) is None
    assert actions()[-1] == 'logout'


def test_password_change_ends_every_session(demo) -> None:
    here = auth.login(email=MANAGER, password=DEMO_PASSWORD)
    elsewhere = auth.login(email=MANAGER, password=DEMO_PASSWORD).token
    with pytest.raises(ServiceError, match='current password is not correct'):
        auth.change_password(principal=here.principal, current_password='not my password',
                             new_password='Brand new passphrase 7')
    with pytest.raises(ServiceError, match='at least 12'):
        auth.change_password(principal=here.principal, current_password=DEMO_PASSWORD, new_password='short')
    auth.change_password(principal=here.principal, current_password=DEMO_PASSWORD,
                         new_password='Brand new passphrase 7')
    assert auth.resolve_session(token=here.token) is None and auth.resolve_session(token=elsewhere) is None
    assert auth.login(email=MANAGER, password='Brand new passphrase 7')
    assert 'password_changed' in actions()


def _link_token(body: str) -> str:
    return re.search(r'/set-password/([A-Za-z0-9_-]+)', body).group(1)


def test_reset_link_is_single_use_and_signs_in(demo) -> None:
    auth.request_password_reset(email=MANAGER)
    auth.request_password_reset(email='nobody@example.org')  # no account: nothing is sent, nothing is said
    with session_scope() as session:
        outbox = session.exec(select(OutboxMessage).where(OutboxMessage.subject.contains('Reset'))).all()
    assert [m.to_addr for m in outbox] == [MANAGER]
    token = _link_token(body_as_sent(outbox[0]))
    assert auth.check_token(token) == ('reset', MANAGER)
    result = auth.set_password_with_token(token=token, new_password='Spring tulips by the river')
    assert auth.resolve_session(token=result.token).email == MANAGER
    with pytest.raises(auth.TokenInvalid, match='already been used'):
        auth.set_password_with_token(token=token, new_password='Another good passphrase')
    assert auth.login(email=MANAGER, password='Spring tulips by the river')


def test_reset_link_expires_after_an_hour_and_welcome_after_seven_days(demo) -> None:
    auth.request_password_reset(email=MANAGER)
    with session_scope() as session:
        row = session.exec(select(PasswordToken).where(PasswordToken.purpose == 'reset')).one()
        assert timedelta(minutes=59) < row.expires_at - row.created_at <= timedelta(hours=1)
        row.expires_at = utcnow() - timedelta(seconds=1)
        session.add(row)
        body = body_as_sent(session.exec(select(OutboxMessage)).all()[-1])
    with pytest.raises(auth.TokenInvalid, match='expired'):
        auth.set_password_with_token(token=_link_token(body), new_password='Spring tulips by the river')
    assert auth.TOKEN_LIFETIMES['welcome'] == timedelta(days=7)


def test_bad_new_password_keeps_the_link_usable(demo) -> None:
    auth.request_password_reset(email=MANAGER)
    with session_scope() as session:
        body = body_as_sent(session.exec(select(OutboxMessage)).all()[-1])
    token = _link_token(body)
    with pytest.raises(ServiceError, match='email address'):
        auth.set_password_with_token(token=token, new_password=MANAGER)
    assert auth.check_token(token)[0] == 'reset'


def test_unknown_token_is_refused(db) -> None:
    with pytest.raises(auth.TokenInvalid, match='not valid'):
        auth.check_token('made-up-token')
