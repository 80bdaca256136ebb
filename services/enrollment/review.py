"""The state's review queue: submitted agreements oldest first, and the three decisions. Each decision emails the
contact and is audited. Approval gives the organization its provider PIN, creates its locations with the storage
their units hold (what allocation checks) and a location manager account per location, whose set-password
email goes out with it."""
from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from models import EnrollmentStatus, LocationCreate, Organization, OrganizationKind, Role, utcnow
from models.enrollment import Enrollment, EnrollmentNote, StorageUnit
from services.accounts.auth import link
from services.accounts.staff import create_location, create_user
from services.core import audit, mail
from services.core.db import session_scope
from services.core.errors import ServiceError, ValidationFailed
from services.enrollment import form
from services.enrollment.agreement import Agreement, problems, view
from services.permissions import Action, Kind, fetch, require, scope
from services.principal import Principal

PIN_PREFIX = 'NCA'


@dataclass(frozen=True)
class QueueRow:
    enrollment_id: int
    organization_name: str
    contact_email: str
    priority_group: str
    locations: int
    submitted_at: datetime | None
    resubmitted: bool


@dataclass(frozen=True)
class Queue:
    rows: list[QueueRow]
    counts: dict[str, int]  # organizations per enrollment status (provider organizations)


def review_queue(*, principal: Principal) -> Queue:
    """Submitted agreements, the oldest submission first, and how many organizations are at each status."""
    require(principal, Action.APPROVE_ORGANIZATIONS)
    with session_scope(read_only=True) as session:
        rows = session.exec(scope(select(Enrollment, Organization), principal=principal, kind=Kind.ENROLLMENT)
                            .join(Organization, col(Organization.id) == col(Enrollment.organization_id))
                            .where(col(Organization.enrollment_status) == EnrollmentStatus.SUBMITTED)
                            .order_by(col(Enrollment.submitted_at), col(Enrollment.id))).all()
        answered = set(session.exec(select(EnrollmentNote.enrollment_id).where(EnrollmentNote.kind == 'answer')).all())
        queue = []
        for enrollment, organization in rows:
            agreement = view(session, enrollment)
            queue.append(QueueRow(enrollment.id or 0, organization.name, enrollment.contact_email,
                                  enrollment.priority_group, len(agreement.draft['locations']),
                                  enrollment.submitted_at, enrollment.id in answered))
        counts = dict(session.exec(select(Organization.enrollment_status, func.count())
                                   .where(col(Organization.kind) == OrganizationKind.PROVIDER)
                                   .where(col(Organization.id).in_(select(Enrollment.organization_id)))
                                   .group_by(col(Organization.enrollment_status))).all())
        return Queue(queue, {status.value: counts.get(status.value, 0) for status in EnrollmentStatus
                             if status != EnrollmentStatus.PENDING})


def open_agreement(*, principal: Principal, enrollment_id: int) -> Agreement:
    require(principal, Action.APPROVE_ORGANIZATIONS)
    with session_scope(read_only=True) as session:
        return view(session, fetch(session, Enrollment, enrollment_id, principal=principal,
                                   action=str(Action.APPROVE_ORGANIZATIONS)))


def approve(*, principal: Principal, enrollment_id: int) -> str:
    """Approve a submitted agreement; returns the organization's new provider PIN."""
    require(principal, Action.APPROVE_ORGANIZATIONS)
    with session_scope() as session:
        enrollment, organization = _submitted(session, principal, enrollment_id)
        agreement = view(session, enrollment)
        if found := problems(agreement):  # submitted complete; re-checked because the rules may have changed since
            raise ServiceError('This agreement is not complete; return it for changes: '
                               + ' '.join(list(found.values())[:3]))
        pin = _new_pin(session)
        draft = agreement.draft
        organization.name = draft['organization']['legal_name'] or organization.name
        organization.provider_pin = pin
        organization.enrollment_status = EnrollmentStatus.APPROVED
        organization.redistribution_agreement = bool(draft['redistribution'] and 'redistribution'
                                                     in agreement.signatures)
        session.add(organization)
        codes = []
        for index, given in enumerate(draft['locations'], start=1):
            location = create_location(session, LocationCreate(
                organization_id=organization.id or 0, name=given['name'], code=f'{pin}-{index}',
                address_line1=given['address_line1'], city=given['city'], county=given['county'],
                zip_code=given['zip_code'], time_zone=given['time_zone'],
                storage_capabilities=form.storage_capabilities(given)))
            session.add_all([StorageUnit(location_id=location.id or 0, unit_type=unit['type'],
                                         capacity_doses=form.capacity(unit)) for unit in given['storage_units']])
            try:
                create_user(session, email=given['primary_email'], role=Role.LOCATION_MANAGER,
                            full_name=given['primary_name'], location_code=location.code, actor=principal)
            except ValidationFailed as taken:
                raise ServiceError(f'{given["name"]}: {taken} Return the agreement for another primary '
                                   'coordinator email.') from taken
            codes.append(location.code)
        _decide(session, principal, enrollment, 'approved', f'Provider PIN {pin}')
        mail.enqueue(session, to=enrollment.contact_email, subject='Provider Agreement approved',
                     body_text=(f'Hello,\n\nThe State approved the Provider Agreement of {organization.name}.\n\n'
                                f'Provider PIN: {pin}\nLocations: {", ".join(codes)}\n\nEach location\'s primary '
                                'vaccine coordinator receives an email to set the password of their location manager '
                                f'account. The signed agreement: {link("/enrollment")}\n'),
                     dedupe_key=f'enrollment-decision:{enrollment.id}:approved')
        audit.record(session, action='enrollment_approved', actor=principal, entity_type='organization',
                     entity_id=organization.id, detail=f'PIN {pin}; locations {", ".join(codes)}')
        return pin


def return_for_changes(*, principal: Principal, enrollment_id: int, note: str) -> None:
    """Send the agreement back with a note the provider reads, answers and resubmits with."""
    require(principal, Action.APPROVE_ORGANIZATIONS)
    note = (note or '').strip()
    if not note:
        raise ValidationFailed('Write what the provider should change.')
    _decide_and_tell(principal, enrollment_id, EnrollmentStatus.RETURNED, 'returned', note,
                     subject='Provider Agreement returned for changes', dedupe=False,
                     body=lambda name: (f'Hello,\n\nThe State returned the Provider Agreement of {name} for changes:'
                                        f'\n\n{note}\n\nMake the changes, answer the note and submit again: '
                                        f'{link("/enrollment")}\n'))


def reject(*, principal: Principal, enrollment_id: int, reason: str) -> None:
    require(principal, Action.APPROVE_ORGANIZATIONS)
    reason = (reason or '').strip()
    if not reason:
        raise ValidationFailed('Give the reason for rejecting the agreement.')
    _decide_and_tell(principal, enrollment_id, EnrollmentStatus.REJECTED, 'rejected', reason,
                     subject='Provider Agreement not approved', dedupe=True,
                     body=lambda name: (f'Hello,\n\nThe State did not approve the Provider Agreement of {name}.'
                                        f'\n\nReason: {reason}\n'))


def _decide_and_tell(principal: Principal, enrollment_id: int, status: EnrollmentStatus, verdict: str, text: str, *,
                     subject: str, body: Callable[[str], str], dedupe: bool) -> None:
    """A decision other than approval: the organization's status, the decision kept with its note, the contact
    emailed and the audit event, in one unit of work. A return may be repeated after each answer (no dedupe)."""
    with session_scope() as session:
        enrollment, organization = _submitted(session, principal, enrollment_id)
        organization.enrollment_status = status
        session.add(organization)
        _decide(session, principal, enrollment, verdict, text)
        mail.enqueue(session, to=enrollment.contact_email, subject=subject, body_text=body(organization.name),
                     dedupe_key=f'enrollment-decision:{enrollment.id}:{verdict}' if dedupe else None)
        audit.record(session, action=f'enrollment_{verdict}', actor=principal, entity_type='organization',
                     entity_id=organization.id, detail=text[:500])


def _submitted(session: Session, principal: Principal, enrollment_id: int) -> tuple[Enrollment, Organization]:
    enrollment = fetch(session, Enrollment, enrollment_id, principal=principal,
                       action=str(Action.APPROVE_ORGANIZATIONS))
    organization = session.exec(select(Organization).where(col(Organization.id) == enrollment.organization_id)
                                .with_for_update()).one()
    if organization.enrollment_status != EnrollmentStatus.SUBMITTED:
        raise ServiceError(f'This agreement is {EnrollmentStatus(organization.enrollment_status).label.lower()}, '
                           'not waiting for a decision.')
    return enrollment, organization


def _decide(session: Session, principal: Principal, enrollment: Enrollment, kind: str, text: str) -> None:
    enrollment.decided_at = enrollment.updated_at = utcnow()
    enrollment.decided_by_user_id = principal.user_id or None
    session.add(enrollment)
    session.add(EnrollmentNote(enrollment_id=enrollment.id or 0, kind=kind, text=text[:4000],
                               author_user_id=principal.user_id or None))


def _new_pin(session: Session) -> str:
    """NCA and six random digits, unused (the column is unique too: two approvals at once cannot share one)."""
    for _ in range(100):
        pin = f'{PIN_PREFIX}{secrets.randbelow(1_000_000):06d}'
        if session.exec(select(Organization.id).where(col(Organization.provider_pin) == pin)).first() is None:
            return pin
    raise ServiceError('No free provider PIN was found; try again.')
