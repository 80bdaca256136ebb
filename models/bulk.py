"""Bulk Registration: uploaded files and their processing state, the rows that failed, removal requests."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, Text
from sqlmodel import Field, SQLModel

from .base import utcnow


class BulkUpload(SQLModel, table=True):
    """One uploaded recipient file. Its state and progress live here (and the file itself in BulkUploadFile, where
    every worker can read it), so a job whose worker stops resumes from its last committed chunk, anywhere."""
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    mode: str = Field(default='high', max_length=8)  # low | high | cli
    status: str = Field(default='queued', max_length=16, index=True)  # queued | running | done | rejected | failed
    file_name: str = Field(max_length=255)  # shown to people only; never used to build a path
    file_size: int = 0
    location_id: int | None = Field(default=None, foreign_key='location.id', index=True)
    organization_id: int | None = Field(default=None, foreign_key='organization.id', index=True)
    recipient_source: str = Field(default='bulk_upload', max_length=24)
    uploaded_by_user_id: int | None = Field(default=None, foreign_key='user.id')
    uploaded_by_email: str = Field(default='', max_length=254)
    header_json: str = Field(default='[]', sa_type=Text)  # the file's own column names, for BulkError.csv
    encoding: str = Field(default='utf-8', max_length=16)
    total_rows: int = 0
    rows_done: int = 0  # records processed, committed together with the recipients they created
    last_line: int = 1  # the spreadsheet line of the last processed record (1 = the header)
    loaded: int = 0
    failed: int = 0
    message: str = Field(default='', sa_type=Text)  # a refusal, a notice (ignored columns) or a crash
    started_at: datetime | None = None
    # Set when a runner takes the job and with every chunk it commits: on SQLite, a running job silent for longer
    # than the lease (its process died) is taken over; on PostgreSQL the job engine decides, this only reports.
    heartbeat_at: datetime | None = None
    finished_at: datetime | None = None


class BulkUploadFile(SQLModel, table=True):
    """The bytes of a High Volume file until its job is done, in the database so any worker can read them
    (at most CVMS_BULK_MAX_FILE_MB, checked before storing)."""
    upload_id: int = Field(foreign_key='bulkupload.id', primary_key=True, sa_column_kwargs={'autoincrement': False})
    data: bytes = Field(sa_type=LargeBinary)


class BulkUploadError(SQLModel, table=True):
    """A record that failed, with its original values, so BulkError.csv can be written at any time."""
    id: int | None = Field(default=None, primary_key=True)
    upload_id: int = Field(foreign_key='bulkupload.id', index=True)
    line: int
    values_json: str = Field(sa_type=Text)
    error: str = Field(sa_type=Text)


class RemovalRequest(SQLModel, table=True):
    """A location's request that state admins remove a loaded recipient (loaded recipients cannot be deleted)."""
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    recipient_id: int = Field(foreign_key='recipient.id', index=True)
    location_id: int | None = Field(default=None, foreign_key='location.id', index=True)
    organization_id: int | None = Field(default=None, foreign_key='organization.id')
    requested_by_user_id: int | None = Field(default=None, foreign_key='user.id')
    requested_by_email: str = Field(default='', max_length=254)
    reason: str = Field(sa_type=Text)
    status: str = Field(default='open', max_length=16, index=True)  # open | done | declined
    resolved_at: datetime | None = None
    resolved_by_user_id: int | None = None


class RecipientCount(SQLModel, table=True):
    """How many recipients each (location, organization) pair holds, kept by database triggers on `recipient`
    (migration 0007), so "Total number of records" is a sum over a few rows instead of a count of a million.
    0 stands for "none" (employers' invitees have no location)."""
    location_id: int = Field(default=0, primary_key=True, sa_column_kwargs={'autoincrement': False})
    organization_id: int = Field(default=0, primary_key=True, sa_column_kwargs={'autoincrement': False})
    n: int = 0
