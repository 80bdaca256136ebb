"""bulk import speed: drop the outbox indexes no query uses

Revision ID: 0008_bulk_import_speed
Revises: 0007_recipient_list
Create Date: 2026-11-21

Every welcome email of a bulk upload is an outbox row, so each index there costs each loaded row a B-tree insert;
`to_addr` lands at a random place. No query reads either index: the outbox screen filters recipients with
`contains` (LIKE '%...%', which no B-tree serves) and orders by id; the sender selects by status and
next_attempt_at, whose indexes stay.
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0008_bulk_import_speed'
down_revision: str | Sequence[str] | None = '0007_recipient_list'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DROPPED = {'ix_outboxmessage_to_addr': 'to_addr', 'ix_outboxmessage_created_at': 'created_at'}


def upgrade() -> None:
    for name in DROPPED:
        op.drop_index(name, table_name='outboxmessage')


def downgrade() -> None:
    for name, column in DROPPED.items():
        op.create_index(name, 'outboxmessage', [column], unique=False)
