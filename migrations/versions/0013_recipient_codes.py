"""recipient module: sex, race and ethnicity stored as codes

Revision ID: 0013_recipient_codes
Revises: 0012_outbox_claims
Create Date: 2026-12-01

The desk stored labels ('Female', 'Hispanic or Latino'), the portal its own keys ('female', 'hispanic'). Both become
HL7 administrative sex codes (F, M, U; X where the state allows it) and CDC Race & Ethnicity codes (CDCREC; the HL7
null flavor UNK for unknown or prefer not to say), in the recipient table and in the contact step that portal
registrations keep (registrationprogress.contact_json). See docs/adr/0007-recipient-module.md.

The spellings are written out here, not imported, so this migration keeps meaning what it meant when it ran. A value
none of them (typed by hand before the rules existed) becomes the unknown code: it said nothing the codes can carry.
"""
import json
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013_recipient_codes'
down_revision: str | Sequence[str] | None = '0012_outbox_claims'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNKNOWN = {'sex': 'U', 'race': 'UNK', 'ethnicity': 'UNK'}
# Lower-case spelling -> code: the desk's labels, the portal's keys, and the codes themselves.
SPELLINGS = {
    'sex': {'female': 'F', 'f': 'F', 'male': 'M', 'm': 'M', 'unknown': 'U', 'u': 'U', 'prefer not to say': 'U',
            'x': 'X'},
    'race': {'american indian or alaska native': '1002-5', 'american_indian': '1002-5', '1002-5': '1002-5',
             'asian': '2028-9', '2028-9': '2028-9',
             'black or african american': '2054-5', 'black': '2054-5', '2054-5': '2054-5',
             'native hawaiian or other pacific islander': '2076-8', 'pacific_islander': '2076-8', '2076-8': '2076-8',
             'white': '2106-3', '2106-3': '2106-3',
             'other race': '2131-1', 'other': '2131-1', '2131-1': '2131-1',
             'prefer not to say': 'UNK', 'unknown': 'UNK', 'unk': 'UNK'},
    'ethnicity': {'hispanic or latino': '2135-2', 'hispanic': '2135-2', '2135-2': '2135-2',
                  'not hispanic or latino': '2186-5', 'not_hispanic': '2186-5', '2186-5': '2186-5',
                  'prefer not to say': 'UNK', 'unknown': 'UNK', 'unk': 'UNK'},
}
# Back to the desk's labels (the portal read them too: its option labels were the same words).
LABELS = {
    'sex': {'F': 'Female', 'M': 'Male', 'U': 'Unknown', 'X': 'other'},
    'race': {'1002-5': 'American Indian or Alaska Native', '2028-9': 'Asian', '2054-5': 'Black or African American',
             '2076-8': 'Native Hawaiian or Other Pacific Islander', '2106-3': 'White', '2131-1': 'Other race',
             'UNK': 'Prefer not to say'},
    'ethnicity': {'2135-2': 'Hispanic or Latino', '2186-5': 'Not Hispanic or Latino', 'UNK': 'Prefer not to say'},
}


def upgrade() -> None:
    spellings = {field: dict(values) for field, values in SPELLINGS.items()}
    # The portal's "Other" sex: X where the state takes it, else unknown (HL7 U), as its registry expects.
    spellings['sex']['other'] = 'X' if _sex_x_allowed() else 'U'
    _update_columns(spellings, unknown=UNKNOWN)
    _update_progress(lambda field, value: _code(spellings, field, value))


def downgrade() -> None:
    _update_columns({field: {code.lower(): label for code, label in labels.items()}
                     for field, labels in LABELS.items()}, unknown=None)
    _update_progress(lambda field, value: LABELS[field].get(value, value))


def _code(spellings: dict[str, dict[str, str]], field: str, value: str) -> str:
    text = value.strip().lower()
    return spellings[field].get(text, UNKNOWN[field]) if text else ''


def _update_columns(spellings: dict[str, dict[str, str]], *, unknown: dict[str, str] | None) -> None:
    """One UPDATE per column, done by the database: a CASE over the known spellings; anything else becomes the
    unknown code (`unknown`) or stays as it is (None)."""
    recipient = sa.table('recipient', *(sa.column(field, sa.String) for field in SPELLINGS))
    for field, known in spellings.items():
        column = recipient.c[field]
        folded = sa.func.lower(sa.func.trim(column))
        op.execute(recipient.update().where(column.is_not(None)).values({field: sa.case(
            (folded == '', sa.null()), *((folded == spelling, sa.literal(code)) for spelling, code in known.items()),
            else_=sa.literal(unknown[field]) if unknown else column)}))


def _update_progress(change: Callable[[str, str], str]) -> None:
    """The contact step kept by each portal registration (JSON text: few rows, changed in Python)."""
    progress = sa.table('registrationprogress', sa.column('id', sa.Integer), sa.column('contact_json', sa.Text))
    connection = op.get_bind()
    for progress_id, raw in connection.execute(sa.select(progress.c.id, progress.c.contact_json)).all():
        contact = json.loads(raw or '{}')
        changed = {**contact, **{field: change(field, str(contact[field])) for field in SPELLINGS
                                 if contact.get(field)}}
        if changed != contact:
            connection.execute(progress.update().where(progress.c.id == progress_id)
                               .values(contact_json=json.dumps(changed)))


def _sex_x_allowed() -> bool:
    from services.core.settings import get_settings
    return get_settings().allow_sex_x
