"""What the help desk did to recipient records: records marked inactive, and records merged into another."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from .base import utcnow


class InactiveRecipient(SQLModel, table=True):
    """A recipient the help desk marked inactive: kept (their doses are part of the record) but gone from every list
    and search (services.recipients.visibility.listed). A table of its own, so the million-row recipient table and
    its bulk loader stay as they are; lists read it as a small NOT IN."""
    recipient_id: int = Field(foreign_key='recipient.id', primary_key=True, sa_column_kwargs={'autoincrement': False})
    location_id: int | None = Field(default=None, index=True)  # the location's total leaves them out
    at: datetime = Field(default_factory=utcnow)
    reason: str = Field(sa_type=Text)
    case_id: int | None = None  # the help desk case it answered (no foreign key: cases are another area's)
    by_user_id: int | None = None
    by_email: str = Field(default='', max_length=254)


class RecipientMerge(SQLModel, table=True):
    """One record of a person merged into another of the same person: who the merged-away record was (its fields as
    they stood), what moved to the survivor, why, by whom. No foreign keys: it outlives both records' ids."""
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    source_id: int = Field(index=True)  # the record merged away (deleted)
    survivor_id: int = Field(index=True)
    source_json: str = Field(sa_type=Text)  # the merged-away record's fields
    moved_json: str = Field(sa_type=Text)  # {'administrations': [ids], 'appointments': [ids], ...}
    same_person: str = Field(default='', max_length=300)  # why the two records are one person
    reason: str = Field(sa_type=Text)
    case_id: int | None = None
    by_user_id: int | None = None
    by_email: str = Field(default='', max_length=254)
