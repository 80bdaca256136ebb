from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from .base import Role, utcnow


class UserBase(SQLModel):
    email: str = Field(max_length=254, unique=True, index=True)  # stored lower-cased
    full_name: str = Field(default='', max_length=200)
    role: str = Field(default=Role.RECIPIENT, sa_type=String(32))
    organization_id: int | None = Field(default=None, foreign_key='organization.id', index=True)
    location_id: int | None = Field(default=None, foreign_key='location.id', index=True)
    is_active: bool = True


class User(UserBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    password_hash: str | None = Field(default=None, max_length=255)  # None until the welcome link is used
    password_changed_at: datetime | None = None
    last_login_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class UserCreate(UserBase):
    pass


class UserPublic(UserBase):
    """What pages receive: never the password hash."""
    id: int
    location_name: str | None = None
    location_code: str | None = None
    organization_name: str | None = None
