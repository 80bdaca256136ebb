"""audit rows sealed into the chain after their commit: auditevent.chain_seq, auditchainhead.last_seq

Revision ID: 0025_audit_sealing
Revises: 0024_harden
Create Date: 2026-12-02

The chain's order becomes its own column (rows sealed after commit on PostgreSQL enter the chain in the order they
are sealed, not by id). Rows chained so far were chained in id order: their place is their id.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0025_audit_sealing'
down_revision: str | Sequence[str] | None = '0024_harden'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('auditevent') as batch_op:
        batch_op.add_column(sa.Column('chain_seq', sa.Integer(), nullable=True))
    with op.batch_alter_table('auditchainhead') as batch_op:
        batch_op.add_column(sa.Column('last_seq', sa.Integer(), nullable=False, server_default='0'))
    op.execute('UPDATE auditevent SET chain_seq = id WHERE row_hash IS NOT NULL')
    op.execute('UPDATE auditchainhead SET last_seq = last_id')
    op.create_index(op.f('ix_auditevent_chain_seq'), 'auditevent', ['chain_seq'], unique=True)


def downgrade() -> None:
    op.drop_index(op.f('ix_auditevent_chain_seq'), table_name='auditevent')
    with op.batch_alter_table('auditchainhead') as batch_op:
        batch_op.drop_column('last_seq')
    with op.batch_alter_table('auditevent') as batch_op:
        batch_op.drop_column('chain_seq')
