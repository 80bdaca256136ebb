"""Staff accounts, organizations and locations: creation and look-up (used by the CLI, the demo and admin pages)."""
from __future__ import annotations

from sqlmodel import Session, select

from models import (
    EnrollmentStatus,
    Location,
    LocationCreate,
    Organization,
    OrganizationCreate,
    OrganizationKind,
    Role,
    User,
    UserPublic,
)
from services.accounts.auth import issue_token, link, normalize_email
from services.accounts.passwords import hash_password, password_problem
from services.core import audit, mail
from services.core.errors import ServiceError, ValidationFailed
from services.core.localtime import zone_problem
from services.permissions import Action, Kind, fetch, require, scope
from services.principal import Principal
from services.recipients.fields import email_problem

STAFF_ROLES_NEEDING_LOCATION = (Role.LOCATION_MANAGER, Role.HEALTHCARE_PROVIDER)


def create_organization(session: Session, data: OrganizationCreate) -> Organization:
    if data.provider_pin and session.exec(select(Organization).where(
            Organization.provider_pin == data.provider_pin)).first():
        raise ValidationFailed(f'Provider PIN {data.provider_pin} is already enrolled.')
    organization = Organization.model_validate(data)
    session.add(organization)
    session.flush()
    return organization


def create_location(session: Session, data: LocationCreate) -> Location:
    code = data.code.strip().upper()
    if session.exec(select(Location).where(Location.code == code)).first():
        raise ValidationFailed(f'Location code {code} is already in use.')
    if (problem := zone_problem(data.time_zone)) is not None:
        raise ValidationFailed(f'Time zone: {problem}')
    location = Location.model_validate(data, update={'code': code})
    session.add(location)
    session.flush()
    return location


def location_by_code(session: Session, code: str) -> Location | None:
    return session.exec(select(Location).where(Location.code == code.strip().upper())).first()


def create_user(session: Session, *, email: str, role: str, full_name: str = '', location_code: str | None = None,
                organization_id: int | None = None, password: str | None = None, send_welcome: bool = True,
                actor: Principal | None = None) -> User:
    """Create a staff or employer account. Without a password, a welcome email carries a 7-day set-password link."""
    email = normalize_email(email)
    if (problem := email_problem(email)) is not None:
        raise ValidationFailed(f'Email: {problem}')
    if role not in set(Role):
        raise ValidationFailed(f'Unknown role {role!r}. Choose one of: {", ".join(r.value for r in Role)}.')
    if session.exec(select(User).where(User.email == email)).first():
        raise ValidationFailed(f'An account with the email {email} already exists.')
    location = None
    if location_code:
        location = location_by_code(session, location_code)
        if location is None:
            raise ValidationFailed(f'No location has the code {location_code}.')
        organization_id = organization_id or location.organization_id
    if role in STAFF_ROLES_NEEDING_LOCATION and location is None:
        raise ValidationFailed('Location managers and healthcare providers need a location (--location CODE).')
    if role == Role.EMPLOYER:
        _check_employer_organization(session, organization_id)
    if password is not None and (problem := password_problem(password, email=email)) is not None:
        raise ValidationFailed(problem)
    user = User(email=email, role=role, full_name=full_name.strip(), organization_id=organization_id,
                location_id=location.id if location else None,
                password_hash=hash_password(password) if password else None)
    session.add(user)
    session.flush()
    audit.record(session, action='user_created', actor=actor, entity_type='user', entity_id=user.id,
                 detail=f'role={role}')
    if password is None and send_welcome:
        token = issue_token(session, user.id or 0, 'welcome')
        mail.enqueue(session, to=email, subject='Your Vaccine Management System account',
                     body_text=(f'Hello {full_name or email},\n\nAn account has been created for you '
                                f'({Role(role).label}).\nUsername: {email}\n\nSet your password within 7 days: '
                                f'{link(f"/set-password/{token}")}\n'),
                     dedupe_key=f'welcome:user:{user.id}')
    return user


def _check_employer_organization(session: Session, organization_id: int | None) -> None:
    """An employer account belongs to an employer organization: it sees the people its organization invited, and a
    provider organization's people are never theirs to see."""
    if organization_id is None:
        raise ValidationFailed('Employer accounts need an organization (--organization-id): an employer organization.')
    organization = session.get(Organization, organization_id)
    if organization is None:
        raise ValidationFailed(f'No organization has the id {organization_id}.')
    if organization.kind != OrganizationKind.EMPLOYER:
        raise ValidationFailed(f'{organization.name} is a {organization.kind} organization: an employer account can '
                               'only belong to an employer organization.')


def add_user(*, principal: Principal, email: str, role: str, full_name: str = '', location_code: str | None = None,
             organization_id: int | None = None) -> UserPublic:
    """A state admin adds a staff or employer account (the Users screen); the welcome email sets its password.
    The same rules as `main.py create-user`: location staff need a location, employers an employer organization."""
    require(principal, Action.MANAGE_USERS)
    if role == Role.RECIPIENT:
        raise ValidationFailed('Recipients get their login from an invitation or self-registration, not here.')
    from services.core.db import session_scope  # local import: the CLI and the demo pass their own unit of work
    with session_scope() as session:
        if organization_id is not None:
            fetch(session, Organization, organization_id, principal=principal, action=str(Action.MANAGE_USERS))
        user = create_user(session, email=email, role=role, full_name=full_name,
                           location_code=(location_code or '').strip() or None, organization_id=organization_id,
                           actor=principal)
        return UserPublic(**user.model_dump(exclude={'password_hash'}))


def organization_choices(*, principal: Principal) -> list[tuple[int, str]]:
    """(id, "Name (kind)") of the organizations an account may be added to, by name."""
    require(principal, Action.MANAGE_USERS)
    from services.core.db import session_scope
    with session_scope(read_only=True) as session:
        rows = session.exec(scope(select(Organization), principal=principal, kind=Kind.ORGANIZATION)
                            .order_by(Organization.name)).all()
        return [(o.id or 0, f'{o.name} ({o.kind})') for o in rows]


def list_users(*, principal: Principal, session: Session) -> list[UserPublic]:
    require(principal, Action.MANAGE_USERS)
    users = session.exec(select(User).order_by(User.email)).all()
    locations = {loc.id: loc for loc in session.exec(select(Location)).all()}
    organizations = {org.id: org for org in session.exec(select(Organization)).all()}
    result = []
    for user in users:
        loc = locations.get(user.location_id)
        org = organizations.get(user.organization_id)
        result.append(UserPublic(**user.model_dump(exclude={'password_hash'}),
                                 location_name=loc.name if loc else None, location_code=loc.code if loc else None,
                                 organization_name=org.name if org else None))
    return result


def set_enrollment_status(session: Session, *, principal: Principal, organization_id: int, status: str) -> None:
    """Approve or suspend an organization (state admins), audited, in the caller's unit of work."""
    require(principal, Action.APPROVE_ORGANIZATIONS)
    organization = fetch(session, Organization, organization_id, principal=principal,
                         action=str(Action.APPROVE_ORGANIZATIONS))
    if status == EnrollmentStatus.APPROVED and organization.enrollment_status not in (EnrollmentStatus.PENDING,
                                                                                      EnrollmentStatus.SUSPENDED):
        # a provider still enrolling is approved through its Provider Agreement (services/enrollment/review.py),
        # which gives its PIN and creates its locations
        raise ServiceError(f'{organization.name} is enrolling: approve its Provider Agreement on the Provider '
                           'enrollment screen.')
    organization.enrollment_status = status
    session.add(organization)
    audit.record(session, action=f'organization_{status}', actor=principal, entity_type='organization',
                 entity_id=organization_id)


def approve_organization(session: Session, *, principal: Principal, organization_id: int) -> None:
    set_enrollment_status(session=session, principal=principal, organization_id=organization_id,
                          status=EnrollmentStatus.APPROVED)
