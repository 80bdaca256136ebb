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

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]


_STATUS_LABELS = {
    RegistryStatus.QUEUED: 'Queued', RegistryStatus.ACCEPTED: 'Accepted',
    RegistryStatus.WARNINGS: 'Accepted with warnings', RegistryStatus.REJECTED: 'Rejected',
    RegistryStatus.RETRYING: 'Retrying',
}
# Still to be sent: a worker claims these (the others are the registry's final answer).
WAITING_STATUSES = (RegistryStatus.QUEUED.value, RegistryStatus.RETRYING.value)


class RegistryMessage(SQLModel, table=True):
    """A VXU for one dose event (recorded, corrected, voided), built in the transaction of the event from the record
    as it then was. `filler_order_id` (ORC-3) is the first record of the dose: a correction and a void name the
    dose the registry already holds."""
    id: int | None = Field(default=None, primary_key=True)
    administration_id: int = Field(foreign_key='administration.id', index=True)
    location_id: int = Field(foreign_key='location.id', index=True)
    filler_order_id: int = Field(index=True)  # messages of one dose go out in id order
    action: str = Field(sa_type=String(1))
    control_id: str = Field(max_length=40, unique=True)  # MSH-10
    body: str = Field(sa_type=Text)
    status: str = Field(default=RegistryStatus.QUEUED, sa_type=String(24), index=True)
    created_at: datetime = Field(default_factory=utcnow)
    exported_at: datetime | None = Field(default=None, index=True)  # written to a batch file
    attempts: int = 0
    ack_code: str | None = Field(default=None, sa_type=String(2))  # MSA-1: AA, AE, AR
    ack_text: str | None = Field(default=None, max_length=2000)  # the registry's answer in plain words
    # Sending (services/registry/sending.py): a worker claims a message until `claimed_until` (a lease: a dead
    # worker's claim expires and another worker takes the message); a registry out of reach means another try at
    # `next_attempt_at`.
    next_attempt_at: datetime | None = Field(default=None, index=True)
    claimed_by: str | None = Field(default=None, max_length=120)
    claimed_until: datetime | None = None
    answered_at: datetime | None = None
    last_error: str | None = Field(default=None, max_length=500)  # why the last try did not reach the registry
    ack_body: str | None = Field(default=None, sa_type=Text)  # the registry's answer as it came (help desk)
    resent_as_id: int | None = Field(default=None, foreign_key='registrymessage.id')  # a rejected one sent again
