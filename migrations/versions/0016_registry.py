"""registry reporting: HL7 VXU messages per dose event, product MVX codes, dose funding eligibility

Revision ID: 0016_registry
Revises: 0015_outbox_secret_links
Create Date: 2026-12-02

Known products get their CDC MVX code (by CVX code); doses recorded before get funding eligibility V01 (not VFC
eligible), which is what the COVID-19 program reported for adults.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0016_registry'
down_revision: str | Sequence[str] | None = '0015_outbox_secret_links'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTCDateTime = sqlmodel.sql.sqltypes.UTCDateTime
AutoString = sqlmodel.sql.sqltypes.AutoString
MVX_BY_CVX = {'207': 'MOD', '208': 'PFR', '210': 'ASZ', '211': 'NVX', '212': 'JSN', '213': 'PFR'}


def upgrade() -> None:
    with op.batch_alter_table('product') as batch_op:
        batch_op.add_column(sa.Column('mvx_code', AutoString(length=8), nullable=False, server_default=''))
    with op.batch_alter_table('administration') as batch_op:
        batch_op.add_column(sa.Column('funding_eligibility', AutoString(length=8), nullable=False,
                                      server_default='V01'))
    for cvx, mvx in MVX_BY_CVX.items():
        op.execute(sa.text('UPDATE product SET mvx_code = :mvx WHERE cvx_code = :cvx').bindparams(mvx=mvx, cvx=cvx))
    op.create_table(
        'registrymessage',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('administration_id', sa.Integer(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('filler_order_id', sa.Integer(), nullable=False),
        sa.Column('action', sa.String(length=1), nullable=False),
        sa.Column('control_id', AutoString(length=40), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=24), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('exported_at', UTCDateTime(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('ack_code', sa.String(length=2), nullable=True),
        sa.Column('ack_text', AutoString(length=2000), nullable=True),
        sa.ForeignKeyConstraint(['administration_id'], ['administration.id']),
        sa.ForeignKeyConstraint(['location_id'], ['location.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('control_id'),
    )
    op.create_index('ix_registrymessage_administration_id', 'registrymessage', ['administration_id'])
    op.create_index('ix_registrymessage_location_id', 'registrymessage', ['location_id'])
    op.create_index('ix_registrymessage_status', 'registrymessage', ['status'])
    op.create_index('ix_registrymessage_exported_at', 'registrymessage', ['exported_at'])


def downgrade() -> None:
    op.drop_table('registrymessage')
    with op.batch_alter_table('administration') as batch_op:
        batch_op.drop_column('funding_eligibility')
    with op.batch_alter_table('product') as batch_op:
        batch_op.drop_column('mvx_code')
