"""enrollment: the Provider Enrollment Portal (agreements, signatures, review notes, invitation requests, storage
units of enrolled locations)

Revision ID: 0019_enrollment
Revises: 0018_outbox_list
Create Date: 2026-12-02

Organizations keep their status in organization.enrollment_status; its new values (invited, in_progress,
submitted, returned, rejected) need no schema change (a 16-character string).
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

UTCDateTime = sqlmodel.sql.sqltypes.UTCDateTime
AutoString = sqlmodel.sql.sqltypes.AutoString

revision: str = '0019_enrollment'
down_revision: str | Sequence[str] | None = '0018_outbox_list'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'enrollment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('organization_id', sa.Integer(), nullable=False),
        sa.Column('contact_email', AutoString(length=254), nullable=False),
        sa.Column('contact_user_id', sa.Integer(), nullable=True),
        sa.Column('priority_group', AutoString(length=16), nullable=False),
        sa.Column('invited_by_user_id', sa.Integer(), nullable=True),
        sa.Column('invited_at', UTCDateTime(), nullable=False),
        sa.Column('step', sa.Integer(), nullable=False),
        sa.Column('paused', sa.Boolean(), nullable=False),
        sa.Column('draft_json', sa.Text(), nullable=False),
        sa.Column('submitted_at', UTCDateTime(), nullable=True),
        sa.Column('decided_at', UTCDateTime(), nullable=True),
        sa.Column('decided_by_user_id', sa.Integer(), nullable=True),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['organization_id'], ['organization.id']),
        sa.ForeignKeyConstraint(['contact_user_id'], ['user.id']),
        sa.ForeignKeyConstraint(['invited_by_user_id'], ['user.id']),
        sa.ForeignKeyConstraint(['decided_by_user_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('organization_id'),
    )
    op.create_index('ix_enrollment_contact_user_id', 'enrollment', ['contact_user_id'])
    op.create_index('ix_enrollment_submitted_at', 'enrollment', ['submitted_at'])
    op.create_table(
        'enrollmentsignature',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('enrollment_id', sa.Integer(), nullable=False),
        sa.Column('part', sa.String(length=16), nullable=False),
        sa.Column('signer_name', AutoString(length=200), nullable=False),
        sa.Column('signer_title', AutoString(length=200), nullable=False),
        sa.Column('attestations', sa.Text(), nullable=False),
        sa.Column('signed_at', UTCDateTime(), nullable=False),
        sa.Column('signed_by_user_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['enrollment_id'], ['enrollment.id']),
        sa.ForeignKeyConstraint(['signed_by_user_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('enrollment_id', 'part'),
    )
    op.create_index('ix_enrollmentsignature_enrollment_id', 'enrollmentsignature', ['enrollment_id'])
    op.create_table(
        'enrollmentnote',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('enrollment_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('author_user_id', sa.Integer(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['enrollment_id'], ['enrollment.id']),
        sa.ForeignKeyConstraint(['author_user_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_enrollmentnote_enrollment_id', 'enrollmentnote', ['enrollment_id'])
    op.create_table(
        'invitationrequest',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('organization_name', AutoString(length=200), nullable=False),
        sa.Column('contact_name', AutoString(length=200), nullable=False),
        sa.Column('email', AutoString(length=254), nullable=False),
        sa.Column('phone', AutoString(length=32), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'enrollmentsettings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('invitation_requests_open', sa.Boolean(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'storageunit',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('unit_type', sa.String(length=16), nullable=False),
        sa.Column('capacity_doses', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['location_id'], ['location.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_storageunit_location_id', 'storageunit', ['location_id'])


def downgrade() -> None:
    for table in ('storageunit', 'enrollmentsettings', 'invitationrequest', 'enrollmentnote', 'enrollmentsignature',
                  'enrollment'):
        op.drop_table(table)
