"""Employer portal and the state admin's approval of organizations and their users.

Employers invite their staff with the Bulk Registration screen (services.bulk_import); here: whether their
organization may invite (approved by the state), and the status of their invitations: invited or registered,
and totals. Never health data: no registration answers, no appointments, no doses."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from models import EnrollmentStatus, Organization, OrganizationKind, PortalAccount, Recipient, Role, User
from services.accounts.staff import approve_organization, set_enrollment_status
from services.core import audit
from services.core.db import session_scope
from services.core.errors import NotAllowed, NotFound
from services.permissions import Action, Kind, fetch, require, scope
from services.principal import Principal
from services.recipients.visibility import listed

INVITED, REGISTERED = 'Invited', 'Registered'


WAITING_FOR_APPROVAL = ('Your organization is waiting for approval by the state. You can invite employees once it '
                        'is approved.')


def _approved(session: Session, organization_id: int | None) -> bool:
    """An employer organization the state approved (an employer account in any other kind invites no one)."""
    organization = session.get(Organization, organization_id) if organization_id else None
    return (organization is not None and organization.kind == OrganizationKind.EMPLOYER
            and organization.enrollment_status == EnrollmentStatus.APPROVED)


def organization_approved(*, principal: Principal) -> bool:
    with session_scope(read_only=True) as session:
        return _approved(session, principal.organization_id)


def check_may_invite(session: Session, principal: Principal) -> None:
    """In the caller's unit of work (the bulk upload's): employers invite only once the state approved them."""
    require(principal, Action.INVITE_EMPLOYEES)
    if not _approved(session, principal.organization_id):
        raise NotAllowed(WAITING_FOR_APPROVAL)


def require_approved_employer(*, principal: Principal) -> None:
    with session_scope(read_only=True) as session:
        check_may_invite(session, principal)


@dataclass(frozen=True)
class Invitation:
    recipient_id: int
    name: str
    email: str
    invited_at: datetime
    status: str  # Invited | Registered (set up their portal login)


@dataclass(frozen=True)
class Invitations:
    rows: list[Invitation]
    invited: int
    registered: int


def invitations(*, principal: Principal, search: str = '', limit: int = 500) -> Invitations:
    """The people the employer invited (permissions: the recipient scope) with their status, newest first, and
    the totals."""
    require(principal, Action.VIEW_INVITATIONS)
    with session_scope(read_only=True) as session:
        query = scope(select(Recipient.id, Recipient.first_name, Recipient.last_name, Recipient.email,
                             Recipient.created_at, User.password_hash)
                      .outerjoin(PortalAccount, col(PortalAccount.id) == col(Recipient.portal_account_id))
                      .outerjoin(User, col(User.id) == col(PortalAccount.user_id)),
                      principal=principal, kind=Kind.RECIPIENT).where(listed())
        rows = []
        invited = registered = 0
        needle = search.strip().casefold()
        for rid, first, last, email, created_at, password_hash in session.exec(
                query.order_by(col(Recipient.created_at).desc(), col(Recipient.id).desc())):
            status = REGISTERED if password_hash else INVITED
            invited += 1
            registered += status == REGISTERED
            if len(rows) < limit and (not needle or needle in f'{first} {last} {email}'.casefold()):
                rows.append(Invitation(rid or 0, f'{first} {last}', email or '', created_at, status))
        return Invitations(rows, invited, registered)


# ---------------------------------------------------------------- the state admin's approvals

@dataclass(frozen=True)
class OrganizationRow:
    id: int
    name: str
    kind: str
    provider_pin: str
    status: str
    users: list[tuple[int, str, str, bool]]  # (user id, email, name, active)


def organizations(*, principal: Principal) -> list[OrganizationRow]:
    require(principal, Action.APPROVE_ORGANIZATIONS)
    with session_scope(read_only=True) as session:
        users: dict[int, list[tuple[int, str, str, bool]]] = {}
        for user in session.exec(select(User).where(col(User.organization_id).is_not(None))
                                 .where(User.role != Role.RECIPIENT).order_by(col(User.email))):
            users.setdefault(user.organization_id or 0, []).append((user.id or 0, user.email, user.full_name,
                                                                     user.is_active))
        return [OrganizationRow(o.id or 0, o.name, o.kind, o.provider_pin or '', o.enrollment_status,
                                users.get(o.id or 0, []))
                for o in session.exec(scope(select(Organization), principal=principal, kind=Kind.ORGANIZATION)
                                      .order_by(col(Organization.enrollment_status).desc(), col(Organization.name)))]


def approve(*, principal: Principal, organization_id: int) -> None:
    with session_scope() as session:
        approve_organization(session=session, principal=principal, organization_id=organization_id)


def suspend(*, principal: Principal, organization_id: int) -> None:
    with session_scope() as session:
        set_enrollment_status(session=session, principal=principal, organization_id=organization_id,
                              status=EnrollmentStatus.SUSPENDED)


def set_user_active(*, principal: Principal, user_id: int, active: bool) -> None:
    """Approve (activate) or disable an organization's user; a disabled user's sessions end at the next click."""
    require(principal, Action.APPROVE_ORGANIZATIONS)
    with session_scope() as session:
        user = session.get(User, user_id)
        if user is None or user.role in (Role.RECIPIENT, Role.STATE_ADMIN) or user.organization_id is None:
            raise NotFound('No such organization user.')
        fetch(session, Organization, user.organization_id, principal=principal,  # an account: through its organization
              action=str(Action.APPROVE_ORGANIZATIONS))
        user.is_active = active
        session.add(user)
        audit.record(session, action='user_approved' if active else 'user_disabled', actor=principal,
                     entity_type='user', entity_id=user_id)
