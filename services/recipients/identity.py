"""The normalized identity of a recipient: first name + last name + date of birth, and the folded name keys every
search reads.

`fold` is the one rule for "the same name as typed at a desk": case, accents, spacing, apostrophes and periods do
not count, and a hyphen counts as a space (Nunez = Ñúñez, Muller = Müller, ONeil = O’Neil, Mendes Cruz =
Mendes-Cruz, St John = St. John). The stored keys (identity_key,
first_name_key, last_name_key) are folded with it: the bulk loader's fast path writes them itself, and every ORM
insert or name change gets them from the listener below, so no writer can leave them stale.
"""
from __future__ import annotations

import unicodedata
from datetime import date

from sqlalchemy import event, inspect

from models import Recipient

NAME_KEY_MAX = 80  # the name-key columns' width

# The punctuation names hold, as people leave it out or type it: apostrophes and periods dropped, hyphens as spaces.
_PUNCTUATION = {"'": None, '.': None, '-': ' '}
_ASCII = str.maketrans(_PUNCTUATION)
# The same for typographic variants, and the letters NFKD does not decompose.
_PLAIN = str.maketrans({**_PUNCTUATION, '’': None, '‘': None, 'ʼ': None, 'ʹ': None, '´': None, '‐': ' ', '‑': ' ',
                        '‒': ' ', '–': ' ', '—': ' ', 'ø': 'o', 'Ø': 'o', 'ł': 'l', 'Ł': 'l', 'đ': 'd', 'Đ': 'd',
                        'ħ': 'h', 'Ħ': 'h', 'ı': 'i', 'æ': 'ae', 'Æ': 'ae', 'œ': 'oe', 'Œ': 'oe', 'þ': 'th',
                        'Þ': 'th', 'ð': 'd', 'Ð': 'd'})


def fold(text: str) -> str:
    """Accents dropped (NFKD without combining marks), case-folded, apostrophes and periods dropped, hyphens and
    runs of spaces as one space, trimmed; done in Python because SQLite's lower() folds only ASCII."""
    if text.isascii():  # most names: the same result, several times faster (the bulk loader folds every row)
        return ' '.join(text.translate(_ASCII).split()).lower()
    letters = ''.join(c for c in unicodedata.normalize('NFKD', text) if not unicodedata.combining(c))
    return ' '.join(letters.translate(_PLAIN).split()).casefold()


def name_key(name: str) -> str:
    """A name as the first_name_key / last_name_key columns hold it."""
    return fold(name)[:NAME_KEY_MAX]


def identity_key(first_name: str, last_name: str, date_of_birth: date) -> str:
    return f'{fold(first_name)}|{fold(last_name)}|{date_of_birth.isoformat()}'


@event.listens_for(Recipient, 'before_insert')
def _keys_of_a_new_recipient(_mapper, _connection, recipient: Recipient) -> None:  # noqa: ANN001
    recipient.first_name_key = name_key(recipient.first_name)
    recipient.last_name_key = name_key(recipient.last_name)
    if not recipient.identity_key:
        recipient.identity_key = identity_key(recipient.first_name, recipient.last_name, recipient.date_of_birth)


@event.listens_for(Recipient, 'before_update')
def _keys_of_a_renamed_recipient(_mapper, _connection, recipient: Recipient) -> None:  # noqa: ANN001
    state = inspect(recipient)
    if any(state.attrs[name].history.has_changes() for name in ('first_name', 'last_name', 'date_of_birth')):
        recipient.first_name_key = name_key(recipient.first_name)
        recipient.last_name_key = name_key(recipient.last_name)
        recipient.identity_key = identity_key(recipient.first_name, recipient.last_name, recipient.date_of_birth)
