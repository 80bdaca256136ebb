"""The help desk: cases (VACHCP numbers), their conversation and attachments, and the number counter."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, LargeBinary, Text
from sqlmodel import Field, SQLModel

from .base import utcnow


class Case(SQLModel, table=True):
    """One request to the state help desk, from its intake to its closing (services/helpdesk/cases.py)."""
    __tablename__ = 'helpdesk_case'  # type: ignore[assignment]  # CASE is an SQL keyword
    # The queue: open cases of a group, oldest first (services.helpdesk.cases.queue).
    __table_args__ = (Index('ix_helpdesk_case_state_group_created', 'state', 'assignment_group', 'created_at'),)
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=16, unique=True)  # VACHCP + seven digits, from CaseCounter
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)
    request_type: str = Field(max_length=32)
    assignment_group: str = Field(max_length=64)
    priority: int = 3  # 1 Critical, 2 High, 3 Moderate, 4 Low
    state: str = Field(default='new', max_length=24)
    subject: str = Field(max_length=200)
    description: str = Field(default='', sa_type=Text)
    fields_json: str = Field(default='{}', sa_type=Text)  # the request type's own fields (VFC Pin, Organization...)
    language: str = Field(default='en', max_length=8)  # the language the requester wrote in (emails to them)
    # Who asked: an account (staff, support portal user, recipient) or, for the public recipient form, a name and
    # an email only. The name and email are kept as given: the answer goes there.
    requester_user_id: int | None = Field(default=None, foreign_key='user.id', index=True)
    requester_name: str = Field(default='', max_length=200)
    requester_email: str = Field(default='', max_length=254, index=True)
    organization_id: int | None = Field(default=None, foreign_key='organization.id', index=True)
    organization_name: str = Field(default='', max_length=200)  # as typed, or the organization's name
    location_id: int | None = Field(default=None, foreign_key='location.id')
    unregistered_provider: bool = False  # registered on the support portal with the generic code
    assigned_user_id: int | None = Field(default=None, foreign_key='user.id', index=True)
    # A removal case's person: no foreign key, the case outlives a removed record.
    recipient_id: int | None = Field(default=None, index=True)
    resolution_notes: str = Field(default='', sa_type=Text)
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    bulk_upload_id: int | None = Field(default=None, foreign_key='bulkupload.id', index=True)
    # The key in the requester's links: people without an account (the public recipient form) open their case
    # with it. It reads this one case and adds to its conversation, nothing more.
    view_key: str = Field(default='', max_length=64)


class CaseCounter(SQLModel, table=True):
    """The last case number given. One row, id 1: incremented in the unit of work that opens a case, so numbers are
    unique and without gaps (a rolled-back case gives its number back) on SQLite and PostgreSQL alike."""
    id: int = Field(default=1, primary_key=True, sa_column_kwargs={'autoincrement': False})
    last_number: int = 0


class CaseEntry(SQLModel, table=True):
    """One line of a case's history: a comment (both sides see it), an internal note (agents only) or an event
    (state change, assignment, resolution) shown in the conversation."""
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key='helpdesk_case.id', index=True)
    created_at: datetime = Field(default_factory=utcnow)
    kind: str = Field(max_length=16)  # comment | note | event
    author_user_id: int | None = Field(default=None, foreign_key='user.id')
    author_name: str = Field(default='', max_length=200)
    from_requester: bool = False
    body: str = Field(sa_type=Text)


class CaseAttachment(SQLModel, table=True):
    """A file of a case (the requester's upload, or BulkError.csv of a load on their behalf), in the database as
    the outbox keeps its attachments: every instance can serve it."""
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key='helpdesk_case.id', index=True)
    created_at: datetime = Field(default_factory=utcnow)
    filename: str = Field(max_length=200)  # shown and offered as the download's name; never a path
    content_type: str = Field(default='application/octet-stream', max_length=100)
    size: int = 0
    data: bytes = Field(sa_type=LargeBinary)
    uploaded_by: str = Field(default='', max_length=254)
    from_requester: bool = False
    internal: bool = False  # agents only
