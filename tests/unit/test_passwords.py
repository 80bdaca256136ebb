"""Password hashing and the password rules."""
from __future__ import annotations

import pytest

from services.accounts.passwords import hash_password, password_problem, verify_password


def test_hash_is_argon2_salted_and_verifies() -> None:
    first, second = hash_password('a fine passphrase'), hash_password('a fine passphrase')
    assert first.startswith('$argon2id$')
    assert first != second  # salted
    assert verify_password('a fine passphrase', first)
    assert not verify_password('a fine passphrasE', first)


def test_missing_or_broken_hash_never_verifies() -> None:
    assert not verify_password('anything at all', None)
    assert not verify_password('anything at all', 'not-a-hash')


@pytest.mark.parametrize(('password', 'reason'), [
    ('short pass', 'at least 12 characters (this one has 10)'),
    ('nurse.jackie@clinic.org', 'email address'),
    ('NURSE.JACKIE', None),  # shorter than 12: the length rule speaks first
    ('password1234', 'too common'),
    ('Qwertyuiop123', 'too common'),
    ('aaaaaaaaaaaaaaaa', 'too common'),
])
def test_refused_passwords_say_why(password: str, reason: str | None) -> None:
    problem = password_problem(password, email='nurse.jackie@clinic.org')
    assert problem is not None
    if reason:
        assert reason in problem


def test_email_local_part_is_refused_too() -> None:
    assert 'email address' in password_problem('nurse.jackie1', email='nurse.jackie1@clinic.org')


def test_a_good_password_passes() -> None:
    assert password_problem('Tulips in the spring rain', email='nurse.jackie@clinic.org') is None
