"""The normalized identity of a recipient: first name + last name + date of birth."""
from __future__ import annotations

import unicodedata
from datetime import date


def fold(text: str) -> str:
    """Trimmed, inner spaces collapsed, Unicode-normalized (NFKC) and case-folded; done in Python
    because SQLite's lower() folds only ASCII."""
    return unicodedata.normalize('NFKC', ' '.join(text.split())).casefold()


def identity_key(first_name: str, last_name: str, date_of_birth: date) -> str:
    return f'{fold(first_name)}|{fold(last_name)}|{date_of_birth.isoformat()}'
