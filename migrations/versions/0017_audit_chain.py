"""audit trail as a hash chain: auditevent.prev_hash / row_hash, auditchainhead

Revision ID: 0017_audit_chain
Revises: 0016_registry
Create Date: 2026-12-02

Existing rows are chained here in id order, with the same canonical form as services.core.audit (kept here as it
was at this revision, so later changes there cannot change what this migration wrote).
"""
import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0017_audit_chain'
down_revision: str | Sequence[str] | None = '0016_registry'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = '0' * 64
CHAINED = ('id', 'at', 'actor_user_id', 'actor_email', 'action', 'entity_type', 'entity_id', 'detail', 'client_ip')


def _hash(row: dict, prev_hash: str) -> str:
    values = {name: row[name] for name in CHAINED}
    at = values['at']
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    at = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    values['at'] = at.strftime('%Y-%m-%dT%H:%M:%S.%fZ')
    canonical = json.dumps(values, sort_keys=True, separators=(',', ':'), ensure_ascii=False).encode()
    return hashlib.sha256(prev_hash.encode() + b'\n' + canonical).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table('auditevent') as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('row_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    op.create_table(
        'auditchainhead',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('last_id', sa.Integer(), nullable=False),
        sa.Column('last_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    conn = op.get_bind()
    prev, last_id = GENESIS, 0
    while True:
        rows = conn.execute(sa.text(f'SELECT {", ".join(CHAINED)} FROM auditevent WHERE id > :last '  # noqa: S608
                                    'ORDER BY id LIMIT 5000'), {'last': last_id}).mappings().all()
        if not rows:
            break
        changes = []
        for row in rows:
            row_hash = _hash(dict(row), prev)
            changes.append({'id': row['id'], 'prev': prev, 'hash': row_hash})
            prev, last_id = row_hash, row['id']
        conn.execute(sa.text('UPDATE auditevent SET prev_hash = :prev, row_hash = :hash WHERE id = :id'), changes)
    conn.execute(sa.text('INSERT INTO auditchainhead (id, last_id, last_hash) VALUES (1, :id, :hash)'),
                 {'id': last_id, 'hash': prev if last_id else ''})


def downgrade() -> None:
    op.drop_table('auditchainhead')
    with op.batch_alter_table('auditevent') as batch_op:
        batch_op.drop_column('row_hash')
        batch_op.drop_column('prev_hash')
