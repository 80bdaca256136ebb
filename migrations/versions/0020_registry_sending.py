"""registry sending: claims, retries and the registry's answer on each registry message

Revision ID: 0020_registry_sending
Revises: 0019_enrollment
Create Date: 2026-12-02
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0020_registry_sending'
down_revision: str | Sequence[str] | None = '0019_enrollment'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTCDateTime = sqlmodel.sql.sqltypes.UTCDateTime
AutoString = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table('registrymessage') as batch_op:
        batch_op.add_column(sa.Column('next_attempt_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('claimed_by', AutoString(length=120), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('answered_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('last_error', AutoString(length=500), nullable=True))
        batch_op.add_column(sa.Column('ack_body', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('resent_as_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_registrymessage_resent_as_id', 'registrymessage', ['resent_as_id'], ['id'])
        batch_op.create_index('ix_registrymessage_next_attempt_at', ['next_attempt_at'])
        batch_op.create_index('ix_registrymessage_filler_order_id', ['filler_order_id'])


def downgrade() -> None:
    with op.batch_alter_table('registrymessage') as batch_op:
        batch_op.drop_index('ix_registrymessage_filler_order_id')
        batch_op.drop_index('ix_registrymessage_next_attempt_at')
        batch_op.drop_constraint('fk_registrymessage_resent_as_id', type_='foreignkey')
        for name in ('resent_as_id', 'ack_body', 'last_error', 'answered_at', 'claimed_until', 'claimed_by',
                     'next_attempt_at'):
            batch_op.drop_column(name)
