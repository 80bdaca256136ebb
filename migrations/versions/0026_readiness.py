"""readiness: the state's checklist for vaccination locations and each location's ticks

Revision ID: 0026_readiness
Revises: 0025_audit_sealing
Create Date: 2026-12-02

Seeds the default list (a frozen copy of services.organizations.readiness.DEFAULT_ITEMS at this revision); the
state edits it on the Readiness items screen.
"""
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

UTCDateTime = sqlmodel.sql.sqltypes.UTCDateTime
AutoString = sqlmodel.sql.sqltypes.AutoString

revision: str = '0026_readiness'
down_revision: str | Sequence[str] | None = '0025_audit_sealing'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_ITEMS = [
    'Storage units monitored with a continuous temperature data logger',
    'Staff trained on vaccine storage, handling and administration',
    'Emergency plan for storage failures and power outages',
    'Primary and backup vaccine coordinators named',
    'Doses reported to the state registry within 24 hours',
    'Adverse event (VAERS) reporting procedure in place',
]


def upgrade() -> None:
    items = op.create_table(
        'readinessitem',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('label', AutoString(length=200), nullable=False),
        sa.Column('sort_order', sa.Integer(), nullable=False),
        sa.Column('retired_at', UTCDateTime(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'readinesscheck',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('ticked', sa.Boolean(), nullable=False),
        sa.Column('changed_by_user_id', sa.Integer(), nullable=True),
        sa.Column('changed_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['location_id'], ['location.id']),
        sa.ForeignKeyConstraint(['item_id'], ['readinessitem.id']),
        sa.ForeignKeyConstraint(['changed_by_user_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('location_id', 'item_id', name='uq_readinesscheck_location_item'),
    )
    op.create_index('ix_readinesscheck_location_id', 'readinesscheck', ['location_id'])
    now = datetime.now(UTC)
    op.bulk_insert(items, [{'label': label, 'sort_order': number, 'created_at': now}
                           for number, label in enumerate(DEFAULT_ITEMS, start=1)])


def downgrade() -> None:
    op.drop_table('readinesscheck')
    op.drop_table('readinessitem')
