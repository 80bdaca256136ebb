"""Field rules shared by every way data comes in (screens, uploads, the CLI)."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import DOT_ATOM_TEXT_INTL
from email_validator.syntax import validate_email_local_part

# RFC 5322 dot-atom in ASCII: what nearly every real address's local part is. email-validator accepts exactly
# these (and more), so for them only the domain needs its full check, and domains repeat across a file.
_ASCII_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z")
_LOCAL_MAX = 64
_EMAIL_MAX = 254


@lru_cache(maxsize=65536)
def _domain_check(domain: str) -> tuple[str | None, int, int]:
    """(problem, length of the ASCII form, UTF-8 length of the normalized form) of a domain; cached because
    everyone at one employer shares it."""
    try:
        result = validate_email(f'a@{domain}', check_deliverability=False)
    except EmailNotValidError as error:
        return str(error), 0, 0
    return None, len(result.ascii_domain or result.domain), len(result.domain.encode())


def email_problem(email: str) -> str | None:
    """None for a syntactically valid address (international domains allowed, no network look-up).

    The fast paths give the same answer as email-validator (the one source of truth): ASCII dot-atom local parts,
    and unquoted international dot-atom local parts already in NFC, checked by email-validator's own local-part
    function with the address lengths it checks. Anything else (quoted, not normalized, errors, odd lengths) gets
    email-validator's full check, which also words the problem."""
    local, sep, domain = email.rpartition('@')
    if not sep or not local or not domain:
        return 'an email address needs one @ with a name before it and a domain after it'
    problem, ascii_domain_length, domain_length = _domain_check(domain)
    if problem is not None:
        return problem
    if (len(local) <= _LOCAL_MAX and len(local) + 1 + ascii_domain_length <= _EMAIL_MAX
            and _ASCII_DOT_ATOM.match(local)):
        return None
    if DOT_ATOM_TEXT_INTL.match(local) and unicodedata.is_normalized('NFC', local) and _intl_local_ok(local):
        local_length = len(local.encode())
        if (len(email.encode()) <= _EMAIL_MAX and local_length + 1 + domain_length <= _EMAIL_MAX
                and local_length + 1 + ascii_domain_length <= _EMAIL_MAX):
            return None
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as error:
        return str(error)
    return None


def _intl_local_ok(local: str) -> bool:
    try:
        validate_email_local_part(local)
    except EmailNotValidError:
        return False
    return True
