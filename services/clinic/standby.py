"""The stand-by list: people called when doses would otherwise go to waste."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from models import Recipient, utcnow
from models.clinic import (
    StandbyEntry,
)
from services.core.db import session_scope
from services.core.errors import ValidationFailed
from services.core.localtime import as_utc
from services.permissions import Action, Kind, fetch, require, scope
from services.principal import Principal
from services.recipients.fields import email_address_problem, phone_problem

# ---------------------------------------------------------------- end of day, stand-by list

@dataclass(frozen=True)
class StandbyPublic:
    id: int
    full_name: str
    phone: str
    email: str | None
    note: str
    status: str
    created_at: datetime


def add_to_standby(*, principal: Principal, full_name: str, phone: str, email: str = '', note: str = '',
                   recipient_id: int | None = None) -> StandbyPublic:
    require(principal, Action.MANAGE_APPOINTMENTS, location_id=principal.location_id, check_location=True)
    if not full_name.strip():
        raise ValidationFailed('Enter the person\'s name.')
    if not phone.strip():
        raise ValidationFailed('Enter a 10-digit phone number so the person can be called at short notice.')
    if problem := phone_problem(' '.join(phone.split())):
        raise ValidationFailed(problem.text())
    if problem := email_address_problem(email.strip()):
        raise ValidationFailed(problem.text())
    with session_scope() as session:
        if recipient_id is not None:
            fetch(session, Recipient, recipient_id, principal=principal, action='add_to_standby')
        entry = StandbyEntry(location_id=principal.location_id or 0, recipient_id=recipient_id,
                             full_name=' '.join(full_name.split())[:200], phone=phone.strip()[:32],
                             email=email.strip().lower() or None, note=note.strip()[:300],
                             created_by_user_id=principal.user_id)
        session.add(entry)
        session.flush()
        return _standby_public(entry)


def standby_list(*, principal: Principal) -> list[StandbyPublic]:
    require(principal, Action.MANAGE_APPOINTMENTS, location_id=principal.location_id, check_location=True)
    with session_scope(read_only=True) as session:
        query = scope(select(StandbyEntry), principal=principal, kind=Kind.STANDBY_ENTRY)
        rows = session.exec(query.where(StandbyEntry.status != 'removed').order_by(col(StandbyEntry.created_at))).all()
        return [_standby_public(r) for r in rows]


def update_standby(*, principal: Principal, entry_id: int, status: str) -> None:
    require(principal, Action.MANAGE_APPOINTMENTS, location_id=principal.location_id, check_location=True)
    with session_scope() as session:
        entry = fetch(session, StandbyEntry, entry_id, principal=principal, action='update_standby')
        if status not in ('waiting', 'called', 'removed'):
            raise ValidationFailed('Unknown stand-by status.')
        entry.status = status
        if status == 'called':
            entry.called_at = utcnow()
        session.add(entry)


def _standby_public(entry: StandbyEntry) -> StandbyPublic:
    return StandbyPublic(id=entry.id or 0, full_name=entry.full_name, phone=entry.phone, email=entry.email,
                         note=entry.note, status=entry.status, created_at=as_utc(entry.created_at))


