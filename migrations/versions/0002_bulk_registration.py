"""bulk registration: uploads, their failed rows, removal requests

Revision ID: 0002_bulk
Revises: 0001
Create Date: 2026-11-21
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0002_bulk'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_str = sqlmodel.sql.sqltypes.AutoString
_when = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        'bulkupload',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('created_at', _when(), nullable=False),
        sa.Column('mode', _str(length=8), nullable=False),
        sa.Column('status', _str(length=16), nullable=False),
        sa.Column('file_name', _str(length=255), nullable=False),
        sa.Column('file_size', sa.Integer(), nullable=False),
        sa.Column('stored_name', _str(length=80), nullable=True),
        sa.Column('location_id', sa.Integer(), nullable=True),
        sa.Column('organization_id', sa.Integer(), nullable=True),
        sa.Column('recipient_source', _str(length=24), nullable=False),
        sa.Column('uploaded_by_user_id', sa.Integer(), nullable=True),
        sa.Column('uploaded_by_email', _str(length=254), nullable=False),
        sa.Column('header_json', sa.Text(), nullable=False),
        sa.Column('encoding', _str(length=16), nullable=False),
        sa.Column('total_rows', sa.Integer(), nullable=False),
        sa.Column('rows_done', sa.Integer(), nullable=False),
        sa.Column('last_line', sa.Integer(), nullable=False),
        sa.Column('loaded', sa.Integer(), nullable=False),
        sa.Column('failed', sa.Integer(), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('started_at', _when(), nullable=True),
        sa.Column('finished_at', _when(), nullable=True),
        sa.ForeignKeyConstraint(['location_id'], ['location.id']),
        sa.ForeignKeyConstraint(['organization_id'], ['organization.id']),
        sa.ForeignKeyConstraint(['uploaded_by_user_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('bulkupload') as batch_op:
        batch_op.create_index('ix_bulkupload_created_at', ['created_at'])
        batch_op.create_index('ix_bulkupload_status', ['status'])
        batch_op.create_index('ix_bulkupload_location_id', ['location_id'])
        batch_op.create_index('ix_bulkupload_organization_id', ['organization_id'])

    op.create_table(
        'bulkuploaderror',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('upload_id', sa.Integer(), nullable=False),
        sa.Column('line', sa.Integer(), nullable=False),
        sa.Column('values_json', sa.Text(), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['upload_id'], ['bulkupload.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('bulkuploaderror') as batch_op:
        batch_op.create_index('ix_bulkuploaderror_upload_id', ['upload_id'])

    op.create_table(
        'removalrequest',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('created_at', _when(), nullable=False),
        sa.Column('recipient_id', sa.Integer(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=True),
        sa.Column('organization_id', sa.Integer(), nullable=True),
        sa.Column('requested_by_user_id', sa.Integer(), nullable=True),
        sa.Column('requested_by_email', _str(length=254), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('status', _str(length=16), nullable=False),
        sa.Column('resolved_at', _when(), nullable=True),
        sa.Column('resolved_by_user_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['recipient_id'], ['recipient.id']),
        sa.ForeignKeyConstraint(['location_id'], ['location.id']),
        sa.ForeignKeyConstraint(['organization_id'], ['organization.id']),
        sa.ForeignKeyConstraint(['requested_by_user_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('removalrequest') as batch_op:
        batch_op.create_index('ix_removalrequest_created_at', ['created_at'])
        batch_op.create_index('ix_removalrequest_recipient_id', ['recipient_id'])
        batch_op.create_index('ix_removalrequest_location_id', ['location_id'])
        batch_op.create_index('ix_removalrequest_status', ['status'])


def downgrade() -> None:
    op.drop_table('removalrequest')
    op.drop_table('bulkuploaderror')
    op.drop_table('bulkupload')
