"""Password hashing (argon2 through passlib) and the password rules a person can follow."""
from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from passlib.context import CryptContext

from services.core.settings import get_settings

MIN_LENGTH = 12
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parents[2] / 'assets' / 'common_passwords.txt'


@lru_cache
def _context(memory_kib: int, time_cost: int) -> CryptContext:
    return CryptContext(schemes=['argon2'], argon2__memory_cost=memory_kib, argon2__time_cost=time_cost)


def context() -> CryptContext:
    settings = get_settings()
    return _context(settings.argon2_memory_kib, settings.argon2_time_cost)


def hash_password(password: str) -> str:
    """Slow on purpose (argon2): call it off the event loop."""
    return context().hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """Always does the full work, even without a hash, so unknown accounts take as long as wrong passwords."""
    ctx = context()
    if not password_hash:
        ctx.verify(password, _dummy_hash())
        return False
    try:
        return ctx.verify(password, password_hash)
    except (ValueError, TypeError):
        return False


@lru_cache
def _dummy_hash() -> str:
    return context().hash('dummy password for timing only')


@lru_cache
def _common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding='utf-8').splitlines()
    return frozenset(line.strip().casefold() for line in lines if line.strip() and not line.startswith('#'))


def password_problem(password: str, *, email: str = '', translate: Callable[[str], str] | None = None) -> str | None:
    """The reason a password is refused, in words a person can act on (in their language when `translate`,
    a services.i18n translator, is given); None when it is acceptable."""
    t = translate or str
    if len(password) < MIN_LENGTH:
        return t('Use at least {minimum} characters (this one has {length}).').format(minimum=MIN_LENGTH,
                                                                                     length=len(password))
    folded = password.strip().casefold()
    email = email.strip().casefold()
    if email and (folded == email or folded == email.split('@')[0]):
        return t('Do not use your email address as your password.')
    if folded in _common_passwords() or len(set(folded)) <= 2:
        return t('This password is too common and easy to guess. Choose another one.')
    return None
