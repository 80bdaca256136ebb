"""Log-in, sessions and emailed password links.

A log-in creates a fresh random session token (the browser keeps it in NiceGUI's user storage;
the database keeps only its SHA-256). Every page load and every service call resolves the token
again, so idle and absolute timeouts, log-out and password changes take effect at once.
"""
from __future__ import annotations

import base64
import hashlib
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
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
    token: str
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


def _minutes_left(until: datetime) -> int:
    return max(1, int((until - utcnow()).total_seconds() // 60) + 1)


def principal_for(session: Session, user: User, *, client_ip: str | None = None) -> Principal:
    portal_id = session.exec(select(PortalAccount.id).where(PortalAccount.user_id == user.id)).first()
    return Principal(user_id=user.id or 0, email=user.email, role=user.role, full_name=user.full_name,
                     organization_id=user.organization_id, location_id=user.location_id,
                     portal_account_id=portal_id, client_ip=client_ip)


def _throttle_key(client_ip: str | None) -> str:
    return f'ip:{client_ip or "unknown"}'


def _client_locked_until(session: Session, client_ip: str | None) -> datetime | None:
    row = session.get(LoginThrottle, _throttle_key(client_ip))
    if row and row.locked_until and row.locked_until > utcnow():
        return row.locked_until
    return None


def _count_client_failure(session: Session, client_ip: str | None) -> int:
    settings = get_settings()
    now = utcnow()
    row = session.get(LoginThrottle, _throttle_key(client_ip)) or LoginThrottle(key=_throttle_key(client_ip))
    if row.last_failure_at and now - row.last_failure_at > timedelta(minutes=settings.login_lock_minutes):
        row.failures = 0  # an old streak no longer counts
    # A client may mistype more often than one account (shared desks), so it gets twice the allowance.
    row.failures += 1
    row.last_failure_at = now
    if row.failures >= settings.login_lock_after * 2:
        row.locked_until = now + timedelta(minutes=settings.login_lock_minutes)
    session.add(row)
    return row.failures


def _slow_down(failures: int) -> None:
    """Each attempt past the free ones waits a little longer (this runs in a worker thread)."""
    extra = failures - get_settings().login_slow_after
    if extra >= 0:
        time.sleep(min(0.5 * 2 ** extra, 4.0))


def login(*, email: str, password: str, client_ip: str | None = None) -> LoginResult:
    """Check the password and open a new session. Slow on purpose: call off the event loop."""
    email = normalize_email(email)
    with session_scope() as session:  # refusals are committed too: they are audited and counted
        result_or_refusal = _attempt(session, email, password, client_ip)
    if isinstance(result_or_refusal, LoginResult):
        return result_or_refusal
    template, params, failures = result_or_refusal
    _slow_down(failures)  # after the commit, so parallel guesses are counted as well
    raise LoginRefused(template, **params)


def _attempt(session: Session, email: str, password: str,
             client_ip: str | None) -> LoginResult | tuple[str, dict, int]:
    settings = get_settings()
    if (until := _client_locked_until(session, client_ip)) is not None:
        verify_password(password, None)
        audit.record(session, action='login_refused_locked', actor_email=email, client_ip=client_ip,
                     detail='client locked')
        return ('Too many failed log-ins from this device. Try again in {minutes} minutes, or reset your password.',
                {'minutes': _minutes_left(until)}, 0)
    user = session.exec(select(User).where(User.email == email)).first()
    if user and user.locked_until and user.locked_until > utcnow():
        verify_password(password, None)
        audit.record(session, action='login_refused_locked', actor_email=email, client_ip=client_ip,
                     entity_type='user', entity_id=user.id)
        return ('This account is locked after repeated failed log-ins. Try again in {minutes} minutes, or use '
                '"Forgot password?".', {'minutes': _minutes_left(user.locked_until)}, 0)
    ok = verify_password(password, user.password_hash if user and user.is_active else None)
    if ok and user is not None:
        user.failed_logins, user.locked_until, user.last_login_at = 0, None, utcnow()
        session.add(user)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        session.add(AuthSession(token_hash=token_digest(token), user_id=user.id or 0, client_ip=client_ip))
        principal = principal_for(session, user, client_ip=client_ip)
        audit.record(session, action='login', actor=principal)
        return LoginResult(token=token, principal=principal)
    failures = _count_client_failure(session, client_ip)
    audit.record(session, action='login_failed', actor_email=email, client_ip=client_ip,
                 entity_type='user' if user else None, entity_id=user.id if user else None)
    if user is None:
        return GENERIC_LOGIN_ERROR, {}, failures
    user.failed_logins += 1
    session.add(user)
    if user.failed_logins >= settings.login_lock_after:
        user.locked_until = utcnow() + timedelta(minutes=settings.login_lock_minutes)
        return ('Too many failed log-ins. This account is locked for {minutes} minutes. You can reset your '
                'password with "Forgot password?".', {'minutes': settings.login_lock_minutes}, 0)
    return GENERIC_LOGIN_ERROR, {}, max(failures, user.failed_logins)


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
    user.failed_logins, user.locked_until = 0, None
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
    """Email a reset link when the account exists; the caller says the same thing either way."""
    email = normalize_email(email)
    with session_scope() as session:
        user = session.exec(select(User).where(User.email == email)).first()
        audit.record(session, action='password_reset_requested', actor_email=email, client_ip=client_ip,
                     entity_type='user' if user else None, entity_id=user.id if user else None)
        if user is None or not user.is_active:
            return
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
    row = session.exec(select(PasswordToken).where(PasswordToken.token_hash == token_digest(token))).first()
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


def set_password_with_token(*, token: str, new_password: str, client_ip: str | None = None) -> LoginResult:
    """Use an emailed link once: set the password, end old sessions and sign the person in."""
    with session_scope() as session:
        row, user = _usable_token(session, token)
        _set_password(session, user, new_password)
        row.used_at = utcnow()
        session.add(row)
        # Every other open link of the account stops working too.
        session.execute(update(PasswordToken).where(col(PasswordToken.user_id) == user.id)
                        .where(col(PasswordToken.used_at).is_(None)).values(used_at=utcnow()))
        new_token = secrets.token_urlsafe(TOKEN_BYTES)
        session.add(AuthSession(token_hash=token_digest(new_token), user_id=user.id or 0, client_ip=client_ip))
        user.last_login_at = utcnow()
        principal = principal_for(session, user, client_ip=client_ip)
        audit.record(session, action='password_set', actor=principal, entity_type='user', entity_id=user.id,
                     detail=f'via {row.purpose} link')
        audit.record(session, action='login', actor=principal, detail=f'after {row.purpose} link')
        return LoginResult(token=new_token, principal=principal)


def describe(principal: Principal) -> dict[str, str]:
    """Names the header shows: the person, the role, the location and organization."""
    with session_scope(read_only=True) as session:
        location = session.get(Location, principal.location_id) if principal.location_id else None
        organization = session.get(Organization, principal.organization_id) if principal.organization_id else None
        return {'name': principal.full_name or principal.email,
                'location': location.name if location else '',
                'location_code': location.code if location else '',
                'organization': organization.name if organization else ''}
