"""The loaded-recipients list (Bulk Registration and Recipient tabs) and removal requests.

Search matches the start of the first or the last name through the indexed, case-folded name keys (range
conditions, so the index answers at a million recipients); pages come sorted on an indexed column."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, or_
from sqlmodel import col, select

from models import Location, Recipient, Role
from models.bulk import RemovalRequest

from . import audit
from .db import session_scope
from .errors import NotFound, ValidationFailed
from .identity import fold
from .permissions import Action, can, can_access_recipient, require
from .principal import Principal

SORTS = {'first_name': Recipient.first_name_key, 'last_name': Recipient.last_name_key,
         'date_of_birth': Recipient.date_of_birth, 'email': Recipient.email}
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class RecipientRow:
    id: int
    first_name: str
    last_name: str
    date_of_birth: str  # as the guide shows it: Jan 1, 1990
    email: str
    location: str


@dataclass(frozen=True)
class RecipientPage:
    total: int  # everyone in this list
    matching: int  # everyone the search matches
    rows: list[RecipientRow]


def _scope(principal: Principal, query, location_id: int | None):  # noqa: ANN001, ANN202
    """Location staff: their location. Employers: their invitees. State admins: everyone (or one location)."""
    if principal.role == Role.STATE_ADMIN:
        return query.where(Recipient.location_id == location_id) if location_id else query
    if principal.role == Role.EMPLOYER:
        return query.where(Recipient.organization_id == principal.organization_id)
    return query.where(Recipient.location_id == principal.location_id)


def _prefix(column, word: str):  # noqa: ANN001, ANN202
    """`column` starts with `word`, as an index range: word <= column < word with its last character + 1."""
    upper = word[:-1] + chr(ord(word[-1]) + 1)
    return and_(column >= word, column < upper)


def search_condition(text: str):  # noqa: ANN201
    """One word: first or last name starts with it. Two or more: first and last name (either order)."""
    words = [w[:80] for w in fold(text).split()]
    if not words:
        return None
    first, last = col(Recipient.first_name_key), col(Recipient.last_name_key)
    if len(words) == 1:
        return or_(_prefix(first, words[0]), _prefix(last, words[0]))
    head, tail = words[0], ' '.join(words[1:])
    return or_(and_(_prefix(first, head), _prefix(last, tail)), and_(_prefix(last, head), _prefix(first, tail)),
               _prefix(first, ' '.join(words)), _prefix(last, ' '.join(words)))


def _require_list(principal: Principal) -> None:
    if not (can(principal, Action.VIEW_RECIPIENTS) or can(principal, Action.BULK_UPLOAD)):
        require(principal, Action.VIEW_RECIPIENTS)


def list_recipients(principal: Principal, *, search: str = '', sort: str = 'last_name', descending: bool = False,
                    page: int = 1, per_page: int = 25, location_id: int | None = None) -> RecipientPage:
    _require_list(principal)
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, page)
    order = SORTS.get(sort, Recipient.last_name_key)
    with session_scope() as session:
        total = session.exec(_scope(principal, select(func.count()).select_from(Recipient), location_id)).one()
        condition = search_condition(search)
        matching = total
        query = _scope(principal, select(Recipient, Location.name).outerjoin(
            Location, col(Location.id) == col(Recipient.location_id)), location_id)
        if condition is not None:
            matching = session.exec(_scope(principal, select(func.count()).select_from(Recipient), location_id)
                                    .where(condition)).one()
            query = query.where(condition)
        ordering = [col(order).desc(), col(Recipient.id).desc()] if descending else [col(order), col(Recipient.id)]
        rows = session.exec(query.order_by(*ordering).offset((page - 1) * per_page).limit(per_page)).all()
        return RecipientPage(total=total, matching=matching, rows=[
            RecipientRow(id=r.id or 0, first_name=r.first_name, last_name=r.last_name,
                         date_of_birth=f'{r.date_of_birth:%b} {r.date_of_birth.day}, {r.date_of_birth.year}',
                         email=r.email or '', location=name or '') for r, name in rows])


def request_removal(principal: Principal, recipient_id: int, reason: str) -> int:
    """Loaded recipients cannot be deleted; this opens a request state admins work through."""
    require(principal, Action.REQUEST_RECIPIENT_REMOVAL) if principal.role != Role.EMPLOYER \
        else require(principal, Action.BULK_UPLOAD)
    reason = reason.strip()
    if len(reason) < 5:
        raise ValidationFailed('Say why this recipient should be removed (at least a few words).')
    with session_scope() as session:
        recipient = session.get(Recipient, recipient_id)
        if recipient is None or not can_access_recipient(principal, location_id=recipient.location_id,
                                                         organization_id=recipient.organization_id,
                                                         portal_account_id=recipient.portal_account_id):
            raise NotFound('No such recipient in your list.')
        existing = session.exec(select(RemovalRequest.id).where(RemovalRequest.recipient_id == recipient_id)
                                .where(RemovalRequest.status == 'open')).first()
        if existing is not None:
            raise ValidationFailed('A removal request for this recipient is already open.')
        request = RemovalRequest(recipient_id=recipient_id, location_id=recipient.location_id,
                                 organization_id=recipient.organization_id, requested_by_user_id=principal.user_id,
                                 requested_by_email=principal.email, reason=reason[:2000])
        session.add(request)
        session.flush()
        audit.record(session, action='recipient_removal_requested', actor=principal, entity_type='recipient',
                     entity_id=recipient_id, detail=f'request={request.id}: {reason[:500]}')
        return request.id or 0


def open_removal_requests(principal: Principal) -> list[RemovalRequest]:
    """For the help-desk queue (state admins)."""
    require(principal, Action.VIEW_ALL_LOCATIONS)
    with session_scope() as session:
        return list(session.exec(select(RemovalRequest).where(RemovalRequest.status == 'open')
                                 .order_by(col(RemovalRequest.id))))
