"""Today's Appointments and Recipient Check-In."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import col, select

from models import Recipient, utcnow
from models.clinic import (
    Appointment,
    AppointmentPublic,
    AppointmentStatus,
)
from models.inventory import Product
from services.clinic.common import _changed, _location_of
from services.clinic.scheduling import normalize_case_number, to_public
from services.core import audit
from services.core.db import session_scope
from services.core.errors import ServiceError, ValidationFailed
from services.core.localtime import as_utc, local_today, time_label, zone_of
from services.permissions import Action, Kind, fetch, require, visible
from services.principal import Principal
from services.recipients.visibility import listed

# ---------------------------------------------------------------- Today's Appointments

@dataclass(frozen=True, slots=True)
class TodayAppointment:
    """One line of Today's Appointments (AppointmentPublic's fields; a plain dataclass because thousands are built
    on every refresh)."""
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
    local_time: str
    status: str
    walk_in: bool

    @property
    def status_label(self) -> str:
        return AppointmentStatus(self.status).label

    @property
    def details(self) -> str:
        return f'{self.recipient_name} Dose {self.dose_number} {self.status_label}'


def today_appointments(*, principal: Principal, status: str | None = None) -> list[TodayAppointment]:
    """Today's appointments at the user's location, by time (a status filter is optional). Reads plain columns
    (no ORM objects): a big clinic day has thousands of rows and every desk re-reads them on each change."""
    require(principal, Action.CHECK_IN)
    if principal.location_id is None:
        return []
    with session_scope(read_only=True) as session:
        location = _location_of(session, principal)
        zone = zone_of(location)
        query = (select(Appointment.id, Appointment.case_number, Appointment.recipient_id, Appointment.product_id,
                        Appointment.dose_number, Appointment.scheduled_at, Appointment.status, Appointment.walk_in,
                        Recipient.first_name, Recipient.last_name, Recipient.date_of_birth, Product.name)
                 .join(Recipient, col(Recipient.id) == col(Appointment.recipient_id))
                 .outerjoin(Product, col(Product.id) == col(Appointment.product_id))
                 .where(visible(principal=principal, kind=Kind.APPOINTMENT))
                 .where(Appointment.local_date == local_today(zone))
                 .where(listed(Appointment.recipient_id))
                 .order_by(col(Appointment.scheduled_at), col(Appointment.id)))
        if status:
            query = query.where(Appointment.status == status)
        rows = session.exec(query).all()
    return [TodayAppointment(
        id=row[0], case_number=row[1], recipient_id=row[2], recipient_name=f'{row[8]} {row[9]}',
        date_of_birth=row[10], location_id=location.id, location_name=location.name, product_id=row[3],
        product_name=row[11], dose_number=row[4], scheduled_at=as_utc(row[5]),
        local_time=time_label(row[5], zone), status=row[6], walk_in=row[7])
        for row in rows]


# ---------------------------------------------------------------- Recipient Check-In

def find_for_check_in(*, principal: Principal, raw_number: str) -> AppointmentPublic:
    """The appointment behind a confirmation number, if it can be checked in here today; otherwise a
    ServiceError saying exactly what is wrong."""
    require(principal, Action.CHECK_IN)
    number = normalize_case_number(raw_number)
    if not number:
        raise ValidationFailed('Enter or scan the appointment confirmation number.')
    if len(number) != 8:
        raise ValidationFailed(f'"{raw_number.strip()}" is not a confirmation number: it has 8 digits.')
    with session_scope(read_only=True) as session:
        location = _location_of(session, principal)
        appointment = session.exec(select(Appointment).where(Appointment.case_number == number)).first()
        if appointment is None or appointment.location_id != location.id:
            # The same answer for another location's number: where someone is booked is theirs to tell.
            raise ServiceError(f'No appointment with confirmation number {number} was found at {location.name}. '
                               'Check the number, or search for the person in Appointment Walk-In.')
        status = AppointmentStatus(appointment.status)
        when = time_label(appointment.scheduled_at, location)
        if status == AppointmentStatus.CANCELLED:
            raise ServiceError(f'Appointment {number} was cancelled. The person can be seen as a walk-in.')
        if status == AppointmentStatus.COMPLETED:
            raise ServiceError(f'Appointment {number} is already completed: this dose was recorded.')
        if status == AppointmentStatus.NO_SHOW:
            raise ServiceError(f'Appointment {number} ({when}) was marked as a no-show. The person can be seen '
                               'as a walk-in.')
        if appointment.local_date != local_today(location):
            raise ServiceError(f'Appointment {number} is on another day ({when}), not today. The person can be '
                               'seen as a walk-in.')
        return to_public(session, appointment, location=location)


def check_in(*, principal: Principal, appointment_id: int) -> AppointmentPublic:
    require(principal, Action.CHECK_IN)
    with session_scope() as session:
        appointment = fetch(session, Appointment, appointment_id, principal=principal, action='check_in')
        if appointment.status == AppointmentStatus.SCHEDULED:
            appointment.status = AppointmentStatus.CHECKED_IN
            appointment.checked_in_at = utcnow()
            appointment.checked_in_by_user_id = principal.user_id
            session.add(appointment)
            audit.record(session, action='checked_in', actor=principal, entity_type='appointment',
                         entity_id=appointment.id)
        elif appointment.status != AppointmentStatus.CHECKED_IN:
            raise ServiceError(f'This appointment is {AppointmentStatus(appointment.status).label.lower()}; '
                               'it cannot be checked in.')
        public = to_public(session, appointment)
    _changed(public.location_id)
    return public


def appointment(*, principal: Principal, appointment_id: int) -> AppointmentPublic:
    require(principal, Action.CHECK_IN)
    with session_scope(read_only=True) as session:
        return to_public(session, fetch(session, Appointment, appointment_id, principal=principal,
                                        action='view_appointment'))
