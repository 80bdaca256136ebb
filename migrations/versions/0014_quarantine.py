"""quarantine: doses received with a temperature excursion are held apart until released or wasted

Revision ID: 0014_quarantine
Revises: 0013_recipient_codes
Create Date: 2026-12-02
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

UTCDateTime = sqlmodel.sql.sqltypes.UTCDateTime
AutoString = sqlmodel.sql.sqltypes.AutoString

revision: str = '0014_quarantine'
down_revision: str | Sequence[str] | None = '0013_recipient_codes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'quarantineddoses',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('lot_id', sa.Integer(), nullable=False),
        sa.Column('shipment_id', sa.Integer(), nullable=False),
        sa.Column('doses', sa.Integer(), nullable=False),
        sa.Column('status', AutoString(length=16), nullable=False),
        sa.Column('received_at', UTCDateTime(), nullable=False),
        sa.Column('decided_at', UTCDateTime(), nullable=True),
        sa.Column('decided_by_user_id', sa.Integer(), nullable=True),
        sa.Column('decision_reason', AutoString(length=500), nullable=False),
        sa.Column('ledger_entry_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['ledger_entry_id'], ['ledgerentry.id']),
        sa.ForeignKeyConstraint(['location_id'], ['location.id']),
        sa.ForeignKeyConstraint(['lot_id'], ['lot.id']),
        sa.ForeignKeyConstraint(['shipment_id'], ['shipment.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_quarantineddoses_location_id', 'quarantineddoses', ['location_id'])
    op.create_index('ix_quarantineddoses_shipment_id', 'quarantineddoses', ['shipment_id'])
    op.create_index('ix_quarantineddoses_status', 'quarantineddoses', ['status'])


def downgrade() -> None:
    op.drop_table('quarantineddoses')
