"""help desk: cases with VACHCP numbers, their conversation, attachments and the number counter

Revision ID: 0021_helpdesk_cases
Revises: 0020_registry_sending
Create Date: 2026-12-02
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0021_helpdesk_cases'
down_revision: str | Sequence[str] | None = '0020_registry_sending'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTCDateTime = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        'helpdesk_case',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('number', sa.String(16), nullable=False, unique=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.Column('request_type', sa.String(32), nullable=False),
        sa.Column('assignment_group', sa.String(64), nullable=False),
        sa.Column('priority', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(24), nullable=False),
        sa.Column('subject', sa.String(200), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('fields_json', sa.Text(), nullable=False),
        sa.Column('language', sa.String(8), nullable=False),
        sa.Column('requester_user_id', sa.Integer(), sa.ForeignKey('user.id'), nullable=True),
        sa.Column('requester_name', sa.String(200), nullable=False),
        sa.Column('requester_email', sa.String(254), nullable=False),
        sa.Column('organization_id', sa.Integer(), sa.ForeignKey('organization.id'), nullable=True),
        sa.Column('organization_name', sa.String(200), nullable=False),
        sa.Column('location_id', sa.Integer(), sa.ForeignKey('location.id'), nullable=True),
        sa.Column('unregistered_provider', sa.Boolean(), nullable=False),
        sa.Column('assigned_user_id', sa.Integer(), sa.ForeignKey('user.id'), nullable=True),
        sa.Column('recipient_id', sa.Integer(), nullable=True),
        sa.Column('resolution_notes', sa.Text(), nullable=False),
        sa.Column('resolved_at', UTCDateTime(), nullable=True),
        sa.Column('closed_at', UTCDateTime(), nullable=True),
        sa.Column('bulk_upload_id', sa.Integer(), sa.ForeignKey('bulkupload.id'), nullable=True),
        sa.Column('view_key', sa.String(64), nullable=False),
    )
    with op.batch_alter_table('helpdesk_case') as batch_op:
        batch_op.create_index('ix_helpdesk_case_created_at', ['created_at'])
        batch_op.create_index('ix_helpdesk_case_requester_user_id', ['requester_user_id'])
        batch_op.create_index('ix_helpdesk_case_requester_email', ['requester_email'])
        batch_op.create_index('ix_helpdesk_case_organization_id', ['organization_id'])
        batch_op.create_index('ix_helpdesk_case_assigned_user_id', ['assigned_user_id'])
        batch_op.create_index('ix_helpdesk_case_recipient_id', ['recipient_id'])
        batch_op.create_index('ix_helpdesk_case_bulk_upload_id', ['bulk_upload_id'])
        batch_op.create_index('ix_helpdesk_case_state_group_created', ['state', 'assignment_group', 'created_at'])
    op.create_table(
        'casecounter',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column('last_number', sa.Integer(), nullable=False),
    )
    op.create_table(
        'caseentry',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('helpdesk_case.id'), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('kind', sa.String(16), nullable=False),
        sa.Column('author_user_id', sa.Integer(), sa.ForeignKey('user.id'), nullable=True),
        sa.Column('author_name', sa.String(200), nullable=False),
        sa.Column('from_requester', sa.Boolean(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
    )
    op.create_index('ix_caseentry_case_id', 'caseentry', ['case_id'])
    op.create_table(
        'caseattachment',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('helpdesk_case.id'), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('filename', sa.String(200), nullable=False),
        sa.Column('content_type', sa.String(100), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('uploaded_by', sa.String(254), nullable=False),
        sa.Column('from_requester', sa.Boolean(), nullable=False),
        sa.Column('internal', sa.Boolean(), nullable=False),
    )
    op.create_index('ix_caseattachment_case_id', 'caseattachment', ['case_id'])


def downgrade() -> None:
    op.drop_table('caseattachment')
    op.drop_table('caseentry')
    op.drop_table('casecounter')
    op.drop_table('helpdesk_case')
