"""Appointment Walk-In: finding a person, starting their visit, and registration at the point of care."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import or_
from sqlmodel import Session, col, select

from models import Location, Recipient, RecipientSource, utcnow
from models.clinic import (
    OPEN_STATUSES,
    Appointment,
    AppointmentPublic,
    AppointmentStatus,
)
from services.clinic.common import _changed, _location_of, _screening_json, unanswered_screening
from services.clinic.dose_rules import next_dose_number
from services.clinic.scheduling import (
    _cancel,
    new_case_number,
    to_public,
)
from services.core import audit
from services.core.db import session_scope
from services.core.errors import ValidationFailed
from services.core.localtime import local_today
from services.permissions import Action, Kind, fetch, require, scope
from services.portal.accounts import attach_recipient
from services.principal import Principal
from services.recipients import codes
from services.recipients.fields import RECIPIENT_FIELDS, check_recipient
from services.recipients.registry import IDENTITY_FIELDS, create_recipient
from services.recipients.search import exact_identity_keys, name_branches, similar_recipients
from services.recipients.visibility import listed

# ---------------------------------------------------------------- Appointment Walk-In

@dataclass(frozen=True)
class WalkInHit:
    recipient_id: int
    name: str
    date_of_birth: date
    location_name: str
    elsewhere: bool  # registered by another location: found by the exact name + date of birth match
    open_case_number: str | None = None
    # For a person registered elsewhere: the first name, last name and date of birth the desk named them by, which
    # start_walk_in and booking need to reach them (permissions.fetch's `named`).
    named: tuple[str, str, date] | None = None


def search_walk_in(*, principal: Principal, name: str, date_of_birth: date, limit: int = 25) -> list[WalkInHit]:
    """People with this date of birth whose name matches as typed (accents, case and the split between first and
    last name aside; services.recipients.search) among those the user may see, plus anyone anywhere in the system
    named in full with this date of birth (so no one is registered twice)."""
    require(principal, Action.CHECK_IN)
    branches = name_branches(name)
    if not branches:
        raise ValidationFailed('Enter at least the first letters of the last name.')
    with session_scope(read_only=True) as session:
        # The few people born that day are read first, through the birth-date index: SQLite keeps no statistics,
        # and with the location's condition beside it walked the whole location's index (150 ms at 200,000).
        born = (select(Recipient.id).where(Recipient.date_of_birth == date_of_birth).where(or_(*branches))
                .where(listed()).cte('born').prefix_with('MATERIALIZED'))
        query = scope(select(Recipient, Location).join(born, born.c.id == col(Recipient.id))
                      .outerjoin(Location, col(Location.id) == col(Recipient.location_id)),
                      principal=principal, kind=Kind.RECIPIENT)
        rows = session.exec(query.order_by(col(Recipient.last_name_key), col(Recipient.first_name_key))
                            .limit(limit)).all()
        hits = [_hit(session, r, loc, elsewhere=False) for r, loc in rows]
        if keys := exact_identity_keys(name, date_of_birth):
            found = {h.recipient_id for h in hits}
            exact = session.exec(select(Recipient, Location)
                                 .outerjoin(Location, col(Location.id) == col(Recipient.location_id))
                                 .where(col(Recipient.identity_key).in_(keys)).where(listed()).order_by(col(Recipient.id))).all()
            hits += [_hit(session, r, loc, elsewhere=True, named=(r.first_name, r.last_name, r.date_of_birth))
                     for r, loc in exact if r.id not in found]
    _audit_people_shown('search_walk_in', principal, name, date_of_birth, [h.recipient_id for h in hits])
    return hits


@dataclass(frozen=True)
class SimilarPerson:
    """Someone already registered, as the desk may see them before registering a new person: name and date of
    birth only (no address, no health data), enough to recognize the person at the desk."""
    recipient_id: int
    name: str
    date_of_birth: date
    named: tuple[str, str, date]  # first name, last name, date of birth: how start_walk_in reaches them


def similar_people(*, principal: Principal, name: str, date_of_birth: date, limit: int = 10) -> list[SimilarPerson]:
    """The people born on `date_of_birth` with a name like `name`, at any location, most alike first: shown before
    point-of-care registration so the desk picks the person (and starts the walk-in) instead of registering them
    a second time."""
    require(principal, Action.CHECK_IN)
    with session_scope(read_only=True) as session:
        found = similar_recipients(session, name=name, date_of_birth=date_of_birth, limit=limit)
    if found:  # the search itself was audited by search_walk_in
        _audit_people_shown('view_similar_people', principal, name, date_of_birth, [s.recipient_id for s in found])
    return [SimilarPerson(recipient_id=s.recipient_id, name=f'{s.first_name} {s.last_name}',
                          date_of_birth=s.date_of_birth, named=(s.first_name, s.last_name, s.date_of_birth))
            for s in found]


def _audit_people_shown(action: str, principal: Principal, name: str, date_of_birth: date, shown: list[int]) -> None:
    # Names and dates of birth of people, possibly registered anywhere: who looked whom up, as for the list.
    audit.record_now(action=action, actor=principal, entity_type='location', entity_id=principal.location_id,
                     detail=f'search {name.strip()[:100]!r} born {date_of_birth:%m/%d/%Y}: recipients '
                            + ','.join(map(str, shown)), subjects=shown)


def _hit(session: Session, recipient: Recipient, location: Location | None, *, elsewhere: bool,
         named: tuple[str, str, date] | None = None) -> WalkInHit:
    open_case = session.exec(select(Appointment.case_number).where(Appointment.recipient_id == recipient.id)
                             .where(col(Appointment.status).in_(OPEN_STATUSES))).first()
    return WalkInHit(recipient_id=recipient.id or 0, name=f'{recipient.first_name} {recipient.last_name}',
                     date_of_birth=recipient.date_of_birth, location_name=location.name if location else '',
                     elsewhere=elsewhere, open_case_number=open_case, named=named)


def start_walk_in(*, principal: Principal, recipient_id: int, named: tuple[str, str, date] | None = None,
                  screening: dict[str, str] | None = None) -> AppointmentPublic:
    """A walk-in appointment now at the user's location, checked in. A person already booked here today is
    simply checked in; another open appointment of theirs (another day or place) is cancelled with a note.
    A person registered at another location is reached only when `named` exactly (Walk-In's exact match)."""
    require(principal, Action.CHECK_IN)
    require(principal, Action.MANAGE_APPOINTMENTS, location_id=principal.location_id, check_location=True)
    with session_scope() as session:
        location = _location_of(session, principal)
        recipient = fetch(session, Recipient, recipient_id, principal=principal, action='start_walk_in', named=named)
        today = local_today(location)
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
    """The paper "CVMS Recipient Registration" form as typed at the desk (the date of birth as typed, MM/DD/YYYY,
    or a date); sex, race and ethnicity as codes or labels."""
    first_name: str
    last_name: str
    date_of_birth: date | str
    sex: str = ''
    address_line1: str = ''
    city: str = ''
    county: str = ''
    state: str = codes.HOME_STATE
    zip_code: str = ''
    phone: str = ''
    email: str = ''
    race: str = ''
    ethnicity: str = ''
    screening: dict[str, str] = field(default_factory=dict)

    def recipient_values(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in RECIPIENT_FIELDS if hasattr(self, name)}


def register_at_point_of_care(*, principal: Principal, data: PointOfCareRegistration) -> AppointmentPublic:
    """Register a person at the desk (the paper "CVMS Recipient Registration" form), then start their walk-in.
    A person already registered anywhere (same first, last name and date of birth) is refused (DuplicateRecipient:
    the desk offers the Walk-In search), so no one is registered twice."""
    require(principal, Action.REGISTER_RECIPIENT, location_id=principal.location_id, check_location=True)
    problems = [p.text() for p in check_recipient(data.recipient_values(), required=IDENTITY_FIELDS).problems]
    unanswered = unanswered_screening(data.screening)
    if unanswered:
        problems.append(f'Answer every screening question ({len(unanswered)} left).')
    if problems:
        raise ValidationFailed('; '.join(problems))
    with session_scope() as session:
        location = _location_of(session, principal)
        recipient = create_recipient(session=session, values=data.recipient_values(),
                                     source=RecipientSource.POINT_OF_CARE, location_id=location.id,
                                     organization_id=location.organization_id, created_by_user_id=principal.user_id)
        if recipient.email:
            attach_recipient(session, recipient)
        audit.record(session, action='recipient_registered_point_of_care', actor=principal,
                     entity_type='recipient', entity_id=recipient.id)
        recipient_id = recipient.id or 0
    return start_walk_in(principal=principal, recipient_id=recipient_id, screening=data.screening)
