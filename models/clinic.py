"""Clinic day: sessions and their slots, appointments, administered doses, reminders, stand-by list, desk defaults."""
from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from .base import utcnow
from .recipient import Recipient


class AppointmentStatus(StrEnum):
    SCHEDULED = 'scheduled'
    CHECKED_IN = 'checked_in'
    COMPLETED = 'completed'
    NO_SHOW = 'no_show'
    CANCELLED = 'cancelled'

    @property
    def label(self) -> str:
        return {'scheduled': 'Scheduled', 'checked_in': 'Checked in', 'completed': 'Completed',
                'no_show': 'No-show', 'cancelled': 'Cancelled'}[self.value]


OPEN_STATUSES = (AppointmentStatus.SCHEDULED, AppointmentStatus.CHECKED_IN)  # hold a slot and a dose


class ReminderStatus(StrEnum):
    PENDING = 'pending'
    SENT = 'sent'
    SUPPRESSED = 'suppressed'


class ClinicSession(SQLModel, table=True):
    """A block of clinic time a location manager opens for booking; cut into slots."""
    id: int | None = Field(default=None, primary_key=True)
    location_id: int = Field(foreign_key='location.id', index=True)
    session_date: date = Field(index=True)
    start_time: time
    end_time: time
    slot_minutes: int = 15
    capacity_per_slot: int = 4
    product_ids: str = Field(default='', max_length=200)  # comma-separated products offered
    cancelled: bool = False
    created_by_user_id: int | None = Field(default=None, foreign_key='user.id')
    created_at: datetime = Field(default_factory=utcnow)


class ClinicSlot(SQLModel, table=True):
    """`booked` counts open appointments; a conditional UPDATE keeps it <= capacity under concurrent bookings."""
    __table_args__ = (Index('ix_clinicslot_location_starts', 'location_id', 'starts_at'),)
    id: int | None = Field(default=None, primary_key=True)
    clinic_session_id: int = Field(foreign_key='clinicsession.id', index=True)
    location_id: int = Field(foreign_key='location.id')
    starts_at: datetime
    ends_at: datetime
    capacity: int
    booked: int = 0


class Appointment(SQLModel, table=True):
    __table_args__ = (Index('ix_appointment_location_day', 'location_id', 'local_date'),)
    id: int | None = Field(default=None, primary_key=True)
    case_number: str = Field(max_length=8, unique=True, index=True)  # 8 random digits, the QR code's content
    recipient_id: int = Field(foreign_key='recipient.id', index=True)
    location_id: int = Field(foreign_key='location.id')
    slot_id: int | None = Field(default=None, foreign_key='clinicslot.id', index=True)
    product_id: int | None = Field(default=None, foreign_key='product.id')
    dose_number: int = 1
    scheduled_at: datetime
    local_date: date  # the day at the location (its time zone): Today's Appointments reads by it
    status: str = Field(default=AppointmentStatus.SCHEDULED, sa_type=String(16))
    walk_in: bool = False
    screening: str | None = Field(default=None, sa_type=Text)  # JSON answers given at point-of-care registration
    checked_in_at: datetime | None = None
    checked_in_by_user_id: int | None = Field(default=None, foreign_key='user.id')
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = Field(default=None, max_length=300)
    created_by_user_id: int | None = Field(default=None, foreign_key='user.id')
    created_at: datetime = Field(default_factory=utcnow)


class Administration(SQLModel, table=True):
    """One dose given. Never edited except to void it; a correction is a new row pointing at the voided one."""
    id: int | None = Field(default=None, primary_key=True)
    recipient_id: int = Field(foreign_key='recipient.id', index=True)
    appointment_id: int | None = Field(default=None, foreign_key='appointment.id', index=True)
    location_id: int = Field(foreign_key='location.id', index=True)
    product_id: int = Field(foreign_key='product.id')
    lot_id: int = Field(foreign_key='lot.id', index=True)
    dose_number: int
    site: str = Field(max_length=40)
    route: str = Field(max_length=40)
    dose_volume_ml: float
    funding_eligibility: str = Field(default='V01', max_length=8)  # HL7 table 0064 (VFC eligibility)
    administered_by_user_id: int | None = Field(default=None, foreign_key='user.id')
    administered_at: datetime = Field(index=True)
    screening: str | None = Field(default=None, sa_type=Text)  # JSON {question key: 'yes' | 'no'}
    consent: bool = True
    source: str = Field(default='desk', max_length=16)  # desk | paper | csv
    backdate_reason: str | None = Field(default=None, max_length=300)
    override_reason: str | None = Field(default=None, max_length=300)
    ledger_entry_id: int | None = Field(default=None, foreign_key='ledgerentry.id')  # the dose drawn
    recorded_by_user_id: int | None = Field(default=None, foreign_key='user.id')
    recorded_at: datetime = Field(default_factory=utcnow)
    voided: bool = Field(default=False, index=True)
    voided_at: datetime | None = None
    voided_by_user_id: int | None = Field(default=None, foreign_key='user.id')
    void_reason: str | None = Field(default=None, max_length=300)
    reversal_entry_id: int | None = Field(default=None, foreign_key='ledgerentry.id')  # given back
    corrects_administration_id: int | None = Field(default=None, foreign_key='administration.id')


class DoseReminder(SQLModel, table=True):
    """A reminder email for the next dose, sent on `send_on` by the clinic job unless it became pointless."""
    id: int | None = Field(default=None, primary_key=True)
    recipient_id: int = Field(foreign_key='recipient.id', index=True)
    administration_id: int = Field(foreign_key='administration.id')
    appointment_id: int | None = Field(default=None, foreign_key='appointment.id')
    dose_number: int
    due_date: date
    send_on: date = Field(index=True)
    status: str = Field(default=ReminderStatus.PENDING, sa_type=String(16), index=True)
    outcome: str | None = Field(default=None, max_length=200)
    processed_at: datetime | None = None


class StandbyEntry(SQLModel, table=True):
    """People willing to come at short notice when a punctured vial has doses left."""
    id: int | None = Field(default=None, primary_key=True)
    location_id: int = Field(foreign_key='location.id', index=True)
    recipient_id: int | None = Field(default=None, foreign_key='recipient.id')
    full_name: str = Field(max_length=200)
    phone: str = Field(default='', max_length=32)
    email: str | None = Field(default=None, max_length=254)
    note: str = Field(default='', max_length=300)
    status: str = Field(default='waiting', max_length=16)  # waiting | called | removed
    created_by_user_id: int | None = Field(default=None, foreign_key='user.id')
    created_at: datetime = Field(default_factory=utcnow)
    called_at: datetime | None = None


class DeskPreference(SQLModel, table=True):
    """The desk's last-used choices, preselected on the next Record vaccination."""
    __table_args__ = (UniqueConstraint('user_id', 'location_id'),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key='user.id')
    location_id: int = Field(foreign_key='location.id')
    product_id: int | None = None
    lot_id: int | None = None
    site: str | None = Field(default=None, max_length=40)
    route: str | None = Field(default=None, max_length=40)
    dose_volume_ml: float | None = None
    updated_at: datetime = Field(default_factory=utcnow)


# Walk-In search: date of birth first, then the case-folded last-name prefix (services.clinic.search_walk_in).
Index('ix_recipient_dob_last_name_key', Recipient.__table__.c.date_of_birth, Recipient.__table__.c.last_name_key)


class AppointmentPublic(SQLModel):
    id: int
    case_number: str
    recipient_id: int
    recipient_name: str
    date_of_birth: date
    location_id: int
    location_name: str
    product_id: int | None
    product_name: str | None
    dose_number: int
    scheduled_at: datetime
    local_time: str  # "Mar 09, 21, 09:58 AM" at the location
    status: str
    walk_in: bool

    @property
    def status_label(self) -> str:
        return AppointmentStatus(self.status).label

    @property
    def details(self) -> str:
        return f'{self.recipient_name} Dose {self.dose_number} {self.status_label}'
