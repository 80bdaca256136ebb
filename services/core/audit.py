"""The audit trail: one AuditEvent row per security- or data-relevant action."""
from __future__ import annotations

from sqlmodel import Session, select

from models import AuditEvent, AuditEventPublic
from services.principal import Principal


def record(session: Session, *, action: str, actor: Principal | None = None, actor_email: str | None = None,
           entity_type: str | None = None, entity_id: object = None, detail: str = '',
           client_ip: str | None = None) -> None:
    """Add an audit row to the caller's unit of work (it commits or rolls back with the change itself)."""
    session.add(AuditEvent(
        actor_user_id=actor.user_id if actor else None,
        actor_email=actor.email if actor else actor_email,
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        detail=detail[:4000],
        client_ip=client_ip or (actor.client_ip if actor else None),
    ))


def recent(session: Session, *, limit: int = 200, action: str | None = None) -> list[AuditEventPublic]:
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)  # type: ignore[union-attr]
    if action:
        query = query.where(AuditEvent.action == action)
    return [AuditEventPublic.model_validate(e, from_attributes=True) for e in session.exec(query)]
