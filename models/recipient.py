from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, String
from sqlmodel import Field, SQLModel

from .base import RecipientSource, utcnow


class RecipientBase(SQLModel):
    first_name: str = Field(max_length=80)
    last_name: str = Field(max_length=80)
    date_of_birth: date
    email: str | None = Field(default=None, max_length=254, index=True)  # not unique: households share one
    phone: str | None = Field(default=None, max_length=32)
    sex: str | None = Field(default=None, max_length=16)
    address_line1: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    county: str | None = Field(default=None, max_length=100)
    state: str | None = Field(default=None, max_length=2)
    zip_code: str | None = Field(default=None, max_length=10)
    race: str | None = Field(default=None, max_length=64)
    ethnicity: str | None = Field(default=None, max_length=64)
    preferred_language: str | None = Field(default=None, max_length=8)


class Recipient(RecipientBase, table=True):
    # The loaded-recipients list of one location, at a million rows: search ranges and sorted pages straight from
    # an index (migration 0007). They also serve every `location_id = ?` look-up, so location_id has no index alone.
    __table_args__ = (Index('ix_recipient_location_last_name', 'location_id', 'last_name_key', 'first_name_key', 'id'),
                      Index('ix_recipient_location_first_name', 'location_id', 'first_name_key', 'last_name_key', 'id'),
                      Index('ix_recipient_location_email', 'location_id', 'email', 'id'))
    id: int | None = Field(default=None, primary_key=True)
    # first + last + date of birth, normalized in Python (services.identity): one person, one record, system-wide.
    identity_key: str = Field(max_length=400, unique=True)
    # Prefix indexes of every name search: the names folded (services.recipients.identity.fold: accents and case aside).
    last_name_key: str = Field(default='', max_length=80, index=True)
    first_name_key: str = Field(default='', max_length=80, index=True)
    location_id: int | None = Field(default=None, foreign_key='location.id')
    organization_id: int | None = Field(default=None, foreign_key='organization.id', index=True)
    source: str = Field(default=RecipientSource.BULK_UPLOAD, sa_type=String(24))
    portal_account_id: int | None = Field(default=None, foreign_key='portalaccount.id', index=True)
    created_by_user_id: int | None = Field(default=None, foreign_key='user.id')
    created_at: datetime = Field(default_factory=utcnow)


class RecipientCreate(RecipientBase):
    pass


class RecipientPublic(RecipientBase):
    id: int
    location_id: int | None
    organization_id: int | None
    source: str
    portal_account_id: int | None
