"""Staff accounts, organizations and locations: creation and look-up (used by the CLI, the demo and admin pages)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, update
from sqlmodel import Session, col, select

from models import (
    EnrollmentStatus,
    Location,
    LocationCreate,
    Organization,
    OrganizationCreate,
    OrganizationKind,
    PasswordToken,
    Role,
    User,
    UserPublic,
    utcnow,
)
from services.accounts.auth import end_sessions, issue_token, link, normalize_email
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
        _send_welcome(session, user, dedupe_key=f'welcome:user:{user.id}')
    return user


def _send_welcome(session: Session, user: User, *, dedupe_key: str) -> None:
    """The welcome email with a 7-day set-password link (never a password); only the token's hash is kept."""
    token = issue_token(session, user.id or 0, 'welcome')
    mail.enqueue(session, to=user.email, subject='Your Vaccine Management System account',
                 body_text=(f'Hello {user.full_name or user.email},\n\nAn account has been created for you '
                            f'({Role(user.role).label}).\nUsername: {user.email}\n\nSet your password within 7 '
                            f'days: {link(f"/set-password/{token}")}\n'),
                 dedupe_key=dedupe_key)


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


# ---------------------------------------------------------------- staff accounts of a location (Users screen)
# A location manager manages the accounts of their own location; a state admin those of every organization. Which
# accounts each sees is the row scope Kind.STAFF_ACCOUNT; the account rules stay those of create_user above.

LOCATION_STAFF_ROLES = (Role.LOCATION_MANAGER, Role.HEALTHCARE_PROVIDER)
STAFF_PAGE_SIZE = 25


@dataclass(frozen=True)
class StaffAccount:
    id: int
    email: str
    full_name: str
    role: str
    location: str  # 'Name (CODE)', '' for accounts of no location
    organization: str
    is_active: bool
    invited: bool  # no password yet: the set-password link was not used

    @property
    def status(self) -> str:
        return 'Deactivated' if not self.is_active else 'Invited' if self.invited else 'Active'


@dataclass(frozen=True)
class StaffPage:
    rows: list[StaffAccount]
    total: int  # accounts matching the search, on every page
    page: int
    pages: int


def staff_accounts(*, principal: Principal, search: str = '', page: int = 1,
                   page_size: int = STAFF_PAGE_SIZE) -> StaffPage:
    """The staff accounts the principal manages, by email, a page at a time; `search` is found in the name, the
    email, the location (name or code) or the organization, ignoring case (% and _ are plain characters)."""
    require(principal, Action.MANAGE_STAFF)
    query = scope(select(User, Location, Organization), principal=principal, kind=Kind.STAFF_ACCOUNT) \
        .outerjoin(Location, col(Location.id) == col(User.location_id)) \
        .outerjoin(Organization, col(Organization.id) == col(User.organization_id))
    wanted = ' '.join((search or '').split()).lower()
    if wanted:
        query = query.where(or_(*(func.lower(column).contains(wanted, autoescape=True) for column in (
            User.full_name, User.email, Location.name, Location.code, Organization.name))))
    from services.core.db import session_scope
    with session_scope(read_only=True) as session:
        total = session.exec(select(func.count()).select_from(query.subquery())).one()
        pages = max(1, -(-total // page_size))
        page = max(1, min(page, pages))
        found = session.exec(query.order_by(col(User.email)).offset((page - 1) * page_size).limit(page_size)).all()
        rows = [StaffAccount(id=user.id or 0, email=user.email, full_name=user.full_name, role=user.role,
                             location=f'{location.name} ({location.code})' if location else '',
                             organization=organization.name if organization else '', is_active=user.is_active,
                             invited=user.password_hash is None) for user, location, organization in found]
        return StaffPage(rows=rows, total=total, page=page, pages=pages)


def staff_locations(*, principal: Principal) -> list[tuple[int, str]]:
    """(id, 'Name (CODE) · Organization') of the locations the principal adds staff to: a manager's own, every
    provider location for the state."""
    require(principal, Action.MANAGE_STAFF)
    from services.core.db import session_scope
    with session_scope(read_only=True) as session:
        rows = session.exec(scope(select(Location, Organization), principal=principal, kind=Kind.LOCATION)
                            .join(Organization, col(Organization.id) == col(Location.organization_id))
                            .order_by(col(Location.name))).all()
        return [(loc.id or 0, f'{loc.name} ({loc.code}) · {org.name}') for loc, org in rows]


def add_staff_account(*, principal: Principal, full_name: str, email: str, role: str,
                      location_id: int | None) -> UserPublic:
    """Add a location manager or healthcare provider at a location in the principal's scope; the person gets the
    welcome email with a set-password link."""
    require(principal, Action.MANAGE_STAFF)
    full_name = ' '.join((full_name or '').split())
    if not full_name:
        raise ValidationFailed('Name: enter the person\'s full name.')
    if role not in LOCATION_STAFF_ROLES:
        raise ValidationFailed('Role: choose Location Manager or Healthcare Provider.')
    if location_id is None:
        raise ValidationFailed('Location: choose the location the person works at.')
    from services.core.db import session_scope
    with session_scope() as session:
        location = fetch(session, Location, location_id, principal=principal, action=str(Action.MANAGE_STAFF))
        user = create_user(session, email=email, role=role, full_name=full_name, location_code=location.code,
                           actor=principal)
        return UserPublic(**user.model_dump(exclude={'password_hash'}))


def change_staff_role(*, principal: Principal, user_id: int, role: str) -> None:
    """Make a location's staff member a Location Manager or a Healthcare Provider (effective at their next click)."""
    require(principal, Action.MANAGE_STAFF)
    if role not in LOCATION_STAFF_ROLES:
        raise ValidationFailed('Role: choose Location Manager or Healthcare Provider.')
    from services.core.db import session_scope
    with session_scope() as session:
        user = _managed_account(session, principal, user_id)
        if user.role not in LOCATION_STAFF_ROLES:
            raise ValidationFailed(f'{user.email} is a {Role(user.role).label}: only location staff change role here.')
        if user.role != role:
            before, user.role = user.role, role
            session.add(user)
            audit.record(session, action='user_role_changed', actor=principal, entity_type='user', entity_id=user_id,
                         detail=f'{before} → {role}')


def set_staff_active(*, principal: Principal, user_id: int, active: bool) -> None:
    """Deactivate an account (every session of it ends at once; it can no longer log in or use its links) or
    reactivate it."""
    require(principal, Action.MANAGE_STAFF)
    from services.core.db import session_scope
    with session_scope() as session:
        user = _managed_account(session, principal, user_id)
        if user.is_active == active:
            return
        user.is_active = active
        session.add(user)
        if not active:
            end_sessions(session, user_id, reason='account_disabled')
        audit.record(session, action='user_reactivated' if active else 'user_deactivated', actor=principal,
                     entity_type='user', entity_id=user_id)


def resend_invitation(*, principal: Principal, user_id: int) -> None:
    """A new welcome email for an account whose password is not set yet; its earlier links stop working."""
    require(principal, Action.MANAGE_STAFF)
    from services.core.db import session_scope
    with session_scope() as session:
        user = _managed_account(session, principal, user_id)
        if not user.is_active:
            raise ValidationFailed(f'{user.email} is deactivated: reactivate the account first.')
        if user.password_hash is not None:
            raise ValidationFailed(f'{user.email} has already set a password; if it is forgotten, "Forgot password?" '
                                   'on the log-in page sends a new link.')
        now = utcnow()
        session.execute(update(PasswordToken).where(col(PasswordToken.user_id) == user_id)
                        .where(col(PasswordToken.purpose) == 'welcome').where(col(PasswordToken.used_at).is_(None))
                        .values(used_at=now))
        _send_welcome(session, user, dedupe_key=f'welcome:user:{user_id}:{now.isoformat()}')
        audit.record(session, action='user_invitation_resent', actor=principal, entity_type='user',
                     entity_id=user_id)


def _managed_account(session: Session, principal: Principal, user_id: int) -> User:
    """The account, when the principal manages it (an audited refusal otherwise); never one's own."""
    user = fetch(session, User, user_id, principal=principal, action=str(Action.MANAGE_STAFF))
    if user.id == principal.user_id:
        raise ValidationFailed('You cannot change your own account here: ask another manager or the state.')
    return user
