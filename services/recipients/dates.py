"""Dates as people type them into a form (a date of birth at the desk, a session day, a carton's expiration date).

One reader for every screen: MM/DD/YYYY (the guide's format), M/D/YYYY, MM-DD-YYYY, YYYY-MM-DD and MMDDYYYY
(a date typed without separators, as on a keypad). Month before day, as the guide writes dates; a two-digit year
is refused rather than guessed.
"""
from __future__ import annotations

import re
from datetime import date

from services.core.errors import ValidationFailed

_MONTH_FIRST = re.compile(r'(\d{1,2})([/\-.])(\d{1,2})\2(\d{4})\Z')
_ISO = re.compile(r'(\d{4})-(\d{1,2})-(\d{1,2})\Z')
_DIGITS = re.compile(r'(\d{2})(\d{2})(\d{4})\Z')


def parse_date(text: str | None, *, label: str = 'date') -> date:
    """The date in `text`, or ValidationFailed saying how to write it (`label` names the field when it is empty)."""
    text = (text or '').strip()
    if not text:
        raise ValidationFailed(f'Enter the {label}.')
    found = date_or_none(text)
    if found is None:
        raise ValidationFailed(f'"{text}" is not a date: use MM/DD/YYYY.')
    return found


def date_or_none(text: str | None) -> date | None:
    """The date in `text`, or None when it is empty or not a date (for callers that word the refusal themselves,
    such as the portal in the person's language)."""
    text = (text or '').strip()
    if match := _MONTH_FIRST.match(text):
        month, _, day, year = match.groups()
    elif match := _ISO.match(text):
        year, month, day = match.groups()
    elif match := _DIGITS.match(text):
        month, day, year = match.groups()
    else:
        return None
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None
