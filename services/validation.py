"""Field rules shared by every way data comes in (screens, uploads, the CLI)."""
from __future__ import annotations

from functools import lru_cache

from email_validator import EmailNotValidError, validate_email


@lru_cache(maxsize=65536)
def _domain_problem(domain: str) -> str | None:
    """Domains repeat across a file (everyone at one employer), so their check is cached."""
    try:
        validate_email(f'a@{domain}', check_deliverability=False)
    except EmailNotValidError as error:
        return str(error)
    return None


def email_problem(email: str) -> str | None:
    """None for a syntactically valid address (international domains allowed, no network look-up)."""
    local, sep, domain = email.rpartition('@')
    if not sep or not local or not domain:
        return 'an email address needs one @ with a name before it and a domain after it'
    if _domain_problem(domain) is not None:
        return _domain_problem(domain)
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as error:
        return str(error)
    return None
