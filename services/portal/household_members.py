"""A portal account's household: its people, their language, adding a dependent."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from models import PortalAccount, Recipient, RecipientSource
from services.core import audit
from services.core.db import session_scope
from services.core.errors import NotFound
from services.core.i18n import normalize_language
from services.permissions import Action, Kind, fetch, require, scope
from services.principal import Principal
from services.recipients.registry import create_recipient
from services.recipients.visibility import listed

# ---------------------------------------------------------------- account, language, household

@dataclass(frozen=True)
class HouseholdMember:
    id: int
    first_name: str
    last_name: str
    date_of_birth: date

    @property
    def name(self) -> str:
        return f'{self.first_name} {self.last_name}'


def _account(session: Session, principal: Principal) -> PortalAccount:
    require(principal, Action.USE_PORTAL)
    account = session.get(PortalAccount, principal.portal_account_id) if principal.portal_account_id else None
    if account is None:
        raise NotFound('No portal account is linked to this login.')
    return account


def language_of(*, principal: Principal) -> str:
    with session_scope(read_only=True) as session:
        return normalize_language(_account(session, principal).language)


def set_language(*, principal: Principal, lang: str) -> str:
    lang = normalize_language(lang)
    with session_scope() as session:
        account = _account(session, principal)
        account.language = lang
        session.add(account)
    return lang


def household(*, principal: Principal) -> list[HouseholdMember]:
    with session_scope(read_only=True) as session:
        _account(session, principal)
        people = session.exec(scope(select(Recipient), principal=principal, kind=Kind.RECIPIENT).where(listed())
                              .order_by(col(Recipient.id))).all()
        return [HouseholdMember(p.id or 0, p.first_name, p.last_name, p.date_of_birth) for p in people]


def _recipient(session: Session, principal: Principal, recipient_id: int) -> Recipient:
    """A member of the principal's household (permissions: a recipient sees their household only)."""
    require(principal, Action.USE_PORTAL)
    return fetch(session, Recipient, recipient_id, principal=principal, action='use_portal')


def add_dependent(*, principal: Principal, first_name: str, last_name: str, date_of_birth: date | str | None,
                  lang: str = 'en') -> int:
    """Add a family member (a child, a parent in one's care) to the account holder's household; the date of birth
    as typed (MM/DD/YYYY) or a date."""
    with session_scope() as session:
        account = _account(session, principal)
        recipient = create_recipient(session=session, values={'first_name': first_name, 'last_name': last_name,
                                                              'date_of_birth': date_of_birth, 'email': account.email},
                                     source=RecipientSource.SELF_REGISTRATION, portal_account_id=account.id,
                                     created_by_user_id=principal.user_id, lang=lang)
        audit.record(session, action='portal_dependent_added', actor=principal, entity_type='recipient',
                     entity_id=recipient.id)
        return recipient.id or 0


