"""The Provider Enrollment Portal: a provider organization's Provider Agreement (draft, signatures, the state's
decisions), requests for an invitation, and the storage units of the locations an approved agreement created.

The agreement's answers stay one JSON document (`draft_json`) until the state approves it: only then do they
become Location rows. Status lives on the organization (Organization.enrollment_status), nowhere else."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from .base import utcnow


class Enrollment(SQLModel, table=True):
    """One provider organization's Provider Agreement, from the invitation to the state's decision."""
    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key='organization.id', unique=True)
    contact_email: str = Field(max_length=254)
    contact_user_id: int | None = Field(default=None, foreign_key='user.id', index=True)
    priority_group: str = Field(default='', max_length=16)  # a vaccine group code (the prioritization framework)
    invited_by_user_id: int | None = Field(default=None, foreign_key='user.id')
    invited_at: datetime = Field(default_factory=utcnow)
    step: int = 0  # where the form was left (Pause and resume)
    paused: bool = False
    draft_json: str = Field(default='{}', sa_type=Text)
    submitted_at: datetime | None = Field(default=None, index=True)  # the latest submission: the queue's order
    decided_at: datetime | None = None
    decided_by_user_id: int | None = Field(default=None, foreign_key='user.id')
    updated_at: datetime = Field(default_factory=utcnow)


class EnrollmentSignature(SQLModel, table=True):
    """A signature of the agreement's requirements: the officer typed their name and ticked every attestation.
    part: cmo (chief medical officer), ceo (chief executive officer) or redistribution (the supplemental agreement,
    signed by the CEO)."""
    __table_args__ = (UniqueConstraint('enrollment_id', 'part'),)
    id: int | None = Field(default=None, primary_key=True)
    enrollment_id: int = Field(foreign_key='enrollment.id', index=True)
    part: str = Field(sa_type=String(16))
    signer_name: str = Field(max_length=200)  # as typed
    signer_title: str = Field(default='', max_length=200)
    attestations: str = Field(default='[]', sa_type=Text)  # JSON list of the attestation keys ticked
    signed_at: datetime = Field(default_factory=utcnow)
    signed_by_user_id: int | None = Field(default=None, foreign_key='user.id')


class EnrollmentNote(SQLModel, table=True):
    """The conversation of a review: the state's return note, the provider's answer, a rejection's reason."""
    id: int | None = Field(default=None, primary_key=True)
    enrollment_id: int = Field(foreign_key='enrollment.id', index=True)
    kind: str = Field(sa_type=String(16))  # submitted | returned | answer | approved | rejected
    text: str = Field(default='', sa_type=Text)
    author_user_id: int | None = Field(default=None, foreign_key='user.id')
    created_at: datetime = Field(default_factory=utcnow)


class InvitationRequest(SQLModel, table=True):
    """A provider asks the state for an invitation (the public page, when the state opens it)."""
    id: int | None = Field(default=None, primary_key=True)
    organization_name: str = Field(max_length=200)
    contact_name: str = Field(max_length=200)
    email: str = Field(max_length=254)
    phone: str = Field(default='', max_length=32)
    message: str = Field(default='', sa_type=Text)
    status: str = Field(default='new', sa_type=String(16))  # new | invited | dismissed
    created_at: datetime = Field(default_factory=utcnow)


class EnrollmentSettings(SQLModel, table=True):
    """One row (id 1): whether providers may request an invitation on the public page."""
    id: int = Field(default=1, primary_key=True)
    invitation_requests_open: bool = False
    updated_at: datetime = Field(default_factory=utcnow)


class StorageUnit(SQLModel, table=True):
    """A storage unit of a location, from its approved agreement: type and capacity in doses."""
    id: int | None = Field(default=None, primary_key=True)
    location_id: int = Field(foreign_key='location.id', index=True)
    unit_type: str = Field(sa_type=String(16))  # refrigerator | freezer | ultra_cold
    capacity_doses: int = 0
