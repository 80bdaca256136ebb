"""loaded-recipients list at a million: per-location indexes and a trigger-kept recipient count

Revision ID: 0007_recipient_list
Revises: 0006_merge
Create Date: 2026-11-21
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007_recipient_list'
down_revision: str | Sequence[str] | None = '0006_merge'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {'ix_recipient_location_last_name': ['location_id', 'last_name_key', 'first_name_key', 'id'],
           'ix_recipient_location_first_name': ['location_id', 'first_name_key', 'last_name_key', 'id'],
           'ix_recipient_location_email': ['location_id', 'email', 'id']}
# No (location, date of birth) index: every index costs each bulk-loaded row a B-tree insert (about 1 s per
# 100,000 rows at a million); sorting a very large location by date of birth sorts in memory instead.

SQLITE_TRIGGERS = [
    '''CREATE TRIGGER recipientcount_insert AFTER INSERT ON recipient BEGIN
         INSERT INTO recipientcount (location_id, organization_id, n)
         VALUES (coalesce(NEW.location_id, 0), coalesce(NEW.organization_id, 0), 1)
         ON CONFLICT (location_id, organization_id) DO UPDATE SET n = n + 1;
       END''',
    '''CREATE TRIGGER recipientcount_delete AFTER DELETE ON recipient BEGIN
         UPDATE recipientcount SET n = n - 1
         WHERE location_id = coalesce(OLD.location_id, 0) AND organization_id = coalesce(OLD.organization_id, 0);
       END''',
    '''CREATE TRIGGER recipientcount_update AFTER UPDATE OF location_id, organization_id ON recipient
       WHEN OLD.location_id IS NOT NEW.location_id OR OLD.organization_id IS NOT NEW.organization_id BEGIN
         UPDATE recipientcount SET n = n - 1
         WHERE location_id = coalesce(OLD.location_id, 0) AND organization_id = coalesce(OLD.organization_id, 0);
         INSERT INTO recipientcount (location_id, organization_id, n)
         VALUES (coalesce(NEW.location_id, 0), coalesce(NEW.organization_id, 0), 1)
         ON CONFLICT (location_id, organization_id) DO UPDATE SET n = n + 1;
       END''',
]

# PostgreSQL: statement-level triggers over the transition tables, so a COPY of 100,000 rows adds one
# grouped upsert, not 100,000 row-level calls.
_ADD = '''INSERT INTO recipientcount (location_id, organization_id, n)
          SELECT coalesce(location_id, 0), coalesce(organization_id, 0), count(*) FROM {rows} GROUP BY 1, 2
          ON CONFLICT (location_id, organization_id) DO UPDATE SET n = recipientcount.n + excluded.n;'''
_SUBTRACT = '''UPDATE recipientcount c SET n = c.n - d.k
          FROM (SELECT coalesce(location_id, 0) AS l, coalesce(organization_id, 0) AS o, count(*) AS k
                FROM {rows} GROUP BY 1, 2) d
          WHERE c.location_id = d.l AND c.organization_id = d.o;'''
POSTGRES_FUNCTIONS = {
    'insert': _ADD.format(rows='new_rows'),
    'delete': _SUBTRACT.format(rows='old_rows'),
    'update': _SUBTRACT.format(rows='old_rows') + '\n' + _ADD.format(rows='new_rows'),
}
POSTGRES_REFERENCING = {'insert': 'NEW TABLE AS new_rows', 'delete': 'OLD TABLE AS old_rows',
                        'update': 'OLD TABLE AS old_rows NEW TABLE AS new_rows'}


def upgrade() -> None:
    op.create_table(
        'recipientcount',
        sa.Column('location_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('organization_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('location_id', 'organization_id'),
    )
    for name, columns in INDEXES.items():  # plain CREATE INDEX: no table rebuild at a million rows
        op.create_index(name, 'recipient', columns, unique=False)
    op.drop_index('ix_recipient_location_id', table_name='recipient')
    op.execute('INSERT INTO recipientcount (location_id, organization_id, n) '
               'SELECT coalesce(location_id, 0), coalesce(organization_id, 0), count(*) FROM recipient GROUP BY 1, 2')
    if op.get_bind().dialect.name == 'postgresql':
        for event, body in POSTGRES_FUNCTIONS.items():
            op.execute(f'CREATE FUNCTION recipientcount_{event}() RETURNS trigger LANGUAGE plpgsql AS $$ '
                       f'BEGIN {body} RETURN NULL; END $$')
            op.execute(f'CREATE TRIGGER recipientcount_{event} AFTER {event.upper()} ON recipient '
                       f'REFERENCING {POSTGRES_REFERENCING[event]} FOR EACH STATEMENT '
                       f'EXECUTE FUNCTION recipientcount_{event}()')
    else:
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)


def downgrade() -> None:
    for event in POSTGRES_FUNCTIONS:
        op.execute(f'DROP TRIGGER IF EXISTS recipientcount_{event}' + (' ON recipient' if op.get_bind().dialect.name
                                                                         == 'postgresql' else ''))
        if op.get_bind().dialect.name == 'postgresql':
            op.execute(f'DROP FUNCTION IF EXISTS recipientcount_{event}()')
    op.create_index('ix_recipient_location_id', 'recipient', ['location_id'], unique=False)
    for name in INDEXES:
        op.drop_index(name, table_name='recipient')
    op.drop_table('recipientcount')
