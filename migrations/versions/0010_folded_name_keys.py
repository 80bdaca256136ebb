"""folded name keys: recompute recipients' identity and name keys with accents folded

Revision ID: 0010_folded_name_keys
Revises: 0009_job_engine
Create Date: 2026-11-22

`fold` now drops accents (Nunez = Ñúñez), so every stored key of a name with a non-ASCII letter is recomputed:
the searches and the duplicate checks (bulk upload, desk, portal) compare these keys with keys folded by the new
rule. ASCII names fold as before and keep their keys (name keys an older writer left empty are filled). Two
records that now share an identity (a "José Núñez" and a "Jose Nunez" born the same day) both stay: the first
to get the key keeps it, the other gets it with "#<id>" appended (identity keys are unique), so no record is lost
and the duplicate checks find the first.

The keys come from the application's own `fold`, so they are exactly what it computes when it looks them up.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.recipients.identity import identity_key, name_key

revision: str = '0010_folded_name_keys'
down_revision: str | Sequence[str] | None = '0009_job_engine'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000
RECIPIENT = sa.table('recipient', sa.column('id', sa.Integer), sa.column('first_name', sa.String),
                     sa.column('last_name', sa.String), sa.column('date_of_birth', sa.Date),
                     sa.column('identity_key', sa.String), sa.column('first_name_key', sa.String),
                     sa.column('last_name_key', sa.String))


def upgrade() -> None:
    refold(op.get_bind())


def downgrade() -> None:
    """Nothing to undo: the keys stay valid for the old rule's look-ups of ASCII names, and accented names are
    found by both."""


def refold(connection: sa.Connection) -> int:
    """Recompute every recipient's keys, writing those that differ (names with a non-ASCII letter, and any key an
    older writer left empty); returns how many recipients changed."""
    r = RECIPIENT.c
    changed = 0
    after = 0
    while True:
        rows = connection.execute(sa.select(r.id, r.first_name, r.last_name, r.date_of_birth, r.identity_key,
                                            r.first_name_key, r.last_name_key)
                                  .where(r.id > after).order_by(r.id).limit(BATCH)).all()
        if not rows:
            return changed
        after = rows[-1].id
        for row in rows:
            key = identity_key(row.first_name, row.last_name, row.date_of_birth)
            keys = {'first_name_key': name_key(row.first_name), 'last_name_key': name_key(row.last_name)}
            if key != row.identity_key:
                taken = connection.execute(sa.select(r.id).where(r.identity_key == key)).first()
                keys['identity_key'] = key if taken is None else f'{key}#{row.id}'
            if any(keys[name] != getattr(row, name) for name in keys):
                connection.execute(RECIPIENT.update().where(r.id == row.id).values(**keys))
                changed += 1
