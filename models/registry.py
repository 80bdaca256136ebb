"""Immunization registry reporting: one HL7 v2.5.1 VXU message per dose event, kept with its registry answer."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String, Text
from sqlmodel import Field, SQLModel

from .base import utcnow


class RegistryAction(StrEnum):
    """RXA-21 action code (HL7 table 0206)."""
    ADD = 'A'
    UPDATE = 'U'
    DELETE = 'D'


class RegistryStatus(StrEnum):
    QUEUED = 'queued'
    ACCEPTED = 'accepted'
    WARNINGS = 'accepted_with_warnings'
    REJECTED = 'rejected'
    RETRYING = 'retrying'


class RegistryMessage(SQLModel, table=True):
    """A VXU for one dose event (recorded, corrected, voided), built in the transaction of the event from the record
    as it then was. `filler_order_id` (ORC-3) is the first record of the dose: a correction and a void name the
    dose the registry already holds."""
    id: int | None = Field(default=None, primary_key=True)
    administration_id: int = Field(foreign_key='administration.id', index=True)
    location_id: int = Field(foreign_key='location.id', index=True)
    filler_order_id: int
    action: str = Field(sa_type=String(1))
    control_id: str = Field(max_length=40, unique=True)  # MSH-10
    body: str = Field(sa_type=Text)
    status: str = Field(default=RegistryStatus.QUEUED, sa_type=String(24), index=True)
    created_at: datetime = Field(default_factory=utcnow)
    exported_at: datetime | None = Field(default=None, index=True)  # written to a batch file
    attempts: int = 0
    ack_code: str | None = Field(default=None, sa_type=String(2))  # MSA-1: AA, AE, AR
    ack_text: str | None = Field(default=None, max_length=2000)
