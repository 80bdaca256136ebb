"""Log-in, sessions and emailed password links.

A log-in (or a set-password link) yields a one-minute sign-in code bound to the browser that asked for it; the
browser trades it over HTTP for a fresh random session token, which it keeps in its own HttpOnly cookie (the
database keeps only its SHA-256; NiceGUI's storage never holds it). Every page load and every service call resolves
the token again, so idle and absolute timeouts, log-out and password changes take effect at once (docs/adr/0006).
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from models import AuthSession, Location, LoginThrottle, Organization, PasswordToken, PortalAccount, User, utcnow
from services.accounts.passwords import hash_password, password_problem, verify_password
from services.core import audit, mail
from services.core.db import session_scope
from services.core.errors import ServiceError
from services.core.i18n import translator
from services.core.settings import get_settings
from services.principal import Principal

TOKEN_LIFETIMES = {
    'welcome': timedelta(days=7),
    'reset': timedelta(hours=1),
    'verify': timedelta(days=2),
}
LINK_PURPOSES = tuple(TOKEN_LIFETIMES)  # what an emailed link may be; a sign-in code is none of them
SIGN_IN = 'sign_in'  # PasswordToken.purpose of the code a browser trades for its session cookie
SIGN_IN_LIFETIME = timedelta(seconds=60)
GENERIC_LOGIN_ERROR = 'Incorrect email or password.'


class Refusal(ServiceError):
    """A refusal whose English text is a catalog message id (services.i18n), filled with `params`."""

    def __init__(self, template: str, **params: object) -> None:
        super().__init__(template.format(**params))
        self.template, self.params = template, params

    def translated(self, translate: Callable[[str], str]) -> str:
        return translate(self.template).format(**self.params)


class LoginRefused(Refusal):
    pass


class TokenInvalid(Refusal):
    pass


@dataclass(frozen=True)
class LoginResult:
    sign_in_code: str  # for start_session, from the same browser, within a minute; grants nothing alone
    principal: Principal


TOKEN_BYTES = 32  # of randomness in every session and password-link token


def token_digest(token: str) -> str:
    """What is stored of a token: its hash, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_tokens(count: int) -> Iterator[str]:
    """`count` tokens as secrets.token_urlsafe(TOKEN_BYTES) makes them, from one read of the system's random
    source: one os.urandom call per token cost 0.7 s of a 100,000-row upload's welcome emails."""
    block = os.urandom(count * TOKEN_BYTES)
    for start in range(0, len(block), TOKEN_BYTES):
        yield base64.urlsafe_b64encode(block[start:start + TOKEN_BYTES]).rstrip(b'=').decode('ascii')


def normalize_email(email: str) -> str:
    return email.strip().lower()


def principal_for(session: Session, user: User, *, client_ip: str | None = None) -> Principal:
    portal_id = session.exec(select(PortalAccount.id).where(PortalAccount.user_id == user.id)).first()
    return Principal(user_id=user.id or 0, email=user.email, role=user.role, full_name=user.full_name,
                     organization_id=user.organization_id, location_id=user.location_id,
                     portal_account_id=portal_id, client_ip=client_ip)


async def login_async(*, email: str, password: str, browser: str, client_ip: str | None = None,
                      in_thread: Callable[..., Awaitable[Any]] = asyncio.to_thread) -> LoginResult:
    """Check the password and hand out a sign-in code for this browser (`browser`: the pre-log-in cookie's
    identity); start_session trades it for the session. The log-in page's path: `in_thread` runs the database
    work and the password hash in a worker thread (the page passes NiceGUI's run.io_bound).

    Recent failures on the account or from the client make every attempt wait first (audited), up to a few
    seconds: guessing gets slow, while the right password still works. The wait is served on the event loop, so a
    flood of bad log-ins holds no worker thread while it waits and every other request is still served. Unknown
    and known emails take the same path, counters included, and get the same answer."""
    email = normalize_email(email)
    wait = await in_thread(_throttle_wait_now, email, client_ip)
    if wait:
        await asyncio.sleep(wait)
    return await in_thread(_attempt_now, email, password, client_ip, browser)


def login(*, email: str, password: str, browser: str, client_ip: str | None = None) -> LoginResult:
    """login_async for callers without an event loop (the command line, tests): the wait blocks this thread."""
    email = normalize_email(email)
    wait = _throttle_wait_now(email, client_ip)
    if wait:
        time.sleep(wait)
    return _attempt_now(email, password, client_ip, browser)


def prune_login_throttle() -> int:
    """Delete failure counters nobody has added to within their window (they no longer slow anything, and
    guessed or mistyped emails would pile up forever); returns how many. Background work, once per period."""
    settings = get_settings()
    window = timedelta(minutes=max(settings.login_failure_minutes, settings.reset_links_window_minutes))
    with session_scope() as session:
        removed = session.execute(delete(LoginThrottle).where(col(LoginThrottle.last_failure_at) < utcnow() - window))
        return removed.rowcount or 0


def _throttle_wait_now(email: str, client_ip: str | None) -> float:
    with session_scope() as session:  # the wait is audited before it is served
        return _throttle_wait(session, email, client_ip)


def _attempt_now(email: str, password: str, client_ip: str | None, browser: str) -> LoginResult:
    with session_scope() as session:  # failures are committed too: they are audited and counted
        result = _attempt(session, email, password, client_ip, browser)
    if result is None:
        raise LoginRefused(GENERIC_LOGIN_ERROR)
    return result


def _attempt(session: Session, email: str, password: str, client_ip: str | None,
             browser: str) -> LoginResult | None:
    user = session.exec(select(User).where(User.email == email)).first()
    ok = verify_password(password, user.password_hash if user and user.is_active else None)
    if ok and user is not None:
        user.last_login_at = utcnow()
        session.add(user)
        session.execute(delete(LoginThrottle).where(col(LoginThrottle.key) == _account_key(email)))
        principal = principal_for(session, user, client_ip=client_ip)
        audit.record(session, action='login', actor=principal)
        return LoginResult(sign_in_code=_issue_sign_in_code(session, user.id or 0, browser), principal=principal)
    window = timedelta(minutes=get_settings().login_failure_minutes)
    _count(session, _account_key(email), window=window)
    _count(session, _client_key(client_ip), window=window)
    audit.record(session, action='login_failed', actor_email=email, client_ip=client_ip,
                 entity_type='user' if user else None, entity_id=user.id if user else None)
    return None


def _account_key(email: str) -> str:
    # Per email, known or not, so an unknown account is counted (and slowed) exactly like a real one.
    return f'account:{token_digest(email)}'


def _client_key(client_ip: str | None) -> str:
    return f'ip:{client_ip or "unknown"}'


def _throttle_wait(session: Session, email: str, client_ip: str | None) -> float:
    """Seconds this attempt waits: grows with the recent failures on the account, and from the client at half the
    rate (desks behind one address mistype more often than one person)."""
    settings = get_settings()
    since = utcnow() - timedelta(minutes=settings.login_failure_minutes)
    counts = dict(session.exec(select(LoginThrottle.key, LoginThrottle.failures)
                               .where(col(LoginThrottle.key).in_([_account_key(email), _client_key(client_ip)]))
                               .where(LoginThrottle.last_failure_at >= since)).all())
    account, client = counts.get(_account_key(email), 0), counts.get(_client_key(client_ip), 0)
    extra = max(account, client // 2) + 1 - settings.login_slow_after  # this attempt counts too
    if extra < 0:
        return 0.0
    wait = min(0.5 * 2 ** min(extra, 16), settings.login_max_delay_seconds)
    audit.record(session, action='login_throttled', actor_email=email, client_ip=client_ip,
                 detail=f'waited {wait:g} s after {account} failures on the account, {client} from the client')
    return wait


def _count(session: Session, key: str, *, window: timedelta) -> int:
    """One more on the counter `key` (restarted when its last count is older than `window`); the row is locked
    for the transaction, so attempts on several instances at once all count."""
    now = utcnow()
    insert = pg_insert if session.get_bind().dialect.name == 'postgresql' else sqlite_insert
    session.execute(insert(LoginThrottle).values(key=key, failures=0, last_failure_at=now)
                    .on_conflict_do_nothing())
    row = session.exec(select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()).one()
    row.failures = 1 if now - row.last_failure_at > window else row.failures + 1
    row.last_failure_at = now
    session.add(row)
    return row.failures


def start_session(*, sign_in_code: str, browser: str, client_ip: str | None = None) -> str | None:
    """Trade a sign-in code for a new session token, once, within its minute and only from the browser it was
    issued to; None otherwise. The token exists from here on only in the cookie the caller sets."""
    if not sign_in_code or not browser:
        return None
    now = utcnow()
    with session_scope() as session:
        row = session.exec(select(PasswordToken).where(PasswordToken.purpose == SIGN_IN)
                           .where(PasswordToken.token_hash == _sign_in_digest(sign_in_code, browser))).first()
        if row is None or row.used_at is not None or row.expires_at < now:
            return None
        # used once, so kept no longer: a racing tab that traded it first deleted it already
        claimed = session.execute(delete(PasswordToken).where(col(PasswordToken.id) == row.id))
        user = session.get(User, row.user_id)
        if claimed.rowcount != 1 or user is None or not user.is_active:  # a racing tab traded it first
            return None
        token = secrets.token_urlsafe(TOKEN_BYTES)
        session.add(AuthSession(token_hash=token_digest(token), user_id=row.user_id, client_ip=client_ip))
        return token


def _sign_in_digest(code: str, browser: str) -> str:
    # Bound to the browser: a code carried to another browser (or a link planted in someone's mail) matches nothing.
    return token_digest(f'{code}:{browser}')


def _issue_sign_in_code(session: Session, user_id: int, browser: str) -> str:
    # codes never traded (a browser closed within its minute) go at the account's next log-in: none piles up
    session.execute(delete(PasswordToken).where(col(PasswordToken.user_id) == user_id)
                    .where(col(PasswordToken.purpose) == SIGN_IN).where(col(PasswordToken.expires_at) < utcnow()))
    code = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(PasswordToken(token_hash=_sign_in_digest(code, browser), user_id=user_id, purpose=SIGN_IN,
                              expires_at=utcnow() + SIGN_IN_LIFETIME))
    return code


def resolve_session(*, token: str | None, client_ip: str | None = None) -> Principal | None:
    """The principal behind a session token, or None when it is unknown, ended or timed out.
    Every click asks, so it only reads (no SQLite write lock, no wait behind a bulk upload's chunk); it writes
    only to end a timed-out session or, at most every 30 seconds, to note that the session is in use."""
    if not token:
        return None
    settings = get_settings()
    now = utcnow()
    with session_scope(read_only=True) as session:
        auth = session.exec(select(AuthSession).where(AuthSession.token_hash == token_digest(token))).first()
        if auth is None or auth.ended_at is not None:
            return None
        reason = None
        if now - auth.last_seen_at > timedelta(minutes=settings.session_idle_minutes):
            reason = 'idle_timeout'
        elif now - auth.created_at > timedelta(hours=settings.session_absolute_hours):
            reason = 'absolute_timeout'
        user = session.get(User, auth.user_id)
        if reason is None and (user is None or not user.is_active):
            reason = 'account_disabled'
        principal = principal_for(session, user, client_ip=client_ip) if reason is None and user else None
        touch = now - auth.last_seen_at > timedelta(seconds=30)
    if reason is not None or touch:
        with session_scope() as session:
            if reason is not None:
                session.execute(update(AuthSession).where(col(AuthSession.id) == auth.id)
                                .where(col(AuthSession.ended_at).is_(None)).values(ended_at=now, end_reason=reason))
            else:
                session.execute(update(AuthSession).where(col(AuthSession.id) == auth.id)
                                .where(col(AuthSession.last_seen_at) < now).values(last_seen_at=now))
    return principal


def end_sessions(session: Session, user_id: int, *, reason: str, except_token: str | None = None) -> None:
    query = update(AuthSession).where(col(AuthSession.user_id) == user_id).where(col(AuthSession.ended_at).is_(None))
    if except_token:
        query = query.where(col(AuthSession.token_hash) != token_digest(except_token))
    session.execute(query.values(ended_at=utcnow(), end_reason=reason))


def logout(*, token: str | None) -> None:
    if not token:
        return
    with session_scope() as session:
        auth = session.exec(select(AuthSession).where(AuthSession.token_hash == token_digest(token))).first()
        if auth and auth.ended_at is None:
            auth.ended_at, auth.end_reason = utcnow(), 'logout'
            session.add(auth)
            user = session.get(User, auth.user_id)
            audit.record(session, action='logout', actor_email=user.email if user else None,
                         entity_type='user', entity_id=auth.user_id)


def _set_password(session: Session, user: User, new_password: str) -> None:
    if (problem := password_problem(new_password, email=user.email)) is not None:
        raise ServiceError(problem)
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    session.add(user)
    end_sessions(session, user.id or 0, reason='password_changed')


def change_password(*, principal: Principal, current_password: str, new_password: str) -> None:
    """Change one's own password; every session of the account ends, this one included."""
    with session_scope() as session:
        user = session.get(User, principal.user_id)
        if user is None or not verify_password(current_password, user.password_hash):
            raise ServiceError('Your current password is not correct.')
        if current_password == new_password:
            raise ServiceError('Choose a password different from your current one.')
        _set_password(session, user, new_password)
        audit.record(session, action='password_changed', actor=principal, entity_type='user', entity_id=user.id)


def issue_token(session: Session, user_id: int, purpose: str) -> str:
    """A random single-use token; only its hash is stored."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(PasswordToken(token_hash=token_digest(token), user_id=user_id, purpose=purpose,
                              expires_at=utcnow() + TOKEN_LIFETIMES[purpose]))
    return token


def link(path: str) -> str:
    return get_settings().base_url.rstrip('/') + path


def request_password_reset(*, email: str, client_ip: str | None = None) -> None:
    """Email a reset link when the account exists; the caller says the same thing either way. A new link replaces
    the account's earlier ones; past a few requests per account (and many more per client address) within the
    hour, nothing more is sent (audited), so nobody can flood a mailbox or collect links."""
    email = normalize_email(email)
    settings = get_settings()
    window = timedelta(minutes=settings.reset_links_window_minutes)
    with session_scope() as session:
        user = session.exec(select(User).where(User.email == email)).first()
        audit.record(session, action='password_reset_requested', actor_email=email, client_ip=client_ip,
                     entity_type='user' if user else None, entity_id=user.id if user else None)
        for_account = _count(session, f'reset-{_account_key(email)}', window=window)
        for_client = _count(session, f'reset-{_client_key(client_ip)}', window=window)
        if for_account > settings.reset_links_per_account or for_client > settings.reset_links_per_account * 10:
            audit.record(session, action='password_reset_throttled', actor_email=email, client_ip=client_ip,
                         entity_type='user' if user else None, entity_id=user.id if user else None,
                         detail=f'request {for_account} for the account, {for_client} from the client')
            return
        if user is None or not user.is_active:
            return
        session.execute(update(PasswordToken).where(col(PasswordToken.user_id) == user.id)
                        .where(col(PasswordToken.purpose) == 'reset').where(col(PasswordToken.used_at).is_(None))
                        .values(used_at=utcnow()))  # at most one live reset link: the newest
        token = issue_token(session, user.id or 0, 'reset')
        language = session.exec(select(PortalAccount.language).where(PortalAccount.user_id == user.id)).first()
        t = translator(language)  # recipients read it in their portal language; staff in English
        mail.enqueue(session, to=user.email, subject=t('Reset your Vaccine Management System password'),
                     body_text=t('Hello {name},\n\nSomeone asked to reset the password of your account. To choose a '
                                 'new password, open this link within 1 hour:\n\n{link}\n\nIf you did not ask for '
                                 'this, you can ignore this email; your password stays as it is.\n').format(
                         name=user.full_name or user.email, link=link(f'/set-password/{token}')))


def check_token(token: str) -> tuple[str, str]:
    """(purpose, email) of a usable token, or TokenInvalid with the reason."""
    with session_scope(read_only=True) as session:
        row, user = _usable_token(session, token)
        return row.purpose, user.email


def _usable_token(session: Session, token: str) -> tuple[PasswordToken, User]:
    row = session.exec(select(PasswordToken).where(PasswordToken.token_hash == token_digest(token))
                       .where(col(PasswordToken.purpose).in_(LINK_PURPOSES))).first()
    if row is None:
        raise TokenInvalid('This link is not valid. Ask for a new one with "Forgot password?".')
    if row.used_at is not None:
        raise TokenInvalid('This link has already been used. Ask for a new one with "Forgot password?".')
    if row.expires_at < utcnow():
        raise TokenInvalid('This link has expired. Ask for a new one with "Forgot password?".')
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise TokenInvalid('This account is not active. Contact your administrator.')
    return row, user


def set_password_with_token(*, token: str, new_password: str, browser: str,
                            client_ip: str | None = None) -> LoginResult:
    """Use an emailed link once: set the password, end old sessions and sign the person in (a sign-in code for
    this browser, as after a log-in)."""
    with session_scope() as session:
        row, user = _usable_token(session, token)
        _set_password(session, user, new_password)
        row.used_at = utcnow()
        session.add(row)
        # Every other open link of the account stops working too.
        session.execute(update(PasswordToken).where(col(PasswordToken.user_id) == user.id)
                        .where(col(PasswordToken.used_at).is_(None)).values(used_at=utcnow()))
        sign_in_code = _issue_sign_in_code(session, user.id or 0, browser)
        user.last_login_at = utcnow()
        principal = principal_for(session, user, client_ip=client_ip)
        audit.record(session, action='password_set', actor=principal, entity_type='user', entity_id=user.id,
                     detail=f'via {row.purpose} link')
        audit.record(session, action='login', actor=principal, detail=f'after {row.purpose} link')
        return LoginResult(sign_in_code=sign_in_code, principal=principal)


def describe(principal: Principal) -> dict[str, str]:
    """Names the header shows: the person, the role, the location and organization."""
    with session_scope(read_only=True) as session:
        location = session.get(Location, principal.location_id) if principal.location_id else None
        organization = session.get(Organization, principal.organization_id) if principal.organization_id else None
        return {'name': principal.full_name or principal.email,
                'location': location.name if location else '',
                'location_code': location.code if location else '',
                'organization': organization.name if organization else ''}
