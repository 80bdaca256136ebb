"""Invitations to the Provider Enrollment Portal: the state invites a provider organization, whose contact gets a
link to set the password of an enrollment account (never a password by email). Providers may also ask for an
invitation on a public page, when the state opens it (EnrollmentSettings)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select

from models import EnrollmentStatus, OrganizationKind, Role, User, utcnow
from models.enrollment import Enrollment, EnrollmentSettings, InvitationRequest
from services.accounts.auth import issue_token, link, normalize_email
from services.accounts.staff import create_organization, create_user
from services.core import audit, mail
from services.core.db import session_scope
from services.core.errors import ValidationFailed
from services.permissions import Action, require
from services.portal.vaccine_groups import group_config
from services.principal import Principal
from services.recipients.fields import email_problem, phone_problem

ENROLLMENT_PATH = '/enrollment'
OPEN_REQUESTS_LIMIT = 3  # a mailbox asking more often than this while its requests wait is refused


@dataclass(frozen=True)
class RequestRow:
    id: int
    organization_name: str
    contact_name: str
    email: str
    phone: str
    message: str
    status: str
    created_at: datetime


def priority_groups() -> dict[str, str]:
    """The state's prioritization framework (the vaccine groups), code -> name."""
    return {group.code: group.name_en for group in group_config().groups}


def invite(*, principal: Principal, organization_name: str, contact_email: str, priority_group: str) -> int:
    """Invite a provider organization to enroll: its organization (Invited), an enrollment account for the contact
    and an email with a link to set its password. Returns the enrollment's id."""
    require(principal, Action.APPROVE_ORGANIZATIONS)
    name, email = (organization_name or '').strip(), normalize_email(contact_email or '')
    problems = []
    if not name:
        problems.append('Enter the name of the organization.')
    elif len(name) > 200:
        problems.append('Organization name: at most 200 characters.')
    if not email or email_problem(email) is not None:
        problems.append('Contact email: enter an address like name@example.org.')
    groups = priority_groups()
    if priority_group not in groups:
        problems.append('Choose the priority group.')
    if problems:
        raise ValidationFailed(' '.join(problems))
    with session_scope() as session:
        if session.exec(select(User.id).where(User.email == email)).first() is not None:
            raise ValidationFailed(f'An account with the email {email} already exists: invite another contact.')
        organization = create_organization(session, _organization(name))
        user = create_user(session, email=email, role=Role.ENROLLMENT_CONTACT, organization_id=organization.id,
                           send_welcome=False, actor=principal)
        enrollment = Enrollment(organization_id=organization.id or 0, contact_email=email, contact_user_id=user.id,
                                priority_group=priority_group, invited_by_user_id=principal.user_id or None)
        session.add(enrollment)
        session.flush()
        session.execute(InvitationRequest.__table__.update()  # type: ignore[attr-defined]
                        .where(col(InvitationRequest.email) == email).where(col(InvitationRequest.status) == 'new')
                        .values(status='invited'))
        token = issue_token(session, user.id or 0, 'welcome')
        mail.enqueue(session, to=email, subject='Enroll in the COVID-19 Vaccination Program',
                     body_text=(f'Hello,\n\nThe State invites {name} to enroll in the COVID-19 Vaccination Program '
                                f'(priority: {groups[priority_group]}).\n\nCreate your enrollment account: set its '
                                f'password within 7 days with this link:\n{link(f"/set-password/{token}")}\n\n'
                                f'Your username is {email}. Then complete, sign and submit the Provider Agreement '
                                f'at {link(ENROLLMENT_PATH)}.\n'),
                     dedupe_key=f'enrollment-invitation:{enrollment.id}')
        audit.record(session, action='enrollment_invited', actor=principal, entity_type='organization',
                     entity_id=organization.id, detail=f'contact {email}, priority {priority_group}')
        return enrollment.id or 0


def _organization(name: str):  # noqa: ANN202 - OrganizationCreate
    from models import OrganizationCreate
    return OrganizationCreate(name=name, kind=OrganizationKind.PROVIDER, enrollment_status=EnrollmentStatus.INVITED)


# ---------------------------------------------------------------- requests for an invitation (public page)

def invitation_requests_open() -> bool:
    with session_scope(read_only=True) as session:
        row = session.get(EnrollmentSettings, 1)
        return bool(row and row.invitation_requests_open)


def set_invitation_requests_open(*, principal: Principal, open_: bool) -> None:
    require(principal, Action.MANAGE_SETTINGS)
    with session_scope() as session:
        row = session.get(EnrollmentSettings, 1) or EnrollmentSettings(id=1)
        row.invitation_requests_open, row.updated_at = open_, utcnow()
        session.add(row)
        audit.record(session, action='invitation_requests_' + ('opened' if open_ else 'closed'), actor=principal)


def request_invitation(*, organization_name: str, contact_name: str, email: str, phone: str = '', message: str = '',
                       client_ip: str | None = None) -> dict[str, str]:
    """A provider asks for an invitation. Returns the problems by field ({} when the request was kept)."""
    fields = {'organization_name': (organization_name or '').strip(), 'contact_name': (contact_name or '').strip(),
              'email': normalize_email(email or ''), 'phone': (phone or '').strip(),
              'message': (message or '').strip()[:2000]}
    problems: dict[str, str] = {}
    if not fields['organization_name']:
        problems['organization_name'] = 'Enter the name of the organization.'
    if not fields['contact_name']:
        problems['contact_name'] = 'Enter your name.'
    if not fields['email'] or email_problem(fields['email']) is not None:
        problems['email'] = 'Enter an email address like name@example.org.'
    if fields['phone'] and phone_problem(fields['phone']) is not None:
        problems['phone'] = 'Enter a 10-digit phone number, like 919-555-0100.'
    if any(len(value) > 200 for key, value in fields.items() if key != 'message'):
        problems.setdefault('organization_name', 'Names: at most 200 characters.')
    if problems:
        return problems
    if not invitation_requests_open():
        raise ValidationFailed('The State is not taking requests for invitations at the moment.')
    with session_scope() as session:
        waiting = session.exec(select(func.count()).select_from(InvitationRequest)
                               .where(col(InvitationRequest.email) == fields['email'])
                               .where(col(InvitationRequest.status) == 'new')).one()
        if waiting >= OPEN_REQUESTS_LIMIT:  # already asked: keep the state's list readable
            return {}
        request = InvitationRequest(**fields)
        session.add(request)
        session.flush()
        audit.record(session, action='invitation_requested', actor_email=fields['email'], client_ip=client_ip,
                     entity_type='invitation_request', entity_id=request.id)
    return {}


def list_invitation_requests(*, principal: Principal) -> list[RequestRow]:
    """Requests waiting for the state, oldest first."""
    require(principal, Action.APPROVE_ORGANIZATIONS)
    with session_scope(read_only=True) as session:
        rows = session.exec(select(InvitationRequest).where(col(InvitationRequest.status) == 'new')
                            .order_by(col(InvitationRequest.created_at), col(InvitationRequest.id))).all()
        return [RequestRow(r.id or 0, r.organization_name, r.contact_name, r.email, r.phone, r.message, r.status,
                           r.created_at) for r in rows]

