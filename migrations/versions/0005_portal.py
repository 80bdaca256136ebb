"""recipient portal: registration progress, vaccine groups and rules, portal settings, proof codes

Revision ID: 0005_portal
Revises: 0001
Create Date: 2026-11-20
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0005_portal'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AutoString = sqlmodel.sql.sqltypes.AutoString
UTCDateTime = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        'portalsettings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('self_registration_enabled', sa.Boolean(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'vaccinegroup',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', AutoString(length=32), nullable=False),
        sa.Column('name_en', AutoString(length=200), nullable=False),
        sa.Column('name_es', AutoString(length=200), nullable=False),
        sa.Column('sort_order', sa.Integer(), nullable=False),
        sa.Column('is_default', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code'),
    )
    op.create_table(
        'groupquestion',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', AutoString(length=32), nullable=False),
        sa.Column('text_en', AutoString(length=400), nullable=False),
        sa.Column('text_es', AutoString(length=400), nullable=False),
        sa.Column('sort_order', sa.Integer(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code'),
    )
    op.create_table(
        'grouprule',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('priority', sa.Integer(), nullable=False),
        sa.Column('question_id', sa.Integer(), nullable=False),
        sa.Column('answer', AutoString(length=8), nullable=False),
        sa.Column('group_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['question_id'], ['groupquestion.id']),
        sa.ForeignKeyConstraint(['group_id'], ['vaccinegroup.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('grouprule', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grouprule_question_id'), ['question_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_grouprule_group_id'), ['group_id'], unique=False)
    op.create_table(
        'registrationprogress',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('recipient_id', sa.Integer(), nullable=False),
        sa.Column('step', sa.Integer(), nullable=False),
        sa.Column('status', AutoString(length=16), nullable=False),
        sa.Column('contact_json', sa.Text(), nullable=False),
        sa.Column('group_answers_json', sa.Text(), nullable=False),
        sa.Column('health_answers_json', sa.Text(), nullable=False),
        sa.Column('group_id', sa.Integer(), nullable=True),
        sa.Column('paused_at', UTCDateTime(), nullable=True),
        sa.Column('completed_at', UTCDateTime(), nullable=True),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['recipient_id'], ['recipient.id']),
        sa.ForeignKeyConstraint(['group_id'], ['vaccinegroup.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('recipient_id'),
    )
    op.create_table(
        'proofcode',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('recipient_id', sa.Integer(), nullable=False),
        sa.Column('code', AutoString(length=64), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['recipient_id'], ['recipient.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('recipient_id'),
    )
    with op.batch_alter_table('proofcode', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proofcode_code'), ['code'], unique=True)


def downgrade() -> None:
    op.drop_table('proofcode')
    op.drop_table('registrationprogress')
    with op.batch_alter_table('grouprule', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grouprule_group_id'))
        batch_op.drop_index(batch_op.f('ix_grouprule_question_id'))
    op.drop_table('grouprule')
    op.drop_table('groupquestion')
    op.drop_table('vaccinegroup')
    op.drop_table('portalsettings')
