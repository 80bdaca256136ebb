from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from .base import EnrollmentStatus, OrganizationKind, utcnow


class OrganizationBase(SQLModel):
    name: str = Field(max_length=200)
    kind: str = Field(default=OrganizationKind.PROVIDER, sa_type=String(16))
    provider_pin: str | None = Field(default=None, max_length=20, unique=True)
    enrollment_status: str = Field(default=EnrollmentStatus.PENDING, sa_type=String(16))
    # CDC Supplemental COVID-19 Vaccine Redistribution Agreement signed: allows transfers between locations.
    redistribution_agreement: bool = False


class Organization(OrganizationBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)


class OrganizationCreate(OrganizationBase):
    pass


class OrganizationPublic(OrganizationBase):
    id: int
