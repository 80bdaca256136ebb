"""clinic day: clinic sessions and slots, appointments, administrations, dose reminders, stand-by list,
desk preferences; an index on recipient (date of birth, last name key) for the Walk-In search

Revision ID: 0004_clinic
Revises: 0003_inventory
Create Date: 2026-11-20
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0004_clinic'
down_revision: str | Sequence[str] | None = '0003_inventory'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('clinicsession',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('session_date', sa.Date(), nullable=False),
    sa.Column('start_time', sa.Time(), nullable=False),
    sa.Column('end_time', sa.Time(), nullable=False),
    sa.Column('slot_minutes', sa.Integer(), nullable=False),
    sa.Column('capacity_per_slot', sa.Integer(), nullable=False),
    sa.Column('product_ids', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('cancelled', sa.Boolean(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['user.id'], ),
    sa.ForeignKeyConstraint(['location_id'], ['location.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('clinicsession', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinicsession_location_id'), ['location_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_clinicsession_session_date'), ['session_date'], unique=False)

    op.create_table('deskpreference',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('lot_id', sa.Integer(), nullable=True),
    sa.Column('site', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('route', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('dose_volume_ml', sa.Float(), nullable=True),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['location.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'location_id')
    )
    op.create_table('clinicslot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_session_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('ends_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('booked', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['clinic_session_id'], ['clinicsession.id'], ),
    sa.ForeignKeyConstraint(['location_id'], ['location.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('clinicslot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinicslot_clinic_session_id'), ['clinic_session_id'], unique=False)
        batch_op.create_index('ix_clinicslot_location_starts', ['location_id', 'starts_at'], unique=False)

    op.create_table('appointment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_number', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('slot_id', sa.Integer(), nullable=True),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('dose_number', sa.Integer(), nullable=False),
    sa.Column('scheduled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('walk_in', sa.Boolean(), nullable=False),
    sa.Column('screening', sa.Text(), nullable=True),
    sa.Column('checked_in_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('checked_in_by_user_id', sa.Integer(), nullable=True),
    sa.Column('completed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('cancelled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('cancel_reason', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['checked_in_by_user_id'], ['user.id'], ),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['user.id'], ),
    sa.ForeignKeyConstraint(['location_id'], ['location.id'], ),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], ),
    sa.ForeignKeyConstraint(['recipient_id'], ['recipient.id'], ),
    sa.ForeignKeyConstraint(['slot_id'], ['clinicslot.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appointment_case_number'), ['case_number'], unique=True)
        batch_op.create_index('ix_appointment_location_day', ['location_id', 'local_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_appointment_recipient_id'), ['recipient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_appointment_slot_id'), ['slot_id'], unique=False)

    op.create_table('standbyentry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=True),
    sa.Column('full_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('called_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['user.id'], ),
    sa.ForeignKeyConstraint(['location_id'], ['location.id'], ),
    sa.ForeignKeyConstraint(['recipient_id'], ['recipient.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('standbyentry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_standbyentry_location_id'), ['location_id'], unique=False)

    op.create_table('administration',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=True),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=False),
    sa.Column('dose_number', sa.Integer(), nullable=False),
    sa.Column('site', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('route', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('dose_volume_ml', sa.Float(), nullable=False),
    sa.Column('administered_by_user_id', sa.Integer(), nullable=True),
    sa.Column('administered_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('screening', sa.Text(), nullable=True),
    sa.Column('consent', sa.Boolean(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('backdate_reason', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('override_reason', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('ledger_entry_id', sa.Integer(), nullable=True),
    sa.Column('recorded_by_user_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('voided', sa.Boolean(), nullable=False),
    sa.Column('voided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('voided_by_user_id', sa.Integer(), nullable=True),
    sa.Column('void_reason', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('reversal_entry_id', sa.Integer(), nullable=True),
    sa.Column('corrects_administration_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['administered_by_user_id'], ['user.id'], ),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'], ),
    sa.ForeignKeyConstraint(['corrects_administration_id'], ['administration.id'], ),
    sa.ForeignKeyConstraint(['ledger_entry_id'], ['ledgerentry.id'], ),
    sa.ForeignKeyConstraint(['location_id'], ['location.id'], ),
    sa.ForeignKeyConstraint(['lot_id'], ['lot.id'], ),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], ),
    sa.ForeignKeyConstraint(['recipient_id'], ['recipient.id'], ),
    sa.ForeignKeyConstraint(['recorded_by_user_id'], ['user.id'], ),
    sa.ForeignKeyConstraint(['reversal_entry_id'], ['ledgerentry.id'], ),
    sa.ForeignKeyConstraint(['voided_by_user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('administration', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_administration_administered_at'), ['administered_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_administration_appointment_id'), ['appointment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_administration_location_id'), ['location_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_administration_lot_id'), ['lot_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_administration_recipient_id'), ['recipient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_administration_voided'), ['voided'], unique=False)

    op.create_table('dosereminder',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('administration_id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=True),
    sa.Column('dose_number', sa.Integer(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('send_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('processed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['administration_id'], ['administration.id'], ),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'], ),
    sa.ForeignKeyConstraint(['recipient_id'], ['recipient.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('dosereminder', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dosereminder_recipient_id'), ['recipient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dosereminder_send_on'), ['send_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_dosereminder_status'), ['status'], unique=False)
    with op.batch_alter_table('recipient', schema=None) as batch_op:
        batch_op.create_index('ix_recipient_dob_last_name_key', ['date_of_birth', 'last_name_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('recipient', schema=None) as batch_op:
        batch_op.drop_index('ix_recipient_dob_last_name_key')


    with op.batch_alter_table('dosereminder', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dosereminder_status'))
        batch_op.drop_index(batch_op.f('ix_dosereminder_send_on'))
        batch_op.drop_index(batch_op.f('ix_dosereminder_recipient_id'))

    op.drop_table('dosereminder')
    with op.batch_alter_table('administration', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_administration_voided'))
        batch_op.drop_index(batch_op.f('ix_administration_recipient_id'))
        batch_op.drop_index(batch_op.f('ix_administration_lot_id'))
        batch_op.drop_index(batch_op.f('ix_administration_location_id'))
        batch_op.drop_index(batch_op.f('ix_administration_appointment_id'))
        batch_op.drop_index(batch_op.f('ix_administration_administered_at'))

    op.drop_table('administration')
    with op.batch_alter_table('standbyentry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_standbyentry_location_id'))

    op.drop_table('standbyentry')
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appointment_slot_id'))
        batch_op.drop_index(batch_op.f('ix_appointment_recipient_id'))
        batch_op.drop_index('ix_appointment_location_day')
        batch_op.drop_index(batch_op.f('ix_appointment_case_number'))

    op.drop_table('appointment')
    with op.batch_alter_table('clinicslot', schema=None) as batch_op:
        batch_op.drop_index('ix_clinicslot_location_starts')
        batch_op.drop_index(batch_op.f('ix_clinicslot_clinic_session_id'))

    op.drop_table('clinicslot')
    op.drop_table('deskpreference')
    with op.batch_alter_table('clinicsession', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinicsession_session_date'))
        batch_op.drop_index(batch_op.f('ix_clinicsession_location_id'))

    op.drop_table('clinicsession')
