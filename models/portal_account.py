from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from .base import utcnow


class PortalAccount(SQLModel, table=True):
    """A recipient's login: one per email address, holding every recipient of that household."""
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key='user.id', unique=True)
    email: str = Field(max_length=254, unique=True, index=True)
    language: str = Field(default='en', max_length=8)
    created_at: datetime = Field(default_factory=utcnow)


class PortalAccountPublic(SQLModel):
    id: int
    user_id: int
    email: str
    language: str
