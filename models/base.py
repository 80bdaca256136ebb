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
    ENROLLMENT_CONTACT = 'enrollment_contact'  # a provider organization's contact while it enrolls
    HELP_DESK_AGENT = 'help_desk_agent'  # state staff working the help desk's cases
    SUPPORT_USER = 'support_user'  # a provider registered on the support portal: opens and follows own cases

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.STATE_ADMIN: 'State Admin',
    Role.LOCATION_MANAGER: 'Location Manager',
    Role.HEALTHCARE_PROVIDER: 'Healthcare Provider',
    Role.EMPLOYER: 'Employer',
    Role.RECIPIENT: 'Recipient',
    Role.ENROLLMENT_CONTACT: 'Enrollment Contact',
    Role.HELP_DESK_AGENT: 'Help Desk Agent',
    Role.SUPPORT_USER: 'Support Portal User',
}


class OrganizationKind(StrEnum):
    PROVIDER = 'provider'
    EMPLOYER = 'employer'


class EnrollmentStatus(StrEnum):
    """A provider organization's way through the Provider Enrollment Portal (docs/states.md): invited ->
    in_progress -> submitted -> approved | returned (-> submitted again) | rejected; approved -> suspended.
    `pending` is an employer organization waiting for the state's approval (no agreement to fill)."""
    PENDING = 'pending'
    INVITED = 'invited'
    IN_PROGRESS = 'in_progress'
    SUBMITTED = 'submitted'
    RETURNED = 'returned'
    APPROVED = 'approved'
    REJECTED = 'rejected'
    SUSPENDED = 'suspended'

    @property
    def label(self) -> str:
        return 'Pending approval' if self == EnrollmentStatus.PENDING else self.value.replace('_', ' ').capitalize()


class RecipientSource(StrEnum):
    BULK_UPLOAD = 'bulk_upload'
    POINT_OF_CARE = 'point_of_care'
    SELF_REGISTRATION = 'self_registration'
    EMPLOYER_INVITATION = 'employer_invitation'
