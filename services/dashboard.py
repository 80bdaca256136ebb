"""Figures each role's Home shows."""
from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, select

from models import Location, Organization, OutboxMessage, PortalAccount, Recipient, RecipientPublic, User
from services.core.db import session_scope
from services.permissions import Action, Kind, require, scope
from services.principal import Principal
from services.recipients.visibility import listed


def admin_summary(*, principal: Principal) -> dict[str, int]:
    require(principal, Action.VIEW_ALL_LOCATIONS)
    with session_scope(read_only=True) as session:
        def count(model, *where) -> int:  # noqa: ANN001
            query = select(func.count()).select_from(model)
            for condition in where:
                query = query.where(condition)
            return session.exec(query).one()
        return {
            'Organizations': count(Organization),
            # Provider Agreements waiting for the state's review (services/enrollment/review.py)
            'Pending enrollments': count(Organization, col(Organization.enrollment_status) == 'submitted'),
            'Locations': count(Location),
            'Users': count(User),
            'Recipients': count(Recipient),
            'Emails waiting in the outbox': count(OutboxMessage, col(OutboxMessage.status) == 'pending'),
        }


def employer_summary(*, principal: Principal) -> dict[str, int]:
    """The employer's invitations (permissions: the people they invited): how many, how many set up their login."""
    require(principal, Action.VIEW_INVITATIONS)
    with session_scope(read_only=True) as session:
        invited = session.exec(scope(select(func.count()).select_from(Recipient),
                                     principal=principal, kind=Kind.RECIPIENT)).one()
        registered = session.exec(scope(
            select(func.count()).select_from(Recipient)
            .join(PortalAccount, col(PortalAccount.id) == col(Recipient.portal_account_id))
            .join(User, col(User.id) == col(PortalAccount.user_id))
            .where(col(User.password_hash).is_not(None)), principal=principal, kind=Kind.RECIPIENT)).one()
        return {'Invited': invited, 'Registered': registered}


def household(*, principal: Principal) -> list[RecipientPublic]:
    require(principal, Action.USE_PORTAL)
    with session_scope(read_only=True) as session:
        people = session.exec(scope(select(Recipient), principal=principal, kind=Kind.RECIPIENT).where(listed())
                              .order_by(Recipient.id)).all()
        return [RecipientPublic.model_validate(p, from_attributes=True) for p in people]
