"""Translations for everything recipients read (portal pages and their emails), gettext-style.

The English text in the code is the message id; `locales/<lang>/LC_MESSAGES/cvms.po` holds the other
languages. Catalogs are compiled to .mo in memory with Babel at first use, so the .po file is the only source
and nothing needs a build step. Usage: `_ = translator(lang)`, then `_('Vaccine Program Status')`
(placeholders: `_('Hello {name}').format(name=...)`)."""
from __future__ import annotations

import gettext
import io
from collections.abc import Callable
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).resolve().parents[2] / 'locales'
DOMAIN = 'cvms'
LANGUAGES = {'en': 'English', 'es': 'Español'}
DEFAULT_LANGUAGE = 'en'


def normalize_language(lang: str | None) -> str:
    lang = (lang or '').strip().lower()[:2]
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


@cache
def _translations(lang: str) -> gettext.NullTranslations:
    """Read-only after loading, so one copy per process serves every user."""
    path = LOCALES_DIR / lang / 'LC_MESSAGES' / f'{DOMAIN}.po'
    if lang == DEFAULT_LANGUAGE or not path.exists():
        return gettext.NullTranslations()
    with path.open('rb') as po_file:
        catalog = read_po(po_file, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def translator(lang: str | None) -> Callable[[str], str]:
    return _translations(normalize_language(lang)).gettext


def catalog_ids(lang: str) -> set[str]:
    """Message ids that have a translation in `lang` (tests check the code uses no untranslated text)."""
    path = LOCALES_DIR / lang / 'LC_MESSAGES' / f'{DOMAIN}.po'
    with path.open('rb') as po_file:
        catalog = read_po(po_file, locale=lang)
    return {str(message.id) for message in catalog if message.id and message.string and not message.fuzzy}


def marked(message: str) -> str:
    """Marks text for the catalog (import it as `_`); it is translated where it is shown, in the reader's language."""
    return message
