"""Field rules shared by every way data comes in (screens, uploads, the CLI)."""
from __future__ import annotations

import re
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

# RFC 5322 dot-atom in ASCII: what nearly every real address's local part is. email-validator accepts exactly
# these (and more), so for them only the domain needs its full check, and domains repeat across a file.
_ASCII_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z")
_LOCAL_MAX = 64
_EMAIL_MAX = 254


@lru_cache(maxsize=65536)
def _domain_check(domain: str) -> tuple[str | None, int]:
    """(problem, length of the ASCII form) of a domain; cached because everyone at one employer shares it."""
    try:
        result = validate_email(f'a@{domain}', check_deliverability=False)
    except EmailNotValidError as error:
        return str(error), 0
    return None, len(result.ascii_domain or result.domain)


def email_problem(email: str) -> str | None:
    """None for a syntactically valid address (international domains allowed, no network look-up).

    The fast path gives the same answer as email-validator (the one source of truth) for ASCII dot-atom local
    parts; anything else (quoted, international local parts, odd lengths) gets email-validator's full check."""
    local, sep, domain = email.rpartition('@')
    if not sep or not local or not domain:
        return 'an email address needs one @ with a name before it and a domain after it'
    problem, ascii_domain_length = _domain_check(domain)
    if problem is not None:
        return problem
    if (len(local) <= _LOCAL_MAX and len(local) + 1 + ascii_domain_length <= _EMAIL_MAX
            and _ASCII_DOT_ATOM.match(local)):
        return None
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as error:
        return str(error)
    return None
