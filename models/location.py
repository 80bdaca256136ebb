from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from .base import utcnow


class LocationBase(SQLModel):
    name: str = Field(max_length=200)
    code: str = Field(max_length=32, unique=True, index=True)
    address_line1: str = Field(default='', max_length=200)
    city: str = Field(default='', max_length=100)
    county: str = Field(default='', max_length=100)
    state: str = Field(default='NC', max_length=2)
    zip_code: str = Field(default='', max_length=10)
    time_zone: str = Field(default='', max_length=64)  # IANA name; '' follows the state's (CVMS_STATE_TIME_ZONE)
    # Comma-separated storage the site can hold: refrigerated, frozen, ultra_cold.
    storage_capabilities: str = Field(default='refrigerated', max_length=64)


class Location(LocationBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key='organization.id', index=True)
    created_at: datetime = Field(default_factory=utcnow)


class LocationCreate(LocationBase):
    organization_id: int


class LocationPublic(LocationBase):
    id: int
    organization_id: int
