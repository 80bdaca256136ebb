"""The Registry view: how a location's dose messages fared at the state registry (counts by status, the rejected
ones with the registry's reason, those waiting for a registry out of reach), resending a rejected one after the
record was corrected, and the state's view of every location's backlog and rejection rate."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from models import Location, Recipient
from models.clinic import Administration
from models.inventory import Product
from models.registry import WAITING_STATUSES, RegistryAction, RegistryMessage, RegistryStatus
from services.core.db import session_scope
from services.core.errors import ServiceError
from services.core.localtime import local_date
from services.core.settings import get_settings
from services.permissions import Action, Kind, can, fetch, require, visible, works_at
from services.principal import Principal
from services.registry import reporting

SHOWN = 100  # rejected (and retrying) messages listed, newest first
EVENTS = {RegistryAction.ADD: 'Dose recorded', RegistryAction.UPDATE: 'Dose corrected',
          RegistryAction.DELETE: 'Dose voided'}


@dataclass(frozen=True)
class ProblemMessage:
    """A rejected message (or one still retrying) with what the location needs to act on it."""
    message_id: int
    administration_id: int
    recipient_name: str
    product_name: str
    given_on: date
    event: str
    status: str  # RegistryStatus value
    reason: str  # the registry's words, or why it could not be reached
    at: datetime | None  # answered, or the next try
    may_resend: bool


@dataclass(frozen=True)
class LocationRegistry:
    location_id: int
    location_name: str
    time_zone: str  # the location's ('' the state's)
    counts: dict[str, int]  # RegistryStatus value -> messages, every status present
    exported: int  # queued messages already written to a batch file
    rejected: list[ProblemMessage]
    retrying: list[ProblemMessage]


@dataclass(frozen=True)
class LocationBacklog:
    location_id: int
    location_name: str
    code: str
    waiting: int  # queued or retrying, not in a batch file
    accepted: int  # with or without warnings
    warnings: int
    rejected: int

    @property
    def rejection_rate(self) -> float | None:
        answered = self.accepted + self.rejected
        return self.rejected / answered if answered else None


def transport_label() -> str:
    """How messages leave this system, for the top of the view."""
    settings = get_settings()
    if settings.iis_transport == 'mllp':
        return f'Sent to the registry over MLLP ({settings.iis_mllp_host}:{settings.iis_mllp_port}).'
    if settings.iis_transport == 'soap':
        return 'Sent to the registry\'s web service (SOAP).'
    return ('No registry connection is configured: messages wait for the batch file '
            '(python main.py iis-export).')


def location_registry(*, principal: Principal, location_id: int | None = None) -> LocationRegistry:
    """The registry view of one location (the principal's own unless a state admin names another)."""
    require(principal, Action.VIEW_REPORTS)
    with session_scope(read_only=True) as session:
        location = fetch(session, Location, location_id or principal.location_id, principal=principal,
                         action=str(Action.VIEW_REPORTS))
        here = col(RegistryMessage.location_id) == location.id
        counts = {status.value: 0 for status in RegistryStatus}
        for status, count in session.exec(select(RegistryMessage.status, func.count()).where(here)
                                          .where(col(RegistryMessage.resent_as_id).is_(None))
                                          .group_by(col(RegistryMessage.status))):
            counts[status] = count
        exported = session.exec(select(func.count()).select_from(RegistryMessage).where(here).where(
            col(RegistryMessage.status).in_(WAITING_STATUSES), col(RegistryMessage.exported_at).is_not(None))).one()
        may_resend = _may_resend(principal, location.id)
        rejected = _problems(session, location, RegistryStatus.REJECTED, may_resend)
        retrying = _problems(session, location, RegistryStatus.RETRYING, False)
        return LocationRegistry(location_id=location.id or 0, location_name=location.name,
                                time_zone=location.time_zone, counts=counts,
                                exported=exported, rejected=rejected, retrying=retrying)


def state_backlog(*, principal: Principal) -> list[LocationBacklog]:
    """Every location the principal sees, with messages: waiting, accepted, with warnings, rejected."""
    require(principal, Action.VIEW_ALL_LOCATIONS)
    status = col(RegistryMessage.status)
    waiting = (status.in_(WAITING_STATUSES)) & col(RegistryMessage.exported_at).is_(None)
    with session_scope(read_only=True) as session:
        rows = session.exec(
            select(Location.id, Location.name, Location.code,
                   func.sum(case((waiting, 1), else_=0)),
                   func.sum(case((status.in_([RegistryStatus.ACCEPTED.value, RegistryStatus.WARNINGS.value]), 1),
                                 else_=0)),
                   func.sum(case((status == RegistryStatus.WARNINGS.value, 1), else_=0)),
                   func.sum(case((status == RegistryStatus.REJECTED.value, 1), else_=0)))
            .join(RegistryMessage, col(RegistryMessage.location_id) == col(Location.id))
            .where(visible(principal=principal, kind=Kind.LOCATION))
            .where(col(RegistryMessage.resent_as_id).is_(None))
            .group_by(col(Location.id), col(Location.name), col(Location.code)).order_by(col(Location.name))).all()
        return [LocationBacklog(location_id=r[0], location_name=r[1], code=r[2], waiting=int(r[3] or 0),
                                accepted=int(r[4] or 0), warnings=int(r[5] or 0), rejected=int(r[6] or 0))
                for r in rows]


def resend(*, principal: Principal, message_id: int) -> RegistryMessage:
    """Send a rejected message again, built anew from the records as they are now (the location fixed the person
    or the dose), with a new control id; the rejected one stays, pointing at its replacement."""
    require(principal, Action.CORRECT_VACCINATION)
    with session_scope() as session:
        message = session.get(RegistryMessage, message_id)
        if message is None:
            raise ServiceError('This registry message does not exist.')
        dose = fetch(session, Administration, message.administration_id, principal=principal,
                     action='resend_registry_message', health_data=True)
        require(principal, Action.CORRECT_VACCINATION, location_id=dose.location_id, check_location=True)
        if message.status != RegistryStatus.REJECTED or message.resent_as_id is not None:
            raise ServiceError('Only a rejected message that was not sent again can be resent.')
        if dose.voided and message.action != RegistryAction.DELETE:
            raise ServiceError('This record was voided or corrected since: the registry was sent that change as '
                               'its own message.')
        again = reporting.queue_dose_event(session, administration_id=dose.id or 0,
                                           action=RegistryAction(message.action))
        message.resent_as_id = again.id
        session.add(message)
        return again


def _may_resend(principal: Principal, location_id: int | None) -> bool:
    return can(principal, Action.CORRECT_VACCINATION) and works_at(principal, location_id)


def _problems(session: Session, location: Location, status: RegistryStatus, may_resend: bool
              ) -> list[ProblemMessage]:
    rows = session.exec(
        select(RegistryMessage, Administration, Recipient.first_name, Recipient.last_name, Product.name)
        .join(Administration, col(Administration.id) == col(RegistryMessage.administration_id))
        .join(Recipient, col(Recipient.id) == col(Administration.recipient_id))
        .join(Product, col(Product.id) == col(Administration.product_id))
        .where(col(RegistryMessage.location_id) == location.id, col(RegistryMessage.status) == status.value,
               col(RegistryMessage.resent_as_id).is_(None))
        .order_by(col(RegistryMessage.id).desc()).limit(SHOWN)).all()
    problems = []
    for message, dose, first, last, product in rows:
        rejected = status == RegistryStatus.REJECTED
        problems.append(ProblemMessage(
            message_id=message.id or 0, administration_id=dose.id or 0, recipient_name=f'{first} {last}',
            product_name=product, given_on=local_date(dose.administered_at, location),
            event=EVENTS.get(RegistryAction(message.action), message.action), status=message.status,
            reason=(message.ack_text if rejected else message.last_error) or '',
            at=message.answered_at if rejected else message.next_attempt_at,
            may_resend=may_resend and (not dose.voided or message.action == RegistryAction.DELETE)))
    return problems

