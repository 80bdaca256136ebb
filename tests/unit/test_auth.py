"""Logging in, throttling (never locking), sessions and their timeouts, emailed password links."""
from __future__ import annotations

import asyncio
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlmodel import select

from models import AuditEvent, AuthSession, LoginThrottle, OutboxMessage, PasswordToken, utcnow
from services.accounts import auth
from services.core.db import session_scope
from services.core.errors import ServiceError
from services.core.mail import body_as_sent
from services.core.settings import reset_settings
from services.demo import DEMO_PASSWORD
from tests.factories import MANAGER, PROVIDER

BROWSER = 'the browser id of the pre-log-in cookie'


def session_of(result: auth.LoginResult) -> str:
    """The session token the browser's cookie receives for a log-in's sign-in code."""
    token = auth.start_session(sign_in_code=result.sign_in_code, browser=BROWSER)
    assert token is not None
    return token


def actions() -> list[str]:
    with session_scope() as session:
        return [e.action for e in session.exec(select(AuditEvent).order_by(AuditEvent.id))]


def test_login_opens_a_session_and_is_audited(demo) -> None:
    result = auth.login(browser=BROWSER, email=MANAGER, password=DEMO_PASSWORD, client_ip='10.0.0.5')
    assert result.principal.email == MANAGER and result.principal.location_id is not None
    token = session_of(result)
    assert auth.resolve_session(token=token) == result.principal.__class__(**{**result.principal.__dict__,
                                                                              'client_ip': None})
    assert actions()[-1] == 'login'
    with session_scope() as session:  # only the token's hash is stored
        stored = session.exec(select(AuthSession)).one()
    assert token not in stored.token_hash


def test_each_login_gets_a_new_session_identity(demo) -> None:
    first = session_of(auth.login(browser=BROWSER, email=MANAGER, password=DEMO_PASSWORD))
    second = session_of(auth.login(browser=BROWSER, email=MANAGER, password=DEMO_PASSWORD))
    assert first != second


def test_email_is_matched_case_insensitively(demo) -> None:
    assert auth.login(browser=BROWSER, email='  Manager@Demo.CVMS.example.org ',
                      password=DEMO_PASSWORD).principal.email == MANAGER


def test_unknown_email_and_wrong_password_get_the_same_message(demo) -> None:
    with pytest.raises(auth.LoginRefused) as unknown:
        auth.login(browser=BROWSER, email='nobody@example.org', password=DEMO_PASSWORD, client_ip='10.0.0.1')
    with pytest.raises(auth.LoginRefused) as wrong:
        auth.login(browser=BROWSER, email=MANAGER, password='wrong password here', client_ip='10.0.0.2')
    assert str(unknown.value) == str(wrong.value) == 'Incorrect email or password.'
    assert actions()[-2:] == ['login_failed', 'login_failed']


def test_failures_never_lock_anyone_out_and_say_nothing_about_the_account(demo, no_slowdown) -> None:
    """A stranger's wrong passwords, from any address, never keep the owner out, and a real account answers
    exactly like an unknown one (before: 'This account is locked' for real ones only)."""
    for attempt in range(12):
        for email in (PROVIDER, 'nobody@example.org'):
            with pytest.raises(auth.LoginRefused) as refused:
                auth.login(browser=BROWSER, email=email, password=f'wrong guess {attempt}',
                           client_ip=f'10.1.0.{attempt}')
            assert str(refused.value) == auth.GENERIC_LOGIN_ERROR
    assert auth.login(browser=BROWSER, email=PROVIDER, password=DEMO_PASSWORD,
                      client_ip='10.1.0.99').principal.email == PROVIDER


@pytest.fixture
def no_slowdown(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests about counting skip the growing delays (they have a test of their own)."""
    monkeypatch.setenv('CVMS_LOGIN_SLOW_AFTER', '1000')
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


@pytest.fixture
def short_delays(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('CVMS_LOGIN_MAX_DELAY_SECONDS', '1')
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


def _timed_login(email: str, password: str, client_ip: str) -> float:
    started = time.monotonic()
    try:
        auth.login(browser=BROWSER, email=email, password=password, client_ip=client_ip)
    except auth.LoginRefused:
        pass
    return time.monotonic() - started


def test_failures_on_an_account_slow_every_attempt_on_it_up_to_a_cap_and_are_audited(demo, short_delays) -> None:
    timings = [_timed_login(MANAGER, f'wrong guess {attempt}', f'10.9.9.{attempt}') for attempt in range(5)]
    assert timings[1] < 0.5 <= timings[2] and timings[3] >= 1.0  # from the third attempt on, from any address
    assert 1.0 <= timings[4] < 1.5  # never more than the cap: the owner still gets in
    started = time.monotonic()
    assert auth.login(browser=BROWSER, email=MANAGER, password=DEMO_PASSWORD, client_ip='10.9.9.99')
    assert time.monotonic() - started >= 1.0  # the right password waits too, and then works
    assert actions().count('login_throttled') == 4
    assert _timed_login(MANAGER, 'wrong again', '10.9.9.1') < 0.5  # a log-in clears the account's streak


def test_a_client_guessing_many_accounts_is_slowed_and_other_clients_are_not(demo, short_delays) -> None:
    for attempt in range(6):
        _timed_login(f'guess{attempt}@example.org', 'some password', '203.0.113.9')
    assert _timed_login(MANAGER, DEMO_PASSWORD, '203.0.113.9') >= 1.0  # 6 failures from it: half the account rate
    assert _timed_login(PROVIDER, DEMO_PASSWORD, '198.51.100.1') < 0.5  # other clients are unaffected
    with session_scope() as session:
        throttled = session.exec(select(AuditEvent).where(AuditEvent.action == 'login_throttled')).all()
    assert {event.client_ip for event in throttled} == {'203.0.113.9'}


def test_unknown_and_known_emails_take_the_same_time(demo) -> None:
    """An attacker timing answers learns nothing: the unknown email hashes a dummy password and counts the same."""
    known, unknown = [], []
    for attempt in range(6):
        known.append(_timed_login(MANAGER, f'wrong guess {attempt}', f'10.7.0.{attempt}'))
        unknown.append(_timed_login('nobody@example.org', f'wrong guess {attempt}', f'10.8.0.{attempt}'))
    k, u = sorted(known)[3], sorted(unknown)[3]
    assert abs(k - u) <= 0.25 * max(k, u) + 0.05, (known, unknown)


def _age_session(token: str, *, created: timedelta = timedelta(0), seen: timedelta = timedelta(0)) -> None:
    with session_scope() as session:
        row = session.exec(select(AuthSession).where(AuthSession.token_hash == auth.token_digest(token))).one()
        row.created_at -= created
        row.last_seen_at -= seen
        session.add(row)


def test_idle_timeout_ends_the_session(demo) -> None:
    token = session_of(auth.login(browser=BROWSER, email=MANAGER, password=DEMO_PASSWORD))
    _age_session(token, seen=timedelta(minutes=31))
    assert auth.resolve_session(token=token) is None
    _age_session(token, seen=-timedelta(minutes=31))  # ended for good, even if activity is faked afterwards
    assert auth.resolve_session(token=token) is None


def test_absolute_timeout_ends_an_active_session(demo) -> None:
    token = session_of(auth.login(browser=BROWSER, email=MANAGER, password=DEMO_PASSWORD))
    _age_session(token, created=timedelta(hours=12, minutes=1))
    assert auth.resolve_session(token=token) is None


def test_logout_ends_the_session(demo) -> None:
    token = session_of(auth.login(browser=BROWSER, email=MANAGER, password=DEMO_PASSWORD))
    auth.logout(token=token)
    assert auth.resolve_session(token=token) is None
    assert actions()[-1] == 'logout'


def test_password_change_ends_every_session(demo) -> None:
    here = auth.login(browser=BROWSER, email=MANAGER, password=DEMO_PASSWORD)
    here_token = session_of(here)
    elsewhere = session_of(auth.login(browser=BROWSER, email=MANAGER, password=DEMO_PASSWORD))
    with pytest.raises(ServiceError, match='current password is not correct'):
        auth.change_password(principal=here.principal, current_password='not my password',
                             new_password='Brand new passphrase 7')
    with pytest.raises(ServiceError, match='at least 12'):
        auth.change_password(principal=here.principal, current_password=DEMO_PASSWORD, new_password='short')
    auth.change_password(principal=here.principal, current_password=DEMO_PASSWORD,
                         new_password='Brand new passphrase 7')
    assert auth.resolve_session(token=here_token) is None and auth.resolve_session(token=elsewhere) is None
    assert auth.login(browser=BROWSER, email=MANAGER, password='Brand new passphrase 7')
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
    result = auth.set_password_with_token(token=token, new_password='Spring tulips by the river', browser=BROWSER)
    assert auth.resolve_session(token=session_of(result)).email == MANAGER
    with pytest.raises(auth.TokenInvalid, match='already been used'):
        auth.set_password_with_token(token=token, new_password='Another good passphrase', browser=BROWSER)
    assert auth.login(browser=BROWSER, email=MANAGER, password='Spring tulips by the river')


def _reset_links() -> list[str]:
    with session_scope() as session:
        messages = session.exec(select(OutboxMessage).where(OutboxMessage.subject.contains('Reset'))
                                .order_by(OutboxMessage.id)).all()
        return [_link_token(body_as_sent(message)) for message in messages]


def test_a_new_reset_link_replaces_the_old_one(demo) -> None:
    auth.request_password_reset(email=MANAGER, client_ip='10.3.0.1')
    auth.request_password_reset(email=MANAGER, client_ip='10.3.0.1')
    old, new = _reset_links()
    with pytest.raises(auth.TokenInvalid):
        auth.check_token(old)
    assert auth.check_token(new) == ('reset', MANAGER)


def test_reset_requests_are_limited_per_account_and_per_client(demo) -> None:
    for attempt in range(30):  # before: 30 requests, 30 emails, 30 live links
        auth.request_password_reset(email=MANAGER, client_ip=f'10.4.0.{attempt}')
    assert len(_reset_links()) == 3
    for attempt in range(40):  # one client asking for many accounts
        auth.request_password_reset(email=f'someone{attempt}@example.org', client_ip='10.5.0.1')
    auth.request_password_reset(email=PROVIDER, client_ip='10.5.0.1')
    assert len(_reset_links()) == 3  # the provider's link is not sent to this client's request
    auth.request_password_reset(email=PROVIDER, client_ip='10.6.0.1')
    assert len(_reset_links()) == 4  # from elsewhere it is
    assert 'password_reset_throttled' in actions()


def test_reset_link_expires_after_an_hour_and_welcome_after_seven_days(demo) -> None:
    auth.request_password_reset(email=MANAGER)
    with session_scope() as session:
        row = session.exec(select(PasswordToken).where(PasswordToken.purpose == 'reset')).one()
        assert timedelta(minutes=59) < row.expires_at - row.created_at <= timedelta(hours=1)
        row.expires_at = utcnow() - timedelta(seconds=1)
        session.add(row)
        body = body_as_sent(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()[-1])
    with pytest.raises(auth.TokenInvalid, match='expired'):
        auth.set_password_with_token(token=_link_token(body), new_password='Spring tulips by the river',
                                    browser=BROWSER)
    assert auth.TOKEN_LIFETIMES['welcome'] == timedelta(days=7)


def test_bad_new_password_keeps_the_link_usable(demo) -> None:
    auth.request_password_reset(email=MANAGER)
    with session_scope() as session:
        body = body_as_sent(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()[-1])
    token = _link_token(body)
    with pytest.raises(ServiceError, match='email address'):
        auth.set_password_with_token(token=token, new_password=MANAGER, browser=BROWSER)
    assert auth.check_token(token)[0] == 'reset'


def test_unknown_token_is_refused(db) -> None:
    with pytest.raises(auth.TokenInvalid, match='not valid'):
        auth.check_token('made-up-token')


def test_a_sign_in_code_works_once_only_in_its_browser_and_within_a_minute(demo) -> None:
    """Session fixation: whoever shares the pre-log-in cookie's id gets nothing; the session token is new."""
    result = auth.login(browser=BROWSER, email=MANAGER, password=DEMO_PASSWORD)
    assert auth.start_session(sign_in_code=result.sign_in_code, browser='another browser') is None
    assert auth.start_session(sign_in_code='', browser=BROWSER) is None
    token = session_of(result)
    assert token != result.sign_in_code and auth.resolve_session(token=token).email == MANAGER
    assert auth.start_session(sign_in_code=result.sign_in_code, browser=BROWSER) is None  # used
    assert auth.resolve_session(token=result.sign_in_code) is None  # the code is no session
    with pytest.raises(auth.TokenInvalid):  # nor a set-password link
        auth.check_token(result.sign_in_code)
    late = auth.login(browser=BROWSER, email=MANAGER, password=DEMO_PASSWORD)
    with session_scope() as session:
        row = session.exec(select(PasswordToken).where(PasswordToken.purpose == auth.SIGN_IN)
                           .where(PasswordToken.used_at.is_(None))).one()
        row.expires_at = utcnow() - timedelta(seconds=1)
        session.add(row)
    assert auth.start_session(sign_in_code=late.sign_in_code, browser=BROWSER) is None


def test_sign_in_codes_do_not_pile_up(demo) -> None:
    """Every log-in writes a one-minute code: a traded one is deleted, an abandoned one at the next log-in."""
    def codes() -> int:
        with session_scope(read_only=True) as session:
            return len(session.exec(select(PasswordToken).where(PasswordToken.purpose == auth.SIGN_IN)).all())

    for _ in range(3):
        session_of(auth.login(browser=BROWSER, email=MANAGER, password=DEMO_PASSWORD))
    assert codes() == 0
    auth.login(browser=BROWSER, email=MANAGER, password=DEMO_PASSWORD)  # the browser never comes back
    with session_scope() as session:
        for row in session.exec(select(PasswordToken).where(PasswordToken.purpose == auth.SIGN_IN)):
            row.expires_at = utcnow() - timedelta(seconds=1)
            session.add(row)
    session_of(auth.login(browser=BROWSER, email=MANAGER, password=DEMO_PASSWORD))
    assert codes() == 0


async def test_pending_log_in_delays_hold_no_worker_thread(demo, monkeypatch: pytest.MonkeyPatch) -> None:
    """A flood of bad log-ins on a throttled account waits on the event loop: the thread pool the pages share
    stays free for everyone else (before: each wait slept in a pool thread, and 4 of them starved the pool)."""
    monkeypatch.setenv('CVMS_LOGIN_MAX_DELAY_SECONDS', '3')
    reset_settings()
    with session_scope() as session:  # a guesser's streak on the account: every attempt now waits the longest
        session.add(LoginThrottle(key=f'account:{auth.token_digest(MANAGER)}', failures=20))
    pool = ThreadPoolExecutor(max_workers=4)  # as NiceGUI's run.io_bound pool, smaller

    async def in_pool(fn, *args):  # noqa: ANN001, ANN202
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    async def guess(n: int) -> None:
        with pytest.raises(auth.LoginRefused):
            await auth.login_async(email=MANAGER, password=f'wrong {n}', browser=BROWSER, client_ip=f'10.6.0.{n}',
                                   in_thread=in_pool)
    try:
        flood = [asyncio.create_task(guess(n)) for n in range(12)]
        await asyncio.sleep(1.0)  # every guess has been counted and is now waiting
        assert not any(task.done() for task in flood)
        started = time.monotonic()
        assert await in_pool(lambda: 'served') == 'served'
        assert time.monotonic() - started < 0.5  # other requests are served while the delays are pending
        await asyncio.gather(*flood)
        assert actions().count('login_throttled') == 12
    finally:
        pool.shutdown(wait=True)
        monkeypatch.undo()
        reset_settings()


def test_expired_log_in_counters_are_pruned_and_recent_ones_kept(db, no_slowdown) -> None:
    for n in range(3):
        with pytest.raises(auth.LoginRefused):
            auth.login(browser=BROWSER, email=f'someone{n}@example.org', password='guess', client_ip=f'10.5.0.{n}')
    with session_scope() as session:
        rows = session.exec(select(LoginThrottle).order_by(LoginThrottle.key)).all()
        assert len(rows) == 6  # per email and per address
        for row in rows[:4]:  # a window (an hour: the reset-link one, the longer) and a minute ago
            row.last_failure_at = utcnow() - timedelta(minutes=61)
            session.add(row)
    assert auth.prune_login_throttle() == 4
    with session_scope() as session:
        assert len(session.exec(select(LoginThrottle)).all()) == 2
    assert auth.prune_login_throttle() == 0


def test_pruning_runs_once_per_period_across_workers() -> None:
    """On PostgreSQL the job engine defers the pruning once per period for all workers (a periodic task with a
    queueing lock); on SQLite this process's loop runs it."""
    import procrastinate.testing

    from services import background
    app = procrastinate.App(connector=procrastinate.testing.InMemoryConnector())
    background.register_tasks(app)
    for name in (background.PRUNE_TASK, background.SEAL_AUDIT_TASK):  # and audit rows a writer could not seal
        task = app.tasks[name]
        assert task.queueing_lock == name
        assert any(p.task is task for p in app.periodic_registry.periodic_tasks.values())
