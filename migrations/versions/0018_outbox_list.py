"""the Outbox screen's searches: indexes on outboxmessage (to_addr, id) and (subject, id)

Revision ID: 0018_outbox_list
Revises: 0017_audit_chain
Create Date: 2026-12-02

The Outbox pages newest first and narrows by the start of the recipient address or of the subject; each is a
range of its index, in id order (services/core/outbox.py). At a million emails the screen read the newest 200 in
4-5 s and its filter scanned every row.
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0018_outbox_list'
down_revision: str | Sequence[str] | None = '0017_audit_chain'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_outboxmessage_to_addr_id', 'outboxmessage', ['to_addr', 'id'])
    op.create_index('ix_outboxmessage_subject_id', 'outboxmessage', ['subject', 'id'])


def downgrade() -> None:
    op.drop_index('ix_outboxmessage_subject_id', table_name='outboxmessage')
    op.drop_index('ix_outboxmessage_to_addr_id', table_name='outboxmessage')
