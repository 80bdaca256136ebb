"""The check-in desk: Today's Appointments, Recipient Check-In, Appointment Walk-In, point-of-care registration,
recording a dose (drawn from inventory in the same transaction), corrections, end of day, stand-by list,
dose reminders and the proof-of-vaccination record."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from models import Location, Recipient, RecipientSource, Role, User, utcnow
from models.clinic import (
    OPEN_STATUSES,
    Administration,
    Appointment,
    AppointmentPublic,
    AppointmentStatus,
    DeskPreference,
    DoseReminder,
    ReminderStatus,
    StandbyEntry,
)
from models.inventory import Lot, LotStock, Product

from . import audit, clinic_events, inventory, mail
from .db import session_scope
from .errors import NotFound, ServiceError, ValidationFailed
from .i18n import translator
from .identity import fold, identity_key
from .permissions import Action, can_access_location, can_access_recipient, deny, require
from .portal_accounts import attach_recipient
from .principal import Principal
from .scheduling import (
    _cancel,
    _email,
    as_utc,
    local_now,
    local_time_label,
    new_case_number,
    next_dose_number,
    normalize_case_number,
    portal_language,
    to_public,
)
from .validation import email_problem

REMINDER_DAYS_BEFORE = 3
BACKDATE_TOLERANCE = timedelta(minutes=15)  # "now" typed a little late is still now
SITES = ['Left deltoid', 'Right deltoid', 'Left thigh', 'Right thigh']
ROUTES = ['Intramuscular (IM)', 'Subcutaneous (SC)']
SEXES = ['Female', 'Male', 'Unknown', 'Prefer not to say']
RACES = ['American Indian or Alaska Native', 'Asian', 'Black or African American',
         'Native Hawaiian or Other Pacific Islander', 'White', 'Other race', 'Prefer not to say']
ETHNICITIES = ['Hispanic or Latino', 'Not Hispanic or Latino', 'Prefer not to say']
# The COVID-19 vaccination screening questionnaire of the paper registration form (answers: yes / no).
SCREENING_QUESTIONS = [
    ('feeling_sick', 'Are you feeling sick today?'),
    ('severe_allergy', 'Have you ever had a severe allergic reaction (e.g. anaphylaxis) to a vaccine, an injectable '
                       'medication or a component of the COVID-19 vaccine?'),
    ('other_vaccine_14_days', 'Have you received any other vaccine in the last 14 days?'),
    ('covid_90_days', 'Have you had COVID-19 or received antibody treatment for it in the last 90 days?'),
    ('bleeding_disorder', 'Do you have a bleeding disorder or take a blood thinner?'),
    ('immunocompromised', 'Do you have a weakened immune system or take medicine that weakens it?'),
    ('pregnant', 'Are you pregnant or breastfeeding?'),
]
DEFAULT_VOLUME_BY_CVX = {'208': 0.3, '207': 0.5, '212': 0.5}  # Pfizer-BioNTech, Moderna, Janssen (2021)
NAME_PATTERN = re.compile(r"^[^\W\d_]+(?:[ '\-.][^\W\d_]+)*\.?$")


# ---------------------------------------------------------------- helpers

def _location_of(session: Session, principal: Principal) -> Location:
    if principal.location_id is None:
        raise ServiceError('Your account is not attached to a location; the desk works for location staff.')
    location = session.get(Location, principal.location_id)
    if location is None:
        raise NotFound('Your location does not exist.')
    return location


def _screening_json(answers: dict[str, str] | None) -> str | None:
    if not answers:
        return None
    known = {key for key, _ in SCREENING_QUESTIONS}
    clean = {k: v for k, v in answers.items() if k in known and v in ('yes', 'no')}
    return json.dumps(clean, sort_keys=True)


def screening_answers(raw: str | None) -> dict[str, str]:
    return json.loads(raw) if raw else {}


def _may_serve(principal: Principal, recipient: Recipient, appointment: Appointment | None) -> bool:
    """Desk staff serve people of their location, and anyone with an appointment at their location."""
    if appointment is not None and can_access_location(principal, appointment.location_id):
        return True
    return can_access_recipient(principal, location_id=recipient.location_id,
                                organization_id=recipient.organization_id,
                                portal_account_id=recipient.portal_account_id)


def _changed(location_id: int | None) -> None:
    clinic_events.publish(location_id)


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


def today_appointments(principal: Principal, *, status: str | None = None) -> list[TodayAppointment]:
    """Today's appointments at the user's location, by time (a status filter is optional). Reads plain columns
    (no ORM objects): a big clinic day has thousands of rows and every desk re-reads them on each change."""
    require(principal, Action.CHECK_IN)
    if principal.location_id is None:
        return []
    with session_scope() as session:
        location = _location_of(session, principal)
        zone = _zone(location)
        query = (select(Appointment.id, Appointment.case_number, Appointment.recipient_id, Appointment.product_id,
                        Appointment.dose_number, Appointment.scheduled_at, Appointment.status, Appointment.walk_in,
                        Recipient.first_name, Recipient.last_name, Recipient.date_of_birth, Product.name)
                 .join(Recipient, col(Recipient.id) == col(Appointment.recipient_id))
                 .outerjoin(Product, col(Product.id) == col(Appointment.product_id))
                 .where(Appointment.location_id == location.id)
                 .where(Appointment.local_date == local_now(location).date())
                 .order_by(col(Appointment.scheduled_at), col(Appointment.id)))
        if status:
            query = query.where(Appointment.status == status)
        rows = session.exec(query).all()
    from .scheduling import TIME_FORMAT
    return [TodayAppointment(
        id=row[0], case_number=row[1], recipient_id=row[2], recipient_name=f'{row[8]} {row[9]}',
        date_of_birth=row[10], location_id=location.id, location_name=location.name, product_id=row[3],
        product_name=row[11], dose_number=row[4], scheduled_at=as_utc(row[5]),
        local_time=as_utc(row[5]).astimezone(zone).strftime(TIME_FORMAT), status=row[6], walk_in=row[7])
        for row in rows]


# ---------------------------------------------------------------- Recipient Check-In

def find_for_check_in(principal: Principal, raw_number: str) -> AppointmentPublic:
    """The appointment behind a confirmation number, if it can be checked in here today; otherwise a
    ServiceError saying exactly what is wrong."""
    require(principal, Action.CHECK_IN)
    number = normalize_case_number(raw_number)
    if not number:
        raise ValidationFailed('Enter or scan the appointment confirmation number.')
    if len(number) != 8:
        raise ValidationFailed(f'"{raw_number.strip()}" is not a confirmation number: it has 8 digits.')
    with session_scope() as session:
        location = _location_of(session, principal)
        appointment = session.exec(select(Appointment).where(Appointment.case_number == number)).first()
        if appointment is None:
            raise ServiceError(f'No appointment has confirmation number {number}. Check the number, or search '
                               'for the person in Appointment Walk-In.')
        if appointment.location_id != location.id:
            other = session.get(Location, appointment.location_id)
            raise ServiceError(f'Appointment {number} is at another location ({other.name if other else "?"}), '
                               f'not at {location.name}. The person can be seen here as a walk-in.')
        status = AppointmentStatus(appointment.status)
        when = local_time_label(location, appointment.scheduled_at)
        if status == AppointmentStatus.CANCELLED:
            raise ServiceError(f'Appointment {number} was cancelled. The person can be seen as a walk-in.')
        if status == AppointmentStatus.COMPLETED:
            raise ServiceError(f'Appointment {number} is already completed: this dose was recorded.')
        if status == AppointmentStatus.NO_SHOW:
            raise ServiceError(f'Appointment {number} ({when}) was marked as a no-show. The person can be seen '
                               'as a walk-in.')
        if appointment.local_date != local_now(location).date():
            raise ServiceError(f'Appointment {number} is on another day ({when}), not today. The person can be '
                               'seen as a walk-in.')
        return to_public(session, appointment, location=location)


def check_in(principal: Principal, appointment_id: int) -> AppointmentPublic:
    with session_scope() as session:
        appointment = session.get(Appointment, appointment_id)
        location_id = appointment.location_id if appointment else None
    require(principal, Action.CHECK_IN, location_id=location_id, check_location=True)
    with session_scope() as session:
        appointment = session.get(Appointment, appointment_id)
        assert appointment is not None
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
    _changed(location_id)
    return public


def appointment(principal: Principal, appointment_id: int) -> AppointmentPublic:
    with session_scope() as session:
        found = session.get(Appointment, appointment_id)
        if found is None:
            raise NotFound('This appointment does not exist.')
        location_id = found.location_id
    require(principal, Action.CHECK_IN, location_id=location_id, check_location=True)
    with session_scope() as session:
        return to_public(session, session.get(Appointment, appointment_id))  # type: ignore[arg-type]


# ---------------------------------------------------------------- Appointment Walk-In

@dataclass(frozen=True)
class WalkInHit:
    recipient_id: int
    name: str
    date_of_birth: date
    location_name: str
    elsewhere: bool  # registered by another location: found by the exact name + date of birth match
    open_case_number: str | None = None


def parse_date(text: str) -> date:
    """MM/DD/YYYY (the guide's format) or YYYY-MM-DD."""
    text = (text or '').strip()
    for pattern in ('%m/%d/%Y', '%Y-%m-%d', '%m-%d-%Y'):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValidationFailed(f'"{text}" is not a date: use MM/DD/YYYY.' if text else 'Enter the date of birth.')


def _split_name(name: str) -> tuple[str | None, str]:
    """'Wil' -> last-name prefix; 'Grace Wilms' -> first, last; 'Wilms, Grace' -> first, last."""
    name = ' '.join((name or '').split())
    if ',' in name:
        last, _, first = name.partition(',')
        return (fold(first) or None), fold(last)
    parts = name.split(' ')
    if len(parts) == 1:
        return None, fold(parts[0])
    return fold(parts[0]), fold(' '.join(parts[1:]))


def search_walk_in(principal: Principal, *, name: str, date_of_birth: date, limit: int = 25) -> list[WalkInHit]:
    """People matching a (partial) last name and a date of birth among those the user may see, plus the exact
    first + last + date of birth match anywhere in the system (so no one is registered twice)."""
    require(principal, Action.CHECK_IN)
    first, last = _split_name(name)
    if not last:
        raise ValidationFailed('Enter at least the first letters of the last name.')
    with session_scope() as session:
        query = (select(Recipient, Location).outerjoin(Location, col(Location.id) == col(Recipient.location_id))
                 .where(Recipient.date_of_birth == date_of_birth)
                 .where(col(Recipient.last_name_key) >= last).where(col(Recipient.last_name_key) < last + '\uffff'))
        if first:
            query = query.where(col(Recipient.first_name_key).startswith(first, autoescape=True))
        if not principal.is_admin:
            query = query.where(Recipient.location_id == principal.location_id)
        rows = session.exec(query.order_by(col(Recipient.last_name_key), col(Recipient.first_name_key))
                            .limit(limit)).all()
        hits = [_hit(session, r, loc, elsewhere=False) for r, loc in rows]
        if first and not any(fold(h.name) == f'{first} {last}' for h in hits):
            exact = session.exec(select(Recipient, Location)
                                 .outerjoin(Location, col(Location.id) == col(Recipient.location_id))
                                 .where(Recipient.identity_key == f'{first}|{last}|{date_of_birth.isoformat()}')
                                 ).first()
            if exact is not None and all(h.recipient_id != exact[0].id for h in hits):
                hits.append(_hit(session, exact[0], exact[1], elsewhere=True))
        return hits


def _hit(session: Session, recipient: Recipient, location: Location | None, *, elsewhere: bool) -> WalkInHit:
    open_case = session.exec(select(Appointment.case_number).where(Appointment.recipient_id == recipient.id)
                             .where(col(Appointment.status).in_(OPEN_STATUSES))).first()
    return WalkInHit(recipient_id=recipient.id or 0, name=f'{recipient.first_name} {recipient.last_name}',
                     date_of_birth=recipient.date_of_birth, location_name=location.name if location else '',
                     elsewhere=elsewhere, open_case_number=open_case)


def start_walk_in(principal: Principal, *, recipient_id: int,
                  screening: dict[str, str] | None = None) -> AppointmentPublic:
    """A walk-in appointment now at the user's location, checked in. A person already booked here today is
    simply checked in; another open appointment of theirs (another day or place) is cancelled with a note."""
    require(principal, Action.CHECK_IN)
    require(principal, Action.MANAGE_APPOINTMENTS, location_id=principal.location_id, check_location=True)
    with session_scope() as session:
        location = _location_of(session, principal)
        recipient = session.get(Recipient, recipient_id)
        if recipient is None:
            raise NotFound('This recipient does not exist.')
        today = local_now(location).date()
        others: set[int] = set()
        booked = session.exec(select(Appointment).where(Appointment.recipient_id == recipient_id)
                              .where(col(Appointment.status).in_(OPEN_STATUSES))).all()
        for other in booked:
            if other.location_id == location.id and other.local_date == today:
                other.status = AppointmentStatus.CHECKED_IN
                other.checked_in_at = other.checked_in_at or utcnow()
                other.checked_in_by_user_id = other.checked_in_by_user_id or principal.user_id
                if screening:
                    other.screening = _screening_json(screening)
                session.add(other)
                public = to_public(session, other, recipient=recipient, location=location)
                break
        else:
            for other in booked:
                _cancel(session, other, reason=f'Seen as a walk-in at {location.name}')
                others.add(other.location_id)
            walk_in = Appointment(
                case_number=new_case_number(session), recipient_id=recipient_id, location_id=location.id or 0,
                dose_number=next_dose_number(session, recipient_id), scheduled_at=utcnow(), local_date=today,
                status=AppointmentStatus.CHECKED_IN, walk_in=True, checked_in_at=utcnow(),
                checked_in_by_user_id=principal.user_id, created_by_user_id=principal.user_id,
                screening=_screening_json(screening))
            session.add(walk_in)
            session.flush()
            audit.record(session, action='walk_in', actor=principal, entity_type='appointment',
                         entity_id=walk_in.id, detail=f'recipient {recipient_id}')
            public = to_public(session, walk_in, recipient=recipient, location=location)
    _changed(location.id)
    for other_location in others - {location.id}:
        _changed(other_location)
    return public


@dataclass
class PointOfCareRegistration:
    first_name: str
    last_name: str
    date_of_birth: date
    sex: str = ''
    address_line1: str = ''
    city: str = ''
    county: str = ''
    state: str = 'NC'
    zip_code: str = ''
    phone: str = ''
    email: str = ''
    race: str = ''
    ethnicity: str = ''
    screening: dict[str, str] = field(default_factory=dict)


def registration_problems(data: PointOfCareRegistration, *, today: date | None = None) -> list[str]:
    today = today or date.today()
    problems = []
    for label, value in (('First name', data.first_name), ('Last name', data.last_name)):
        if not value.strip():
            problems.append(f'{label} is required.')
        elif not NAME_PATTERN.match(value.strip()):
            problems.append(f'{label}: only letters, spaces, hyphens, apostrophes and periods.')
    if data.date_of_birth > today:
        problems.append('Date of birth cannot be in the future.')
    elif data.date_of_birth < date(today.year - 120, 1, 1):
        problems.append('Date of birth is more than 120 years ago.')
    if data.email.strip() and (problem := email_problem(data.email.strip())):
        problems.append(f'Email: {problem}')
    digits = re.sub(r'\D', '', data.phone)
    if data.phone.strip() and len(digits) not in (10, 11):
        problems.append('Phone: enter a 10-digit number.')
    if data.zip_code.strip() and not re.fullmatch(r'\d{5}(-\d{4})?', data.zip_code.strip()):
        problems.append('ZIP code: 5 digits (or ZIP+4).')
    if data.state.strip() and not re.fullmatch(r'[A-Za-z]{2}', data.state.strip()):
        problems.append('State: the 2-letter code.')
    if data.sex and data.sex not in SEXES:
        problems.append(f'Sex: choose one of {", ".join(SEXES)}.')
    unanswered = [text for key, text in SCREENING_QUESTIONS if data.screening.get(key) not in ('yes', 'no')]
    if unanswered:
        problems.append(f'Answer every screening question ({len(unanswered)} left).')
    return problems


def register_at_point_of_care(principal: Principal, data: PointOfCareRegistration) -> AppointmentPublic:
    """Register a person at the desk (the paper "CVMS Recipient Registration" form), then start their walk-in.
    A person already registered anywhere (same first, last name and date of birth) is refused with a pointer
    to the Walk-In search, so no one is registered twice."""
    require(principal, Action.REGISTER_RECIPIENT, location_id=principal.location_id, check_location=True)
    if problems := registration_problems(data):
        raise ValidationFailed(' '.join(problems))
    key = identity_key(data.first_name, data.last_name, data.date_of_birth)
    with session_scope() as session:
        location = _location_of(session, principal)
        if session.exec(select(Recipient.id).where(Recipient.identity_key == key)).first() is not None:
            raise ServiceError(f'{data.first_name.strip()} {data.last_name.strip()}, born '
                               f'{data.date_of_birth:%m/%d/%Y}, is already registered. Search for them in '
                               'Appointment Walk-In with the full name and date of birth.')
        recipient = Recipient(
            first_name=' '.join(data.first_name.split()), last_name=' '.join(data.last_name.split()),
            date_of_birth=data.date_of_birth, email=data.email.strip().lower() or None,
            phone=data.phone.strip() or None, sex=data.sex or None, address_line1=data.address_line1.strip() or None,
            city=data.city.strip() or None, county=data.county.strip() or None,
            state=data.state.strip().upper() or None, zip_code=data.zip_code.strip() or None,
            race=data.race or None, ethnicity=data.ethnicity or None, identity_key=key,
            first_name_key=fold(data.first_name), last_name_key=fold(data.last_name), location_id=location.id,
            organization_id=location.organization_id, source=RecipientSource.POINT_OF_CARE,
            created_by_user_id=principal.user_id)
        session.add(recipient)
        session.flush()
        if recipient.email:
            attach_recipient(session, recipient)
        audit.record(session, action='recipient_registered_point_of_care', actor=principal,
                     entity_type='recipient', entity_id=recipient.id)
        recipient_id = recipient.id or 0
    return start_walk_in(principal, recipient_id=recipient_id, screening=data.screening)


# ---------------------------------------------------------------- Record vaccination

@dataclass(frozen=True)
class DoseRecord:
    administration_id: int
    dose_number: int
    product_id: int
    product_name: str
    manufacturer: str
    cvx_code: str
    lot_number: str
    administered_at: datetime
    administered_on: date  # the day at the location
    location_name: str
    site: str
    route: str
    dose_volume_ml: float
    administered_by: str


@dataclass(frozen=True)
class VaccinationForm:
    appointment: AppointmentPublic
    history: list[DoseRecord]
    dose_number: int
    lots: list[LotStock]
    lot_id: int | None
    site: str
    route: str
    dose_volume_ml: float
    screening: dict[str, str]
    administered_by: str
    time_zone: str


def _history(session: Session, recipient_id: int) -> list[DoseRecord]:
    rows = session.exec(select(Administration, Product, Lot, Location)
                        .join(Product, col(Product.id) == col(Administration.product_id))
                        .join(Lot, col(Lot.id) == col(Administration.lot_id))
                        .join(Location, col(Location.id) == col(Administration.location_id))
                        .where(Administration.recipient_id == recipient_id)
                        .where(col(Administration.voided).is_(False))
                        .order_by(col(Administration.administered_at), col(Administration.id))).all()
    users = {u.id: u.full_name or u.email for u in session.exec(
        select(User).where(col(User.id).in_({a.administered_by_user_id for a, *_ in rows}))).all()} if rows else {}
    return [DoseRecord(
        administration_id=a.id or 0, dose_number=a.dose_number, product_id=p.id or 0, product_name=p.name,
        manufacturer=p.manufacturer, cvx_code=p.cvx_code, lot_number=lot.lot_number,
        administered_at=as_utc(a.administered_at),
        administered_on=as_utc(a.administered_at).astimezone(_zone(loc)).date(), location_name=loc.name,
        site=a.site, route=a.route, dose_volume_ml=a.dose_volume_ml,
        administered_by=users.get(a.administered_by_user_id, '')) for a, p, lot, loc in rows]


def _zone(location: Location):  # noqa: ANN202
    from .scheduling import location_zone
    return location_zone(location)


def vaccination_record(recipient_id: int, *, principal: Principal | None = None) -> list[DoseRecord]:
    """Every valid (not voided) dose of a person, oldest first: the proof of vaccination. With a principal, access
    is checked (staff of the person's location or a location that vaccinated them, the person's household, state
    admins); without one the caller is trusted (the verification link shows only initials, doses and dates)."""
    with session_scope() as session:
        recipient = session.get(Recipient, recipient_id)
        if recipient is None:
            raise NotFound('This recipient does not exist.')
        history = _history(session, recipient_id)
        if principal is not None and principal.role != Role.EMPLOYER:
            allowed = can_access_recipient(principal, location_id=recipient.location_id,
                                           organization_id=recipient.organization_id,
                                           portal_account_id=recipient.portal_account_id)
            if not allowed and principal.location_id is not None:
                allowed = session.exec(select(Administration.id).where(Administration.recipient_id == recipient_id)
                                       .where(Administration.location_id == principal.location_id)).first() is not None
        else:
            allowed = principal is None
    if not allowed:
        deny(principal, action='view_vaccination_record', entity=f'recipient:{recipient_id}')
    return history


def vaccination_form(principal: Principal, appointment_id: int) -> VaccinationForm:
    """Everything Record vaccination shows, with the desk's defaults filled in."""
    current = appointment(principal, appointment_id)
    require(principal, Action.RECORD_VACCINATION, location_id=current.location_id, check_location=True)
    with session_scope() as session:
        history = _history(session, current.recipient_id)
        lots = inventory.usable_lots(session, location_id=current.location_id)
        preference = session.exec(select(DeskPreference).where(DeskPreference.user_id == principal.user_id)
                                  .where(DeskPreference.location_id == current.location_id)).first()
        lot_ids = [s.lot_id for s in lots]
        wanted_product = history[-1].product_id if history else current.product_id
        lot_id = None
        if preference and preference.lot_id in lot_ids:
            lot_id = preference.lot_id
            chosen = next(s for s in lots if s.lot_id == lot_id)
            if wanted_product is not None and chosen.product_id != wanted_product:
                lot_id = None  # the series' product first
        if lot_id is None and lots:
            same = [s for s in lots if s.product_id == wanted_product] if wanted_product else []
            lot_id = (same or lots)[0].lot_id
        volume = preference.dose_volume_ml if preference and preference.dose_volume_ml else None
        if lot_id is not None and volume is None:
            volume = DEFAULT_VOLUME_BY_CVX.get(next(s for s in lots if s.lot_id == lot_id).cvx_code, 0.5)
        appointment_row = session.get(Appointment, appointment_id)
        return VaccinationForm(
            appointment=current, history=history, dose_number=len(history) + 1, lots=lots, lot_id=lot_id,
            site=(preference.site if preference and preference.site else SITES[0]),
            route=(preference.route if preference and preference.route else ROUTES[0]),
            dose_volume_ml=volume or 0.5,
            screening=screening_answers(appointment_row.screening if appointment_row else None),
            administered_by=principal.full_name or principal.email,
            time_zone=_location_of(session, principal).time_zone or 'America/New_York')


def location_time_zone(principal: Principal) -> str:
    with session_scope() as session:
        return _location_of(session, principal).time_zone or 'America/New_York'


def lots_on_hand(principal: Principal) -> list[LotStock]:
    """Every lot with doses at the user's location, expired ones included (back-entry of doses given earlier)."""
    require(principal, Action.RECORD_VACCINATION, location_id=principal.location_id, check_location=True)
    with session_scope() as session:
        return inventory.stock(session, location_id=principal.location_id or 0)


def dose_problems(history: list[DoseRecord], product: Product, given_on: date) -> list[str]:
    """What makes this dose need an explicit override: beyond the series, mixed products, too early."""
    problems = []
    dose_number = len(history) + 1
    if dose_number > product.doses_in_series:
        problems.append(f'Dose {dose_number} is beyond the {product.doses_in_series}-dose series of {product.name}.')
    if history and history[-1].product_id != product.id:
        problems.append(f'Earlier dose was {history[-1].product_name}; this dose is {product.name} '
                        '(products mixed within a series).')
    if history and product.days_between_doses:
        earliest = history[-1].administered_on + timedelta(days=product.days_between_doses)
        if given_on < earliest:
            problems.append(f'Dose {dose_number} is earlier than the {product.days_between_doses}-day interval '
                            f'of {product.name}: due on or after {earliest:%m/%d/%Y}.')
    return problems


def preview_dose_problems(principal: Principal, *, recipient_id: int, lot_id: int | None,
                          at: datetime | None = None) -> list[str]:
    """What Record vaccination will ask an override for, shown before saving."""
    require(principal, Action.RECORD_VACCINATION)
    if lot_id is None:
        return []
    with session_scope() as session:
        lot = session.get(Lot, lot_id)
        product = session.get(Product, lot.product_id) if lot else None
        location = _location_of(session, principal)
        if product is None:
            return []
        given_at = as_utc(at) if at else utcnow()
        history = [h for h in _history(session, recipient_id) if h.administered_at <= given_at]
        return dose_problems(history, product, given_at.astimezone(_zone(location)).date())


class OverrideNeeded(ServiceError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__('This dose needs an override with a reason: ' + ' '.join(problems))


@dataclass(frozen=True)
class RecordedDose:
    administration_id: int
    dose_number: int
    product_id: int
    product_name: str
    lot_number: str
    administered_at: datetime
    next_dose_number: int | None
    next_dose_due: date | None  # None when the series is complete
    reminder_id: int | None


@dataclass
class DoseDetails:
    lot_id: int
    site: str = SITES[0]
    route: str = ROUTES[0]
    dose_volume_ml: float = 0.5
    administered_at: datetime | None = None  # None: now
    backdate_reason: str = ''
    override_reason: str = ''
    screening: dict[str, str] = field(default_factory=dict)
    consent: bool = False
    expected_dose_number: int | None = None  # as written on a paper form: checked against the history


def record_vaccination(principal: Principal, *, appointment_id: int, details: DoseDetails) -> RecordedDose:
    """Save a dose for a checked-in person: draws it from the lot in the same transaction, completes the
    appointment, and for an unfinished series computes the next due date and schedules its reminder."""
    current = appointment(principal, appointment_id)
    require(principal, Action.RECORD_VACCINATION, location_id=current.location_id, check_location=True)
    with session_scope() as session:
        row = session.get(Appointment, appointment_id)
        assert row is not None
        if row.status == AppointmentStatus.SCHEDULED:
            raise ServiceError('Check the person in before recording the dose.')
        if row.status != AppointmentStatus.CHECKED_IN:
            raise ServiceError(f'This appointment is {AppointmentStatus(row.status).label.lower()}; a dose can only '
                               'be recorded for a checked-in person.')
        result = _administer(session, principal, recipient_id=row.recipient_id, location_id=row.location_id,
                             appointment=row, details=details, source='desk')
        row.status, row.completed_at = AppointmentStatus.COMPLETED, utcnow()
        session.add(row)
        _remember_desk_choices(session, principal, row.location_id, details, result.product_id)
    _changed(current.location_id)
    return result


def record_paper_administration(principal: Principal, *, recipient_id: int, details: DoseDetails,
                                source: str = 'paper', identity: tuple[str, str, date] | None = None) -> RecordedDose:
    """Back-entry of a dose written on the paper administration form during an outage (no appointment needed),
    recorded at the user's location. The person must be one the user may see, or be named exactly by `identity`
    (first name, last name, date of birth as written on the form). Consent was taken on paper."""
    require(principal, Action.RECORD_VACCINATION, location_id=principal.location_id, check_location=True)
    if details.administered_at is None:
        raise ValidationFailed('Enter the date and time the dose was given (from the paper form).')
    details.backdate_reason = details.backdate_reason.strip() or 'Recorded on paper during an outage'
    details.consent = True
    with session_scope() as session:
        recipient = session.get(Recipient, recipient_id)
        if recipient is None:
            raise NotFound('This recipient does not exist.')
        allowed = _may_serve(principal, recipient, None) or (
            identity is not None and identity_key(*identity) == recipient.identity_key)
        if allowed:
            result = _administer(session, principal, recipient_id=recipient_id, location_id=principal.location_id or 0,
                                 appointment=None, details=details, source=source)
    if not allowed:
        deny(principal, action='record_paper_administration', entity=f'recipient:{recipient_id}')
    _changed(principal.location_id)
    return result


def _administer(session: Session, principal: Principal, *, recipient_id: int, location_id: int,
                appointment: Appointment | None, details: DoseDetails, source: str) -> RecordedDose:
    if not details.consent:
        raise ValidationFailed('Record the person\'s consent before saving the dose.')
    if source == 'desk':
        unanswered = [k for k, _ in SCREENING_QUESTIONS if details.screening.get(k) not in ('yes', 'no')]
        if unanswered:
            raise ValidationFailed(f'Answer every screening question ({len(unanswered)} left).')
    if details.site not in SITES:
        raise ValidationFailed(f'Site: choose one of {", ".join(SITES)}.')
    if details.route not in ROUTES:
        raise ValidationFailed(f'Route: choose one of {", ".join(ROUTES)}.')
    if not 0.05 <= float(details.dose_volume_ml) <= 2.0:
        raise ValidationFailed('Dose volume must be between 0.05 and 2.0 mL.')
    now = utcnow()
    given_at = as_utc(details.administered_at) if details.administered_at else now
    if given_at > now + BACKDATE_TOLERANCE:
        raise ValidationFailed('The time given cannot be in the future.')
    backdated = given_at < now - BACKDATE_TOLERANCE
    if backdated and not details.backdate_reason.strip():
        raise ValidationFailed('An earlier time needs a reason (for example: recorded on paper during an outage).')
    lot = session.get(Lot, details.lot_id)
    if lot is None:
        raise NotFound('This lot does not exist.')
    product = session.get(Product, lot.product_id)
    location = session.get(Location, location_id)
    assert product is not None and location is not None
    history = [h for h in _history(session, recipient_id) if h.administered_at <= given_at]
    problems = dose_problems(history, product, given_at.astimezone(_zone(location)).date())
    if problems and not details.override_reason.strip():
        raise OverrideNeeded(problems)
    dose_number = len(history) + 1
    if details.expected_dose_number is not None and details.expected_dose_number != dose_number:
        raise ValidationFailed(f'Dose number {details.expected_dose_number} does not match the person\'s record: '
                               f'this would be dose {dose_number}.')
    administration = Administration(
        recipient_id=recipient_id, appointment_id=appointment.id if appointment else None, location_id=location_id,
        product_id=product.id or 0, lot_id=lot.id or 0, dose_number=dose_number, site=details.site,
        route=details.route, dose_volume_ml=float(details.dose_volume_ml), administered_by_user_id=principal.user_id,
        administered_at=given_at, screening=_screening_json(details.screening), consent=True, source=source,
        backdate_reason=details.backdate_reason.strip()[:300] if backdated else None,
        override_reason=details.override_reason.strip()[:300] if problems else None,
        recorded_by_user_id=principal.user_id)
    session.add(administration)
    session.flush()
    entry = inventory.draw_dose(session, principal=principal, location_id=location_id, lot_id=lot.id or 0,
                                reference=f'administration:{administration.id}', at=given_at)
    administration.ledger_entry_id = entry.id
    session.add(administration)
    # The dose is given: other open appointments for it are no longer needed, nor reminders for it.
    for other in session.exec(select(Appointment).where(Appointment.recipient_id == recipient_id)
                              .where(col(Appointment.status).in_(OPEN_STATUSES))).all():
        if appointment is None or other.id != appointment.id:
            if other.dose_number <= dose_number:
                _cancel(session, other, reason='Dose recorded')
    for reminder in session.exec(select(DoseReminder).where(DoseReminder.recipient_id == recipient_id)
                                 .where(DoseReminder.status == ReminderStatus.PENDING)
                                 .where(DoseReminder.dose_number <= dose_number)).all():
        reminder.status, reminder.outcome, reminder.processed_at = (ReminderStatus.SUPPRESSED,
                                                                    'dose already recorded', now)
        session.add(reminder)
    next_due, reminder_id = None, None
    if dose_number < product.doses_in_series and product.days_between_doses:
        next_due = given_at.astimezone(_zone(location)).date() + timedelta(days=product.days_between_doses)
        send_on = max(next_due - timedelta(days=REMINDER_DAYS_BEFORE), local_now(location).date())
        reminder = DoseReminder(recipient_id=recipient_id, administration_id=administration.id or 0,
                                dose_number=dose_number + 1, due_date=next_due, send_on=send_on)
        session.add(reminder)
        session.flush()
        reminder_id = reminder.id
    audit.record(session, action='vaccination_recorded', actor=principal, entity_type='administration',
                 entity_id=administration.id,
                 detail=f'recipient {recipient_id} dose {dose_number} {product.name} lot {lot.lot_number}'
                        + (f'; override: {details.override_reason.strip()}' if problems else '')
                        + (f'; given earlier: {details.backdate_reason.strip()}' if backdated else ''))
    return RecordedDose(administration_id=administration.id or 0, dose_number=dose_number, product_id=product.id or 0,
                        product_name=product.name, lot_number=lot.lot_number, administered_at=given_at,
                        next_dose_number=dose_number + 1 if next_due else None, next_dose_due=next_due,
                        reminder_id=reminder_id)


def _remember_desk_choices(session: Session, principal: Principal, location_id: int, details: DoseDetails,
                           product_id: int) -> None:
    preference = session.exec(select(DeskPreference).where(DeskPreference.user_id == principal.user_id)
                              .where(DeskPreference.location_id == location_id)).first()
    preference = preference or DeskPreference(user_id=principal.user_id, location_id=location_id)
    preference.product_id, preference.lot_id = product_id, details.lot_id
    preference.site, preference.route, preference.dose_volume_ml = (details.site, details.route,
                                                                    float(details.dose_volume_ml))
    preference.updated_at = utcnow()
    session.add(preference)


# ---------------------------------------------------------------- corrections (location managers)

def void_administration(principal: Principal, *, administration_id: int, reason: str,
                        _replacement: DoseDetails | None = None) -> RecordedDose | None:
    """Void a dose recorded in error: the dose goes back to stock by a reversal ledger row; the record stays,
    marked void, and the audit trail keeps who and why. With `_replacement`, the corrected dose is recorded
    in the same transaction (see correct_administration)."""
    with session_scope() as session:
        found = session.get(Administration, administration_id)
        if found is None:
            raise NotFound('This vaccination record does not exist.')
        location_id = found.location_id
    require(principal, Action.CORRECT_VACCINATION, location_id=location_id, check_location=True)
    reason = (reason or '').strip()
    if not reason:
        raise ValidationFailed('Say why this vaccination record is being corrected or voided.')
    with session_scope() as session:
        original = session.get(Administration, administration_id)
        assert original is not None
        if original.voided:
            raise ServiceError('This vaccination record is already void.')
        if original.ledger_entry_id is not None:
            reversal = inventory.reverse_entry(session, principal=principal, entry_id=original.ledger_entry_id,
                                               reason=f'Vaccination record {administration_id} voided: {reason}')
            original.reversal_entry_id = reversal.id
        original.voided, original.voided_at, original.voided_by_user_id = True, utcnow(), principal.user_id
        original.void_reason = reason[:300]
        session.add(original)
        session.flush()
        audit.record(session, action='vaccination_voided', actor=principal, entity_type='administration',
                     entity_id=administration_id, detail=reason)
        result = None
        if _replacement is not None:
            _replacement.override_reason = _replacement.override_reason or f'Correction: {reason}'
            _replacement.backdate_reason = _replacement.backdate_reason or f'Correction: {reason}'
            _replacement.consent = True
            _replacement.screening = _replacement.screening or screening_answers(original.screening)
            if _replacement.administered_at is None:
                _replacement.administered_at = as_utc(original.administered_at)
            appointment_row = session.get(Appointment, original.appointment_id) if original.appointment_id else None
            result = _administer(session, principal, recipient_id=original.recipient_id,
                                 location_id=original.location_id, appointment=appointment_row,
                                 details=_replacement, source=original.source)
            corrected = session.get(Administration, result.administration_id)
            assert corrected is not None
            corrected.corrects_administration_id = administration_id
            if appointment_row is not None:
                appointment_row.status = AppointmentStatus.COMPLETED
                session.add(appointment_row)
            session.add(corrected)
        elif original.appointment_id is not None:
            appointment_row = session.get(Appointment, original.appointment_id)
            if appointment_row is not None and appointment_row.status == AppointmentStatus.COMPLETED:
                appointment_row.status = AppointmentStatus.CHECKED_IN  # the dose can be recorded again
                session.add(appointment_row)
    _changed(location_id)
    return result


def correct_administration(principal: Principal, *, administration_id: int, reason: str,
                           details: DoseDetails) -> RecordedDose:
    """Replace a wrong record (lot, site, time...): the original is voided and reversed, the corrected one drawn."""
    result = void_administration(principal, administration_id=administration_id, reason=reason,
                                 _replacement=details)
    assert result is not None
    return result


def administrations_at(principal: Principal, *, day: date | None = None) -> list[tuple[DoseRecord, str, bool]]:
    """Doses recorded at the user's location on a day: (record, recipient name, voided) for the corrections list."""
    require(principal, Action.RECORD_VACCINATION, location_id=principal.location_id, check_location=True)
    with session_scope() as session:
        location = _location_of(session, principal)
        day = day or local_now(location).date()
        zone = _zone(location)
        start = datetime.combine(day, datetime.min.time(), tzinfo=zone)
        rows = session.exec(select(Administration, Recipient, Product, Lot)
                            .join(Recipient, col(Recipient.id) == col(Administration.recipient_id))
                            .join(Product, col(Product.id) == col(Administration.product_id))
                            .join(Lot, col(Lot.id) == col(Administration.lot_id))
                            .where(Administration.location_id == location.id)
                            .where(col(Administration.administered_at) >= start)
                            .where(col(Administration.administered_at) < start + timedelta(days=1))
                            .order_by(col(Administration.administered_at))).all()
        return [(DoseRecord(administration_id=a.id or 0, dose_number=a.dose_number, product_id=p.id or 0,
                            product_name=p.name, manufacturer=p.manufacturer, cvx_code=p.cvx_code,
                            lot_number=lot.lot_number, administered_at=as_utc(a.administered_at), administered_on=day,
                            location_name=location.name, site=a.site, route=a.route,
                            dose_volume_ml=a.dose_volume_ml, administered_by=''),
                 f'{r.first_name} {r.last_name}', a.voided) for a, r, p, lot in rows]


# ---------------------------------------------------------------- end of day, stand-by list

def mark_no_shows(principal: Principal, *, location_id: int | None = None, before: date | None = None) -> int:
    """Scheduled appointments nobody attended become No-show: at one location (the desk's End of day, which
    includes today) or, for the system job, every location's earlier days."""
    if location_id is not None:
        require(principal, Action.MANAGE_APPOINTMENTS, location_id=location_id, check_location=True)
    elif not principal.is_admin:
        deny(principal, action='mark_no_shows')
    touched: set[int] = set()
    with session_scope() as session:
        query = select(Appointment).where(Appointment.status == AppointmentStatus.SCHEDULED)
        if location_id is not None:
            location = session.get(Location, location_id)
            if location is None:
                raise NotFound('This location does not exist.')
            query = query.where(Appointment.location_id == location_id).where(
                Appointment.local_date <= (before or local_now(location).date()))
        else:
            query = query.where(Appointment.local_date < (before or utcnow().date() - timedelta(days=1)))
        rows = session.exec(query).all()
        for row in rows:
            row.status = AppointmentStatus.NO_SHOW
            session.add(row)
            touched.add(row.location_id)
        if rows:
            audit.record(session, action='no_shows_marked', actor=principal, entity_type='location',
                         entity_id=location_id, detail=f'{len(rows)} appointment(s)')
    for touched_location in touched:
        _changed(touched_location)
    return len(rows)


@dataclass(frozen=True)
class StandbyPublic:
    id: int
    full_name: str
    phone: str
    email: str | None
    note: str
    status: str
    created_at: datetime


def add_to_standby(principal: Principal, *, full_name: str, phone: str, email: str = '', note: str = '',
                   recipient_id: int | None = None) -> StandbyPublic:
    require(principal, Action.MANAGE_APPOINTMENTS, location_id=principal.location_id, check_location=True)
    if not full_name.strip():
        raise ValidationFailed('Enter the person\'s name.')
    if len(re.sub(r'\D', '', phone)) not in (10, 11):
        raise ValidationFailed('Enter a 10-digit phone number so the person can be called at short notice.')
    if email.strip() and (problem := email_problem(email.strip())):
        raise ValidationFailed(f'Email: {problem}')
    with session_scope() as session:
        entry = StandbyEntry(location_id=principal.location_id or 0, recipient_id=recipient_id,
                             full_name=' '.join(full_name.split())[:200], phone=phone.strip()[:32],
                             email=email.strip().lower() or None, note=note.strip()[:300],
                             created_by_user_id=principal.user_id)
        session.add(entry)
        session.flush()
        return _standby_public(entry)


def standby_list(principal: Principal) -> list[StandbyPublic]:
    require(principal, Action.MANAGE_APPOINTMENTS, location_id=principal.location_id, check_location=True)
    with session_scope() as session:
        rows = session.exec(select(StandbyEntry).where(StandbyEntry.location_id == principal.location_id)
                            .where(StandbyEntry.status != 'removed').order_by(col(StandbyEntry.created_at))).all()
        return [_standby_public(r) for r in rows]


def update_standby(principal: Principal, *, entry_id: int, status: str) -> None:
    if status not in ('waiting', 'called', 'removed'):
        raise ValidationFailed('Unknown stand-by status.')
    require(principal, Action.MANAGE_APPOINTMENTS, location_id=principal.location_id, check_location=True)
    with session_scope() as session:
        entry = session.get(StandbyEntry, entry_id)
        if entry is None or entry.location_id != principal.location_id:
            raise NotFound('This stand-by entry does not exist.')
        entry.status = status
        if status == 'called':
            entry.called_at = utcnow()
        session.add(entry)


def _standby_public(entry: StandbyEntry) -> StandbyPublic:
    return StandbyPublic(id=entry.id or 0, full_name=entry.full_name, phone=entry.phone, email=entry.email,
                         note=entry.note, status=entry.status, created_at=as_utc(entry.created_at))


# ---------------------------------------------------------------- dose reminders (background job)

def process_due_reminders(*, today: date | None = None) -> dict[str, int]:
    """Send the reminders due today (into the outbox) unless they became pointless: the dose was already
    recorded, or its appointment was cancelled. Safe to run repeatedly (each reminder is processed once)."""
    today = today or utcnow().date()
    counts = {'sent': 0, 'suppressed': 0}
    with session_scope() as session:
        due = session.exec(select(DoseReminder).where(DoseReminder.status == ReminderStatus.PENDING)
                           .where(DoseReminder.send_on <= today).order_by(col(DoseReminder.id)).limit(500)).all()
        for reminder in due:
            outcome = _reminder_outcome(session, reminder)
            reminder.processed_at = utcnow()
            if outcome is not None:
                reminder.status, reminder.outcome = ReminderStatus.SUPPRESSED, outcome
                counts['suppressed'] += 1
            else:
                _send_reminder(session, reminder)
                reminder.status, reminder.outcome = ReminderStatus.SENT, 'queued'
                counts['sent'] += 1
            session.add(reminder)
    return counts


def _reminder_outcome(session: Session, reminder: DoseReminder) -> str | None:
    given = session.exec(select(Administration.id).where(Administration.recipient_id == reminder.recipient_id)
                         .where(col(Administration.voided).is_(False))
                         .where(Administration.dose_number >= reminder.dose_number)).first()
    if given is not None:
        return 'dose already recorded'
    if reminder.appointment_id is not None:
        booked = session.get(Appointment, reminder.appointment_id)
        if booked is None or booked.status == AppointmentStatus.CANCELLED:
            return 'appointment cancelled'
    recipient = session.get(Recipient, reminder.recipient_id)
    if recipient is None or not recipient.email:
        return 'no email address'
    return None


def _send_reminder(session: Session, reminder: DoseReminder) -> None:
    recipient = session.get(Recipient, reminder.recipient_id)
    assert recipient is not None and recipient.email
    if reminder.appointment_id is not None:
        booked = session.get(Appointment, reminder.appointment_id)
        location = session.get(Location, booked.location_id) if booked else None
        if booked is not None and location is not None:
            _email(session, recipient, to_public(session, booked, recipient=recipient, location=location), location,
                   kind='reminder', dedupe_key=f'dose-reminder:{reminder.id}')
            return
    t = translator(portal_language(session, recipient))
    due = f'{reminder.due_date:%m/%d/%Y}'
    body = t('Hello {name},\n\nYour COVID-19 vaccine dose {dose} is due on {due}. Book an appointment in the '
             'COVID-19 Vaccine Portal or with your vaccine provider, and bring your vaccination card.\n').format(
        name=recipient.first_name, dose=reminder.dose_number, due=due)
    subject = t('Reminder: your COVID-19 vaccine dose {dose} is due on {due}').format(
        dose=reminder.dose_number, due=due)
    mail.enqueue(session, to=recipient.email, subject=subject, body_text=body,
                 dedupe_key=f'dose-reminder:{reminder.id}')


# ---------------------------------------------------------------- the background job and the CLI

def run_daily_jobs() -> dict[str, int]:
    """Reminders due today, and No-show for appointments of days that are over everywhere (yesterday and before
    in UTC, so every US time zone has finished its day)."""
    from .principal import SYSTEM
    counts = process_due_reminders()
    counts['no_shows'] = mark_no_shows(SYSTEM, before=utcnow().date() - timedelta(days=1))
    return counts


async def run_jobs(stop, *, interval: float = 300.0, first_after: float = 30.0) -> None:  # noqa: ANN001
    """The clinic's background job: runs run_daily_jobs off the event loop every few minutes until `stop` (an
    asyncio.Event). The first round waits a little so start-up (migrations, the mail sender) goes first."""
    import asyncio

    from .jobs import repeat
    await repeat(stop, lambda: asyncio.to_thread(run_daily_jobs), interval=interval, first_after=first_after,
                 name='clinic jobs')


def register_cli(commands) -> None:  # noqa: ANN001 - argparse subparsers
    """`main.py clinic-jobs`: send due dose reminders and mark past unattended appointments No-show (for cron)."""
    parser = commands.add_parser('clinic-jobs', help='send due dose reminders and mark past no-shows')

    def handler(_args) -> int:  # noqa: ANN001
        counts = run_daily_jobs()
        print(f"Reminders sent: {counts['sent']}, suppressed: {counts['suppressed']}; "
              f"appointments marked No-show: {counts['no_shows']}.")
        return 0
    parser.set_defaults(handler=handler)
