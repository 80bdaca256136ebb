"""outbox claims and a shared mail rate cap: outboxmessage.claimed_by / claimed_until, mailpace

Revision ID: 0012_outbox_claims
Revises: 0011_upload_files
Create Date: 2026-12-01

Senders claim messages with a lease they renew while working, so only a dead sender's claims are taken over
(nothing is reset at start-up any more). Messages left 'sending' by the old start-up rule get an expired claim:
the next sender takes them. `mailpace` holds the rate cap's next free slot for every instance together.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0012_outbox_claims'
down_revision: str | Sequence[str] | None = '0011_upload_files'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outboxmessage') as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.execute("UPDATE outboxmessage SET claimed_until = next_attempt_at WHERE status = 'sending'")
    op.create_table(
        'mailpace',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('next_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('mailpace')
    with op.batch_alter_table('outboxmessage') as batch_op:
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('claimed_by')
