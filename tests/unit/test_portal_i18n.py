"""Every text the recipient portal shows has a Spanish translation in the catalog (locales/es/LC_MESSAGES)."""
from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_file

from services.clinic import scheduling
from services.core.i18n import catalog_ids, normalize_language, translator
from services.portal import choices

ROOT = Path(__file__).resolve().parents[2]
PORTAL_FILES = [*(str(p.relative_to(ROOT)) for p in sorted((ROOT / 'services/portal').glob('*.py'))),
                *(str(p.relative_to(ROOT)) for p in sorted((ROOT / 'services/recipients').glob('*.py'))),
                'services/clinic/scheduling.py',
                *(str(p.relative_to(ROOT)) for p in sorted((ROOT / 'pages/portal').glob('*.py'))
                  if p.name != 'admin.py'),
                'components/portal_frame.py', 'components/case_parts.py', 'pages/helpdesk/recipient.py']
KEYWORDS = {'_': None, 't': None, '_t': None}


def portal_message_ids() -> set[str]:
    ids = set()
    for name in PORTAL_FILES:
        for _line, message, _comments, _context in extract_from_file('python', ROOT / name, keywords=KEYWORDS):
            message = next(m for m in message if m) if isinstance(message, tuple) else message
            if message:
                ids.add(message)
    # Texts kept in tables of their modules, translated where they are used.
    return ids | set(choices.HEALTH_QUESTIONS.values()) | set(scheduling.EMAIL_SUBJECTS.values())


def test_portal_every_text_has_a_spanish_translation() -> None:
    ids = portal_message_ids()
    assert len(ids) > 100
    missing = sorted(ids - catalog_ids('es'))
    assert not missing, f'add these to locales/es/LC_MESSAGES/cvms.po: {missing}'


def test_portal_translator_falls_back_to_english() -> None:
    assert translator('es')('Vaccine Program Status') == 'Estado en el programa de vacunación'
    assert translator('en')('Vaccine Program Status') == 'Vaccine Program Status'
    assert translator('fr')('Vaccine Program Status') == 'Vaccine Program Status'
    assert normalize_language('ES') == 'es' and normalize_language(None) == 'en'
    es = translator('es')
    assert es('Dose {dose}: {when}').format(dose=2, when='x') == 'Dosis 2: x'


def test_portal_emails_in_the_persons_language() -> None:
    from services.portal.accounts import welcome_email

    subject, body = welcome_email(first_name='Ana', email='ana@example.org', set_password_url='http://x/set-password/t')
    assert subject == 'Welcome to the North Carolina Vaccine Management COVID-19 Vaccine Portal'
    english, spanish = body.split('---- En español ----')
    assert 'Set up your password here' in english and 'Cree su contraseña aquí' in spanish
    assert body.index('/set-password/t') < body.index('En español')
