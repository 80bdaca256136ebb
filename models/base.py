"""Shared column helpers and vocabularies (enums) used by several tables."""
from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum


def utcnow() -> datetime:
    """Aware UTC; SQLModel's UTCDateTime stores it the same way on SQLite and PostgreSQL."""
    return datetime.now(UTC)


class Role(StrEnum):
    STATE_ADMIN = 'state_admin'
    LOCATION_MANAGER = 'location_manager'
    HEALTHCARE_PROVIDER = 'healthcare_provider'
    EMPLOYER = 'employer'
    RECIPIENT = 'recipient'

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.STATE_ADMIN: 'State Admin',
    Role.LOCATION_MANAGER: 'Location Manager',
    Role.HEALTHCARE_PROVIDER: 'Healthcare Provider',
    Role.EMPLOYER: 'Employer',
    Role.RECIPIENT: 'Recipient',
}


class OrganizationKind(StrEnum):
    PROVIDER = 'provider'
    EMPLOYER = 'employer'


class EnrollmentStatus(StrEnum):
    PENDING = 'pending'
    APPROVED = 'approved'
    SUSPENDED = 'suspended'


class RecipientSource(StrEnum):
    BULK_UPLOAD = 'bulk_upload'
    POINT_OF_CARE = 'point_of_care'
    SELF_REGISTRATION = 'self_registration'
    EMPLOYER_INVITATION = 'employer_invitation'
