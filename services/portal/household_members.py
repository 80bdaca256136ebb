"""A portal account's household: its people, their language, adding a dependent."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from models import PortalAccount, Recipient, RecipientSource
from services.core import audit
from services.core.db import session_scope
from services.core.errors import NotFound, ValidationFailed
from services.core.i18n import marked as _
from services.core.i18n import normalize_language, translator
from services.permissions import Action, fetch, require
from services.principal import Principal
from services.recipients.identity import fold, identity_key

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


def language_of(principal: Principal) -> str:
    with session_scope() as session:
        return normalize_language(_account(session, principal).language)


def set_language(principal: Principal, lang: str) -> str:
    lang = normalize_language(lang)
    with session_scope() as session:
        account = _account(session, principal)
        account.language = lang
        session.add(account)
    return lang


def household(principal: Principal) -> list[HouseholdMember]:
    with session_scope() as session:
        account = _account(session, principal)
        people = session.exec(select(Recipient).where(Recipient.portal_account_id == account.id)
                              .order_by(col(Recipient.id))).all()
        return [HouseholdMember(p.id or 0, p.first_name, p.last_name, p.date_of_birth) for p in people]


def _recipient(session: Session, principal: Principal, recipient_id: int) -> Recipient:
    """A member of the principal's household (permissions: a recipient sees their household only)."""
    require(principal, Action.USE_PORTAL)
    return fetch(session, Recipient, recipient_id, principal=principal, action='use_portal')


def check_name(value: str, label: str, lang: str) -> str:
    _t = translator(lang)
    value = ' '.join(value.split())
    if not value:
        raise ValidationFailed(_t('{field} is required.').format(field=_t(label)))
    if len(value) > 80 or any(not (ch.isalnum() or ch in " -'’.") for ch in value):
        raise ValidationFailed(_t('{field}: use letters, spaces, hyphens, apostrophes and periods only.')
                               .format(field=_t(label)))
    return value


def check_birth_date(value: date | None, lang: str) -> date:
    if value is None or value > date.today() or value.year < 1900:
        _t = translator(lang)
        raise ValidationFailed(_t('Enter a real date of birth (MM/DD/YYYY).'))
    return value


def _new_recipient(session: Session, *, first_name: str, last_name: str, date_of_birth: date, email: str,
                   account_id: int | None, source: str, created_by: int | None, lang: str) -> Recipient:
    key = identity_key(first_name, last_name, date_of_birth)
    if session.exec(select(Recipient.id).where(Recipient.identity_key == key)).first() is not None:
        _t = translator(lang)
        raise ValidationFailed(_t('A person with this name and date of birth is already registered. If this is you, '
                                  'use the email from your vaccine provider or "Forgot password?".'))
    recipient = Recipient(first_name=first_name, last_name=last_name, date_of_birth=date_of_birth, email=email,
                          identity_key=key, first_name_key=fold(first_name), last_name_key=fold(last_name),
                          source=source, portal_account_id=account_id, created_by_user_id=created_by)
    session.add(recipient)
    session.flush()
    return recipient


def add_dependent(principal: Principal, *, first_name: str, last_name: str, date_of_birth: date | None,
                  lang: str = 'en') -> int:
    """Add a family member (a child, a parent in one's care) to the account holder's household."""
    first_name = check_name(first_name, _('First name'), lang)
    last_name = check_name(last_name, _('Last name'), lang)
    born = check_birth_date(date_of_birth, lang)
    with session_scope() as session:
        account = _account(session, principal)
        recipient = _new_recipient(session, first_name=first_name, last_name=last_name, date_of_birth=born,
                                   email=account.email, account_id=account.id, source=RecipientSource.SELF_REGISTRATION,
                                   created_by=principal.user_id, lang=lang)
        audit.record(session, action='portal_dependent_added', actor=principal, entity_type='recipient',
                     entity_id=recipient.id)
        return recipient.id or 0


