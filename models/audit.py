from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from .base import utcnow


class AuditEvent(SQLModel, table=True):
    """Who did what, when, to which record, from where. Rows are only ever added."""
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor_user_id: int | None = Field(default=None, index=True)  # no FK: the trail outlives accounts
    actor_email: str | None = Field(default=None, max_length=254)
    action: str = Field(max_length=64, index=True)
    entity_type: str | None = Field(default=None, max_length=64)
    entity_id: str | None = Field(default=None, max_length=64)
    detail: str = Field(default='')
    client_ip: str | None = Field(default=None, max_length=64)


class AuditEventPublic(SQLModel):
    id: int
    at: datetime
    actor_email: str | None
    action: str
    entity_type: str | None
    entity_id: str | None
    detail: str
    client_ip: str | None
