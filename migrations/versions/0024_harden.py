"""audit subjects (the person filter's index), log-in throttle pruning, no lock-out columns

Revision ID: 0024_harden
Revises: 0023_helpdesk_records_kb
Create Date: 2026-12-02

- auditsubject (recipient_id, event_id): the people each audit row is about, so the audit page's person filter
  is an index range instead of a LIKE over every row's detail. Filled here from the existing rows: rows whose
  entity is a recipient, and the ids a recipient-list view names in its detail ("...: recipients 5,42,9").
- loginthrottle.last_failure_at indexed: expired counters are deleted by the background work.
- user.failed_logins, user.locked_until, loginthrottle.locked_until dropped: log-in failures slow attempts and
  never lock an account (ADR 0006), so nothing reads or sets them.
"""
import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0024_harden'
down_revision: str | Sequence[str] | None = '0023_helpdesk_records_kb'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LISTED = re.compile(r': recipients ([0-9,]+)$')


def upgrade() -> None:
    op.create_table(
        'auditsubject',
        sa.Column('recipient_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('event_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint('recipient_id', 'event_id'),
    )
    _fill_subjects(op.get_bind())
    op.create_index(op.f('ix_loginthrottle_last_failure_at'), 'loginthrottle', ['last_failure_at'], unique=False)
    with op.batch_alter_table('loginthrottle') as batch_op:
        batch_op.drop_column('locked_until')
    with op.batch_alter_table('user') as batch_op:
        batch_op.drop_column('failed_logins')
        batch_op.drop_column('locked_until')


def _fill_subjects(conn: sa.Connection) -> None:
    last = 0
    while True:
        rows = conn.execute(sa.text(
            "SELECT id, action, entity_type, entity_id, detail FROM auditevent WHERE id > :last "
            "AND (entity_type = 'recipient' OR action = 'view_recipient_list') ORDER BY id LIMIT 5000"),
            {'last': last}).all()
        if not rows:
            return
        pairs: set[tuple[int, int]] = set()
        for event_id, action, entity_type, entity_id, detail in rows:
            if entity_type == 'recipient' and (entity_id or '').isdigit():
                pairs.add((int(entity_id), event_id))
            if action == 'view_recipient_list' and (found := LISTED.search(detail or '')):
                pairs.update((int(i), event_id) for i in found.group(1).split(',') if i)
        if pairs:
            conn.execute(sa.text('INSERT INTO auditsubject (recipient_id, event_id) VALUES (:r, :e)'),
                         [{'r': r, 'e': e} for r, e in sorted(pairs)])
        last = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table('user') as batch_op:
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('loginthrottle') as batch_op:
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(), nullable=True))
    op.drop_index(op.f('ix_loginthrottle_last_failure_at'), table_name='loginthrottle')
    op.drop_table('auditsubject')
