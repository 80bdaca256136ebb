"""Every dose event becomes a registry message in the transaction that records it: a dose recorded (RXA-21 A), a
dose corrected (U, naming the dose the registry already holds) and a dose voided (D). Messages are built from the
records as they then are, so what was reported can always be shown. The batch file (`main.py iis-export`) writes
those not yet exported, in FHS/BHS/BTS/FTS framing; sending over MLLP or SOAP comes with the registry transports."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlmodel import Session, col, select

from models import Location, Recipient, User, utcnow
from models.clinic import Administration
from models.inventory import Lot, Product
from models.registry import WAITING_STATUSES, RegistryAction, RegistryMessage, RegistryStatus
from services.core.db import session_scope
from services.core.errors import NotFound
from services.core.localtime import local_date, state_zone
from services.core.settings import get_settings
from services.permissions import Action, Kind, fetch, require, scope, visible
from services.principal import Principal
from services.registry import sending, vxu

ADULT_AGE = 18


@dataclass(frozen=True)
class ExportResult:
    path: Path
    messages: int
    locations: int


def queue_dose_event(session: Session, *, administration_id: int, action: RegistryAction) -> RegistryMessage:
    """Build and keep the message for a dose event, inside the caller's unit of work (the one recording the event,
    which checked the caller's right to it)."""
    dose = session.get(Administration, administration_id)
    if dose is None:
        raise NotFound('This vaccination record does not exist.')
    root = dose
    while root.corrects_administration_id is not None:  # a correction reports against the dose first reported
        earlier = session.get(Administration, root.corrects_administration_id)
        if earlier is None:
            break
        root = earlier
    now = utcnow()
    control_id = f'{get_settings().iis_sending_application[:8]}{uuid.uuid4().hex[:20]}'.upper()
    lot = session.get(Lot, dose.lot_id)
    event = vxu.DoseEvent(
        administration=dose, recipient=session.get(Recipient, dose.recipient_id), product=session.get(
            Product, dose.product_id), lot=lot, location=session.get(Location, dose.location_id),
        administered_by=session.get(User, dose.administered_by_user_id) if dose.administered_by_user_id else None,
        action=action, filler_order_id=root.id or 0, control_id=control_id, created_at=now,
        guardian=_guardian_of(session, recipient_id=dose.recipient_id, on=dose.administered_at))
    message = RegistryMessage(administration_id=dose.id or 0, location_id=dose.location_id,
                              filler_order_id=root.id or 0, action=action.value, control_id=control_id,
                              body=vxu.build(event), created_at=now)
    session.add(message)
    session.flush()
    sending.defer_send(session, message)
    return message


def _guardian_of(session: Session, *, recipient_id: int, on: datetime) -> Recipient | None:
    """The parent or guardian the registry is told of (NK1) when the person was a minor on the day of the dose:
    the oldest adult of their portal household (who registered the child). None for adults and for minors without
    a household (loaded by a provider), of whom we know no guardian."""
    person = session.get(Recipient, recipient_id)
    if person is None or person.portal_account_id is None:
        return None
    day = local_date(on)
    if _age(person.date_of_birth, day) >= ADULT_AGE:
        return None
    household = session.exec(select(Recipient).where(Recipient.portal_account_id == person.portal_account_id)
                             .where(col(Recipient.id) != person.id)
                             .order_by(col(Recipient.date_of_birth), col(Recipient.id))).all()
    return next((r for r in household if _age(r.date_of_birth, day) >= ADULT_AGE), None)


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def messages_for(*, principal: Principal, administration_id: int) -> list[RegistryMessage]:
    """The messages one dose produced, oldest first (for the registry view and the help desk)."""
    with session_scope(read_only=True) as session:
        fetch(session, Administration, administration_id, principal=principal, action=str(Action.VIEW_REPORTS),
              health_data=True)
        return list(session.exec(select(RegistryMessage).where(RegistryMessage.administration_id == administration_id)
                                 .order_by(col(RegistryMessage.id))).all())


def statuses_of(*, principal: Principal, administration_ids: list[int]) -> dict[int, str]:
    """The registry status label of each dose record's latest message (records the principal may see; a record
    without a message is left out), for lists of doses."""
    if not administration_ids:
        return {}
    with session_scope(read_only=True) as session:
        rows = session.exec(
            select(RegistryMessage.administration_id, RegistryMessage.status, RegistryMessage.exported_at)
            .join(Administration, col(Administration.id) == col(RegistryMessage.administration_id))
            .where(col(RegistryMessage.administration_id).in_(administration_ids))
            .where(col(RegistryMessage.resent_as_id).is_(None))
            .where(visible(principal=principal, kind=Kind.ADMINISTRATION))
            .order_by(col(RegistryMessage.id))).all()
        labels = {}
        for administration_id, status, exported_at in rows:  # the latest message of each record wins
            waiting = status in WAITING_STATUSES and exported_at is not None
            labels[administration_id] = 'In a batch file' if waiting else RegistryStatus(status).label
        return labels


def export_batch(*, principal: Principal, location_code: str, output: Path, include_exported: bool = False
                 ) -> ExportResult:
    """Write an HL7 batch file of the location's messages not yet exported (`include_exported`: all of them;
    location 'ALL': every location the principal may see) and mark them exported, in one unit of work: a file
    that could not be written leaves them to the next export."""
    require(principal, Action.VIEW_REPORTS)
    with session_scope() as session:
        query = select(RegistryMessage).order_by(col(RegistryMessage.id))
        if location_code.upper() != 'ALL':
            location = session.exec(select(Location).where(Location.code == location_code.strip().upper())).first()
            if location is None:
                raise NotFound(f'No location has the code {location_code}.')
            fetch(session, Location, location.id, principal=principal, action=str(Action.VIEW_REPORTS))
            query = query.where(RegistryMessage.location_id == location.id)
        else:
            query = query.join(Location, col(Location.id) == col(RegistryMessage.location_id)).where(
                col(Location.id).in_(scope(select(Location.id), principal=principal, kind=Kind.LOCATION)))
        if not include_exported:
            query = query.where(col(RegistryMessage.exported_at).is_(None))
        messages = list(session.exec(query).all())
        now = utcnow()
        output.write_text(batch_text([m.body for m in messages], now), encoding='utf-8', newline='')
        for message in messages:
            message.exported_at = now
            session.add(message)
        return ExportResult(path=output, messages=len(messages),
                            locations=len({m.location_id for m in messages}))


def batch_text(bodies: list[str], at: datetime) -> str:
    """FHS, BHS, the messages, BTS (message count) and FTS (batch count); segments ended by carriage returns."""
    settings = get_settings()
    stamp = at.astimezone(state_zone()).strftime('%Y%m%d%H%M%S%z')
    ends = (f'{settings.iis_sending_application}|{settings.iis_sending_facility}|'
            f'{settings.iis_receiving_application}|{settings.iis_receiving_facility}|{stamp}')
    lines = [f'FHS|^~\\&|{ends}', f'BHS|^~\\&|{ends}']
    text = vxu.SEGMENT_END.join(lines) + vxu.SEGMENT_END + ''.join(bodies)
    return text + f'BTS|{len(bodies)}{vxu.SEGMENT_END}FTS|1{vxu.SEGMENT_END}'
