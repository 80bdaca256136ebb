"""Clinic sessions, their slots, and appointments: booking, rescheduling and cancelling, with the emails.

A slot cannot be booked beyond its capacity (a conditional UPDATE of its `booked` counter), nor beyond the
doses of the product on hand at the location minus the doses already booked there. Both checks run inside one
transaction that holds a per-location lock (PostgreSQL: an advisory transaction lock; SQLite: every transaction
starts with BEGIN IMMEDIATE), so two bookings racing for the last dose cannot both win.
"""
from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, text, update
from sqlmodel import Session, col, select

from models import Location, PortalAccount, Recipient, Role, utcnow
from models.clinic import (
    OPEN_STATUSES,
    Appointment,
    AppointmentPublic,
    AppointmentStatus,
    ClinicSession,
    ClinicSlot,
    DoseReminder,
    ReminderStatus,
)
from models.inventory import Product
from services.clinic import events
from services.clinic.dose_rules import next_dose_number
from services.core import audit, mail
from services.core.db import session_scope
from services.core.errors import NotFound, ServiceError, ValidationFailed
from services.core.i18n import translator
from services.core.localtime import as_utc, local_moment, local_today, time_label
from services.inventory import ledger
from services.permissions import Action, fetch, require
from services.principal import Principal
from services.recipients.visibility import listed

BOOKING_LOCK_NAMESPACE = 4004  # pg_advisory_xact_lock(namespace, location id): one booking at a time per location


# ---------------------------------------------------------------- small shared helpers

def new_case_number(session: Session) -> str:
    """8 random digits (not guessable from the previous one), unique among appointments."""
    for _ in range(20):
        number = f'{secrets.randbelow(90_000_000) + 10_000_000:08d}'
        if session.exec(select(Appointment.id).where(Appointment.case_number == number)).first() is None:
            return number
    raise ServiceError('Could not allocate a confirmation number; please try again.')


def normalize_case_number(raw: str) -> str:
    """Scanners and people add spaces or dashes; keep the digits."""
    return ''.join(ch for ch in (raw or '') if ch.isdigit())


def qr_png(content: str) -> bytes:
    buffer = io.BytesIO()
    import segno  # a twentieth of a second to import: only when a code is drawn

    segno.make(content, micro=False).save(buffer, kind='png', scale=8, border=4)
    return buffer.getvalue()


def to_public(session: Session, appointment: Appointment, *, recipient: Recipient | None = None,
              location: Location | None = None, product: Product | None = None) -> AppointmentPublic:
    recipient = recipient or session.get(Recipient, appointment.recipient_id)
    location = location or session.get(Location, appointment.location_id)
    if product is None and appointment.product_id is not None:
        product = session.get(Product, appointment.product_id)
    assert recipient is not None and location is not None
    return AppointmentPublic(
        id=appointment.id or 0, case_number=appointment.case_number, recipient_id=appointment.recipient_id,
        recipient_name=f'{recipient.first_name} {recipient.last_name}', date_of_birth=recipient.date_of_birth,
        location_id=location.id or 0, location_name=location.name, product_id=appointment.product_id,
        product_name=product.name if product else None, dose_number=appointment.dose_number,
        scheduled_at=as_utc(appointment.scheduled_at), local_time=time_label(appointment.scheduled_at, location),
        status=appointment.status, walk_in=appointment.walk_in)


def _session_products(clinic_session: ClinicSession) -> list[int]:
    return [int(p) for p in clinic_session.product_ids.split(',') if p.strip()]


def _lock_location_bookings(session: Session, location_id: int) -> None:
    if session.get_bind().dialect.name == 'postgresql':
        session.execute(text('SELECT pg_advisory_xact_lock(:ns, :loc)'),
                        {'ns': BOOKING_LOCK_NAMESPACE, 'loc': location_id})


def doses_booked(session: Session, *, location_id: int, product_id: int, exclude_appointment_id: int | None = None,
                 from_day: date | None = None) -> int:
    """Open appointments (scheduled or checked in) for a product at a location: doses promised but not given."""
    query = (select(func.count()).select_from(Appointment).where(Appointment.location_id == location_id)
             .where(Appointment.product_id == product_id).where(col(Appointment.status).in_(OPEN_STATUSES)))
    if from_day is not None:
        query = query.where(Appointment.local_date >= from_day)
    if exclude_appointment_id is not None:
        query = query.where(Appointment.id != exclude_appointment_id)
    return int(session.exec(query).one())


def _check_stock(session: Session, *, location: Location, product: Product,
                 exclude_appointment_id: int | None = None) -> None:
    today = local_today(location)
    on_hand = sum(s.on_hand for s in ledger.usable_lots(session, location_id=location.id or 0,
                                                           product_id=product.id, on=today))
    booked = doses_booked(session, location_id=location.id or 0, product_id=product.id or 0,
                          exclude_appointment_id=exclude_appointment_id, from_day=today)
    if booked >= on_hand:
        raise ServiceError(f'No doses of {product.name} are left to book at {location.name}: {on_hand} on hand, '
                           f'{booked} already booked. Choose another product or location, or add to the stand-by '
                           'list.')


def _take_slot_place(session: Session, slot_id: int) -> None:
    result = session.execute(update(ClinicSlot).where(col(ClinicSlot.id) == slot_id)
                             .where(col(ClinicSlot.booked) < col(ClinicSlot.capacity))
                             .values(booked=ClinicSlot.booked + 1))
    if (result.rowcount or 0) != 1:
        raise ServiceError('This time slot is full. Choose another time.')


def _release_slot_place(session: Session, slot_id: int | None) -> None:
    if slot_id is not None:
        session.execute(update(ClinicSlot).where(col(ClinicSlot.id) == slot_id).where(col(ClinicSlot.booked) > 0)
                        .values(booked=ClinicSlot.booked - 1))


# ---------------------------------------------------------------- clinic sessions (location managers)

@dataclass(frozen=True)
class ClinicSessionInfo:
    id: int
    location_id: int
    session_date: date
    start_time: time
    end_time: time
    slot_minutes: int
    capacity_per_slot: int
    product_names: list[str]
    slots: int
    booked: int
    capacity: int
    cancelled: bool


def create_clinic_session(*, principal: Principal, location_id: int, session_date: date, start_time: time,
                          end_time: time, slot_minutes: int, capacity_per_slot: int,
                          product_ids: list[int]) -> ClinicSessionInfo:
    require(principal, Action.MANAGE_CLINIC_SESSIONS, location_id=location_id, check_location=True)
    if end_time <= start_time:
        raise ValidationFailed('The end time must be after the start time.')
    if not 5 <= slot_minutes <= 240:
        raise ValidationFailed('Slot length must be between 5 and 240 minutes.')
    if not 1 <= capacity_per_slot <= 500:
        raise ValidationFailed('Capacity per slot must be between 1 and 500.')
    if not product_ids:
        raise ValidationFailed('Choose at least one product offered at this session.')
    with session_scope() as session:
        location = fetch(session, Location, location_id, principal=principal)
        if session_date < local_today(location):
            raise ValidationFailed('A clinic session cannot be in the past.')
        products = [session.get(Product, pid) for pid in product_ids]
        if any(p is None or not p.is_active for p in products):
            raise ValidationFailed('One of the chosen products is not available.')
        clinic_session = ClinicSession(location_id=location_id, session_date=session_date, start_time=start_time,
                                       end_time=end_time, slot_minutes=slot_minutes,
                                       capacity_per_slot=capacity_per_slot,
                                       product_ids=','.join(str(p) for p in sorted(set(product_ids))),
                                       created_by_user_id=principal.user_id or None)
        session.add(clinic_session)
        session.flush()
        start, end = local_moment(session_date, start_time, location), local_moment(session_date, end_time, location)
        step = timedelta(minutes=slot_minutes)
        while start + step <= end:
            session.add(ClinicSlot(clinic_session_id=clinic_session.id or 0, location_id=location_id,
                                   starts_at=start, ends_at=start + step,
                                   capacity=capacity_per_slot))
            start += step
        session.flush()
        audit.record(session, action='clinic_session_created', actor=principal, entity_type='clinicsession',
                     entity_id=clinic_session.id, detail=f'{session_date} {start_time}-{end_time} at {location.code}')
        return _session_info(session, clinic_session)


def _session_info(session: Session, clinic_session: ClinicSession) -> ClinicSessionInfo:
    slots, booked, capacity = session.exec(
        select(func.count(), func.coalesce(func.sum(ClinicSlot.booked), 0),
               func.coalesce(func.sum(ClinicSlot.capacity), 0))
        .where(ClinicSlot.clinic_session_id == clinic_session.id)).one()
    names = [p.name for pid in _session_products(clinic_session) if (p := session.get(Product, pid)) is not None]
    return ClinicSessionInfo(
        id=clinic_session.id or 0, location_id=clinic_session.location_id, session_date=clinic_session.session_date,
        start_time=clinic_session.start_time, end_time=clinic_session.end_time,
        slot_minutes=clinic_session.slot_minutes, capacity_per_slot=clinic_session.capacity_per_slot,
        product_names=names, slots=int(slots), booked=int(booked), capacity=int(capacity),
        cancelled=clinic_session.cancelled)


def list_clinic_sessions(*, principal: Principal, location_id: int, from_day: date | None = None) -> list[
        ClinicSessionInfo]:
    require(principal, Action.MANAGE_APPOINTMENTS, location_id=location_id, check_location=True)
    with session_scope(read_only=True) as session:
        location = fetch(session, Location, location_id, principal=principal)
        from_day = from_day or local_today(location)
        sessions = session.exec(select(ClinicSession).where(ClinicSession.location_id == location_id)
                                .where(ClinicSession.session_date >= from_day)
                                .order_by(col(ClinicSession.session_date), col(ClinicSession.start_time))).all()
        return [_session_info(session, s) for s in sessions]


# ---------------------------------------------------------------- open slots (portal and staff)

@dataclass(frozen=True)
class OpenSlot:
    slot_id: int
    location_id: int
    location_name: str
    address: str
    city: str
    county: str
    starts_at: datetime
    ends_at: datetime
    local_time: str
    remaining: int
    product_ids: list[int]
    product_names: list[str]


def open_slots(*, county: str | None = None, city: str | None = None, location_id: int | None = None,
               product_id: int | None = None, on_or_after: datetime | date | None = None,
               limit: int = 200) -> list[OpenSlot]:
    """Future slots with room left, soonest first; filters by county or city (case-insensitive), location,
    product offered, and earliest time (a date means that day's start at the location). Public information:
    no principal needed. Stock is checked when booking."""
    now = utcnow()
    with session_scope(read_only=True) as session:
        query = (select(ClinicSlot, ClinicSession, Location)
                 .join(ClinicSession, col(ClinicSession.id) == col(ClinicSlot.clinic_session_id))
                 .join(Location, col(Location.id) == col(ClinicSlot.location_id))
                 .where(col(ClinicSession.cancelled).is_(False))
                 .where(col(ClinicSlot.booked) < col(ClinicSlot.capacity))
                 .where(col(ClinicSlot.starts_at) > now)
                 .order_by(col(ClinicSlot.starts_at), col(ClinicSlot.id)))
        if county:
            query = query.where(func.lower(Location.county) == county.strip().lower())
        if city:
            query = query.where(func.lower(Location.city) == city.strip().lower())
        if location_id is not None:
            query = query.where(ClinicSlot.location_id == location_id)
        if isinstance(on_or_after, datetime):
            query = query.where(col(ClinicSlot.starts_at) >= as_utc(on_or_after))
        elif isinstance(on_or_after, date):
            query = query.where(ClinicSession.session_date >= on_or_after)
        if product_id is not None:
            # product_ids is a short comma list; match whole items
            query = query.where((',' + col(ClinicSession.product_ids) + ',').contains(f',{product_id},'))
        products: dict[int, str] = {}
        result = []
        for slot, clinic_session, location in session.exec(query.limit(limit)).all():
            ids = _session_products(clinic_session)
            for pid in ids:
                if pid not in products:
                    product = session.get(Product, pid)
                    products[pid] = product.name if product else f'product {pid}'
            result.append(OpenSlot(
                slot_id=slot.id or 0, location_id=location.id or 0, location_name=location.name,
                address=location.address_line1, city=location.city, county=location.county,
                starts_at=as_utc(slot.starts_at), ends_at=as_utc(slot.ends_at),
                local_time=time_label(slot.starts_at, location), remaining=slot.capacity - slot.booked,
                product_ids=ids, product_names=[products[p] for p in ids]))
        return result


# ---------------------------------------------------------------- booking, rescheduling, cancelling

def _require_booking_rights(principal: Principal, *, location_id: int) -> None:
    """Recipients book for their household at any location; staff at their own location."""
    if principal.role == Role.RECIPIENT:
        require(principal, Action.USE_PORTAL)
    else:
        require(principal, Action.MANAGE_APPOINTMENTS, location_id=location_id, check_location=True)


def _authorize_booking(principal: Principal, *, recipient_id: int, location_id: int,
                       named: tuple[str, str, date] | None = None) -> None:
    """May book at this location for this person: someone in the principal's scope, or (staff) named exactly, as
    Walk-In's exact match finds a person registered elsewhere."""
    _require_booking_rights(principal, location_id=location_id)
    with session_scope(read_only=True) as session:
        fetch(session, Recipient, recipient_id, principal=principal, action='book_appointment', named=named)


def _slot_facts(slot_id: int) -> tuple[int, list[int]]:
    with session_scope(read_only=True) as session:
        row = session.exec(select(ClinicSlot, ClinicSession)
                           .join(ClinicSession, col(ClinicSession.id) == col(ClinicSlot.clinic_session_id))
                           .where(ClinicSlot.id == slot_id)).first()
        if row is None:
            raise NotFound('This time slot does not exist.')
        return row[0].location_id, _session_products(row[1])


def book_appointment(*, principal: Principal, recipient_id: int, slot_id: int, product_id: int | None = None,
                     dose_number: int | None = None, notify: bool = True,
                     named: tuple[str, str, date] | None = None) -> AppointmentPublic:
    """Book a slot for a recipient (staff at their location, or a recipient for their household). The product
    defaults to the one the session offers (or the product of the person's earlier dose); the dose number to the
    person's next. Sends the confirmation email with the number and its QR code. Staff reach a person registered
    at another location by naming them exactly (`named`, from Walk-In's exact match)."""
    location_id, offered = _slot_facts(slot_id)
    _authorize_booking(principal, recipient_id=recipient_id, location_id=location_id, named=named)
    with session_scope() as session:
        _lock_location_bookings(session, location_id)
        slot = session.get(ClinicSlot, slot_id)
        clinic_session = session.get(ClinicSession, slot.clinic_session_id) if slot else None
        location = session.get(Location, location_id)
        recipient = session.get(Recipient, recipient_id)
        assert slot is not None and clinic_session is not None and location is not None and recipient is not None
        if clinic_session.cancelled:
            raise ServiceError('This clinic session was cancelled. Choose another time.')
        if as_utc(slot.starts_at) <= utcnow():
            raise ServiceError('This time has already passed. Choose a later time.')
        _refuse_second_open_appointment(session, recipient_id)
        product = _choose_product(session, recipient_id=recipient_id, offered=offered, product_id=product_id)
        _take_slot_place(session, slot_id)
        _check_stock(session, location=location, product=product)
        appointment = Appointment(
            case_number=new_case_number(session), recipient_id=recipient_id, location_id=location_id,
            slot_id=slot_id, product_id=product.id, dose_number=dose_number or next_dose_number(session, recipient_id),
            scheduled_at=as_utc(slot.starts_at), local_date=clinic_session.session_date,
            created_by_user_id=principal.user_id or None)
        session.add(appointment)
        session.flush()
        _link_pending_reminder(session, appointment)
        audit.record(session, action='appointment_booked', actor=principal, entity_type='appointment',
                     entity_id=appointment.id, detail=f'case {appointment.case_number} for recipient {recipient_id}')
        public = to_public(session, appointment, recipient=recipient, location=location, product=product)
        if notify:
            _email(session, recipient, public, location, kind='confirmed')
    events.publish(location_id)
    return public


def _refuse_second_open_appointment(session: Session, recipient_id: int, *, except_id: int | None = None) -> None:
    query = (select(Appointment).where(Appointment.recipient_id == recipient_id)
             .where(col(Appointment.status).in_(OPEN_STATUSES)))
    if except_id is not None:
        query = query.where(Appointment.id != except_id)
    existing = session.exec(query).first()
    if existing is not None:
        location = session.get(Location, existing.location_id)
        when = time_label(existing.scheduled_at, location) if location else ''
        raise ServiceError(f'This person already has an appointment ({when}, confirmation number '
                           f'{existing.case_number}). Reschedule or cancel it instead of booking another.')


def _choose_product(session: Session, *, recipient_id: int, offered: list[int], product_id: int | None) -> Product:
    if product_id is None:
        from models.clinic import Administration
        last = session.exec(select(Administration.product_id).where(Administration.recipient_id == recipient_id)
                            .where(col(Administration.voided).is_(False))
                            .order_by(col(Administration.administered_at).desc())).first()
        if last is not None and last in offered:
            product_id = last
        elif len(offered) == 1:
            product_id = offered[0]
        else:
            raise ValidationFailed('This session offers several products: choose one.')
    if product_id not in offered:
        raise ValidationFailed('This session does not offer the chosen product. Choose another time or product.')
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound('This product does not exist.')
    return product


def _link_pending_reminder(session: Session, appointment: Appointment) -> None:
    """A booked next dose: its reminder now points at the appointment (and stops if that is cancelled)."""
    reminder = session.exec(select(DoseReminder).where(DoseReminder.recipient_id == appointment.recipient_id)
                            .where(DoseReminder.status == ReminderStatus.PENDING)
                            .where(DoseReminder.dose_number == appointment.dose_number)).first()
    if reminder is not None:
        reminder.appointment_id = appointment.id
        session.add(reminder)


def _appointment_for_change(principal: Principal, appointment_id: int) -> tuple[int, int]:
    """(recipient id, location id) of an appointment the principal may change: in their scope, and theirs to book."""
    require(principal, Action.USE_PORTAL if principal.role == Role.RECIPIENT else Action.MANAGE_APPOINTMENTS)
    with session_scope(read_only=True) as session:
        appointment = fetch(session, Appointment, appointment_id, principal=principal, action='change_appointment')
        facts = appointment.recipient_id, appointment.location_id
    _require_booking_rights(principal, location_id=facts[1])
    return facts


def reschedule_appointment(*, principal: Principal, appointment_id: int, slot_id: int,
                           notify: bool = True) -> AppointmentPublic:
    """Move a scheduled appointment to another slot; the confirmation number stays the same."""
    recipient_id, old_location_id = _appointment_for_change(principal, appointment_id)
    location_id, offered = _slot_facts(slot_id)
    _require_booking_rights(principal, location_id=location_id)
    with session_scope() as session:
        _lock_location_bookings(session, location_id)
        appointment = session.get(Appointment, appointment_id)
        slot = session.get(ClinicSlot, slot_id)
        clinic_session = session.get(ClinicSession, slot.clinic_session_id) if slot else None
        location = session.get(Location, location_id)
        recipient = session.get(Recipient, recipient_id)
        assert appointment and slot and clinic_session and location and recipient
        if appointment.status != AppointmentStatus.SCHEDULED:
            raise ServiceError(f'Only a scheduled appointment can be rescheduled; this one is '
                               f'{AppointmentStatus(appointment.status).label.lower()}.')
        if slot_id == appointment.slot_id:
            raise ValidationFailed('The appointment is already at this time.')
        if clinic_session.cancelled or as_utc(slot.starts_at) <= utcnow():
            raise ServiceError('This time is no longer available. Choose a later time.')
        product = _choose_product(session, recipient_id=recipient_id, offered=offered,
                                  product_id=appointment.product_id if appointment.product_id in offered else None)
        _take_slot_place(session, slot_id)
        _check_stock(session, location=location, product=product, exclude_appointment_id=appointment.id)
        _release_slot_place(session, appointment.slot_id)
        appointment.slot_id, appointment.location_id, appointment.product_id = slot_id, location_id, product.id
        appointment.scheduled_at, appointment.local_date = as_utc(slot.starts_at), clinic_session.session_date
        session.add(appointment)
        audit.record(session, action='appointment_rescheduled', actor=principal, entity_type='appointment',
                     entity_id=appointment.id, detail=f'to slot {slot_id}')
        public = to_public(session, appointment, recipient=recipient, location=location, product=product)
        if notify:
            _email(session, recipient, public, location, kind='rescheduled')
    events.publish(old_location_id)
    if location_id != old_location_id:
        events.publish(location_id)
    return public


def cancel_appointment(*, principal: Principal, appointment_id: int, reason: str = '',
                       notify: bool = True) -> AppointmentPublic:
    """Cancel a scheduled or checked-in appointment: frees its slot and dose, stops its reminder, tells the person."""
    recipient_id, location_id = _appointment_for_change(principal, appointment_id)
    with session_scope() as session:
        appointment = session.get(Appointment, appointment_id)
        assert appointment is not None
        if appointment.status not in OPEN_STATUSES:
            raise ServiceError(f'This appointment is already {AppointmentStatus(appointment.status).label.lower()}.')
        _cancel(session, appointment, reason=(reason or '').strip() or 'Cancelled')
        audit.record(session, action='appointment_cancelled', actor=principal, entity_type='appointment',
                     entity_id=appointment.id, detail=reason or '')
        recipient = session.get(Recipient, recipient_id)
        location = session.get(Location, location_id)
        assert recipient is not None and location is not None
        public = to_public(session, appointment, recipient=recipient, location=location)
        if notify:
            _email(session, recipient, public, location, kind='cancelled')
    events.publish(location_id)
    return public


def _cancel(session: Session, appointment: Appointment, *, reason: str) -> None:
    appointment.status = AppointmentStatus.CANCELLED
    appointment.cancelled_at = utcnow()
    appointment.cancel_reason = reason[:300]
    session.add(appointment)
    _release_slot_place(session, appointment.slot_id)
    for reminder in session.exec(select(DoseReminder).where(DoseReminder.appointment_id == appointment.id)
                                 .where(DoseReminder.status == ReminderStatus.PENDING)).all():
        reminder.status, reminder.outcome, reminder.processed_at = (ReminderStatus.SUPPRESSED,
                                                                    'appointment cancelled', utcnow())
        session.add(reminder)


def upcoming_appointments(*, principal: Principal, location_id: int, limit: int = 500) -> list[AppointmentPublic]:
    """Open appointments from today on at a location (the Appointments page)."""
    require(principal, Action.MANAGE_APPOINTMENTS, location_id=location_id, check_location=True)
    with session_scope(read_only=True) as session:
        location = fetch(session, Location, location_id, principal=principal)
        rows = session.exec(select(Appointment, Recipient)
                            .join(Recipient, col(Recipient.id) == col(Appointment.recipient_id))
                            .where(Appointment.location_id == location_id)
                            .where(Appointment.local_date >= local_today(location))
                            .where(listed(Appointment.recipient_id))
                            .order_by(col(Appointment.scheduled_at)).limit(limit)).all()
        return [to_public(session, a, recipient=r, location=location) for a, r in rows]


def appointments_of(*, principal: Principal, recipient_id: int) -> list[AppointmentPublic]:
    """A person's appointments, newest first, for whoever may see the person and their health data (portal
    household members, staff of the person's location, state admins). Their history travels with them: every
    location's appointments are listed."""
    with session_scope(read_only=True) as session:
        recipient = fetch(session, Recipient, recipient_id, principal=principal, action='view_appointments',
                          health_data=True)
        rows = session.exec(select(Appointment).where(Appointment.recipient_id == recipient_id)
                            .order_by(col(Appointment.scheduled_at).desc())).all()
        return [to_public(session, a, recipient=recipient) for a in rows]


# ---------------------------------------------------------------- emails

EMAIL_SUBJECTS = {
    'confirmed': 'Your COVID-19 vaccine appointment is confirmed ({case})',
    'rescheduled': 'Your COVID-19 vaccine appointment was rescheduled ({case})',
    'cancelled': 'Your COVID-19 vaccine appointment was cancelled ({case})',
    'reminder': 'Reminder: your COVID-19 vaccine dose {dose} appointment ({case})',
}


def appointment_email(recipient: Recipient, appointment: AppointmentPublic, location: Location,
                      *, kind: str, lang: str = 'en') -> tuple[str, str]:
    """The email in the recipient's portal language (services.i18n catalog; English by default)."""
    t = translator(lang)
    subject = t(EMAIL_SUBJECTS[kind]).format(case=appointment.case_number, dose=appointment.dose_number)
    when = time_label(appointment.scheduled_at, location, named=True)  # read far from the clinic: name the zone
    place = ', '.join(p for p in (location.name, location.address_line1, location.city,
                                  f'{location.state} {location.zip_code}'.strip()) if p)
    if kind == 'cancelled':
        body = t('Hello {name},\n\nYour appointment for dose {dose} on {when} at {location} (confirmation number '
                 '{case}) has been cancelled.\nYou can book a new appointment in the COVID-19 Vaccine Portal or with '
                 'your vaccine provider.\n').format(name=recipient.first_name, dose=appointment.dose_number,
                                                    when=when, location=location.name,
                                                    case=appointment.case_number)
        return subject, body
    lead = {'confirmed': t('Your COVID-19 vaccine appointment is confirmed.'),
            'rescheduled': t('Your COVID-19 vaccine appointment has a new time.'),
            'reminder': t('This is a reminder of your next COVID-19 vaccine dose.')}[kind]
    product = (t('Vaccine: {product}').format(product=appointment.product_name) + '\n'
               if appointment.product_name else '')
    body = t('Hello {name},\n\n{lead}\n\nConfirmation number: {case}\nWhen: {when}\nWhere: {place}\nDose: {dose}\n'
             '{product}\nAt check-in, show the attached QR code (or say the confirmation number).\nTo reschedule or '
             'cancel, use the COVID-19 Vaccine Portal or contact your vaccine provider.\n').format(
        name=recipient.first_name, lead=lead, case=appointment.case_number, when=when,
        place=place, dose=appointment.dose_number, product=product)
    return subject, body


def portal_language(session: Session, recipient: Recipient) -> str:
    """The language the recipient chose in the portal (English until they choose)."""
    lang = session.exec(select(PortalAccount.language).where(PortalAccount.id == recipient.portal_account_id)).first() \
        if recipient.portal_account_id else None
    return lang or 'en'


def _email(session: Session, recipient: Recipient, appointment: AppointmentPublic, location: Location,
           *, kind: str, dedupe_key: str | None = None) -> None:
    if not recipient.email:
        return
    subject, body = appointment_email(recipient, appointment, location, kind=kind,
                                      lang=portal_language(session, recipient))
    attachments = [] if kind == 'cancelled' else [
        mail.Attachment(f'confirmation-{appointment.case_number}.png', qr_png(appointment.case_number), 'image/png')]
    mail.enqueue(session, to=recipient.email, subject=subject, body_text=body, attachments=attachments,
                 dedupe_key=dedupe_key)

