"""password links kept apart from outbox bodies: outboxmessage.secret

Revision ID: 0015_outbox_secret_links
Revises: 0014_quarantine
Create Date: 2026-12-02

A set-password link's token no longer sits in the stored body: the body holds '[hidden]' in its place and the
token waits in `secret` until the message is sent (then it is erased). Existing rows are rewritten the same way;
sent and failed ones lose the token altogether.
"""
import re
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0015_outbox_secret_links'
down_revision: str | Sequence[str] | None = '0014_quarantine'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOKEN = re.compile(r'(?<=/set-password/)[A-Za-z0-9_-]{16,}')
SLOT = '[hidden]'


def upgrade() -> None:
    with op.batch_alter_table('outboxmessage') as batch_op:
        batch_op.add_column(sa.Column('secret', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, body_text, status FROM outboxmessage "
                                "WHERE body_text LIKE '%/set-password/%'")).fetchall()
    changes = []
    for row_id, body, status in rows:
        match = TOKEN.search(body)
        if match is None:
            continue
        kept = match.group(0) if status in ('pending', 'sending') else None
        changes.append({'id': row_id, 'body': TOKEN.sub(SLOT, body), 'secret': kept})
    if changes:
        conn.execute(sa.text('UPDATE outboxmessage SET body_text = :body, secret = :secret WHERE id = :id'), changes)


def downgrade() -> None:
    conn = op.get_bind()
    conn.execute(sa.text("UPDATE outboxmessage SET body_text = replace(body_text, :slot, secret) "
                         "WHERE secret IS NOT NULL"), {'slot': SLOT})
    with op.batch_alter_table('outboxmessage') as batch_op:
        batch_op.drop_column('secret')
