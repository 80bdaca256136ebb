"""Every permission rule of the system, in one place. Pages, the CLI and jobs all ask here.

Three questions:
- may this role do this action at all (`can`, `require`);
- which rows of each kind of record may this person see (`scope` narrows a query, `fetch` loads one record by id
  and refuses one out of scope; one rule per kind in RULES, see docs/adr/0008-row-scopes.md);
- may this person see health data at all (`may_see_health_data`): doses, screening answers, appointments.
A refusal records an audit event and raises NotAllowed (`deny`).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from enum import StrEnum
from typing import NoReturn, TypeVar

from sqlalchemy import ColumnElement, Select, and_, false, true
from sqlmodel import Session, SQLModel, col, select

from models import Location, Organization, Recipient, RecipientSource, Role, User
from models.bulk import BulkUpload
from models.clinic import Administration, Appointment, ClinicSession, StandbyEntry
from models.enrollment import Enrollment
from models.helpdesk import Case
from models.inventory import LedgerEntry, Lot, QuarantinedDoses, Shipment, StockBalance
from services.core import audit
from services.core.errors import NotAllowed, NotFound
from services.principal import Principal
from services.recipients.identity import identity_key


class Action(StrEnum):
    VIEW_DASHBOARD = 'view_dashboard'
    VIEW_RECIPIENTS = 'view_recipients'
    REGISTER_RECIPIENT = 'register_recipient'  # point of care / walk-in registration
    BULK_UPLOAD = 'bulk_upload'
    REQUEST_RECIPIENT_REMOVAL = 'request_recipient_removal'
    MANAGE_APPOINTMENTS = 'manage_appointments'
    MANAGE_CLINIC_SESSIONS = 'manage_clinic_sessions'
    CHECK_IN = 'check_in'
    RECORD_VACCINATION = 'record_vaccination'
    CORRECT_VACCINATION = 'correct_vaccination'
    VIEW_INVENTORY = 'view_inventory'
    MANAGE_INVENTORY = 'manage_inventory'
    RECEIVE_SHIPMENT = 'receive_shipment'
    VIEW_SHIPMENTS = 'view_shipments'
    VIEW_REPORTS = 'view_reports'
    VIEW_ALL_LOCATIONS = 'view_all_locations'
    MANAGE_PRODUCTS = 'manage_products'
    ALLOCATE_VACCINE = 'allocate_vaccine'
    APPROVE_ORGANIZATIONS = 'approve_organizations'
    MANAGE_USERS = 'manage_users'
    VIEW_OUTBOX = 'view_outbox'
    VIEW_AUDIT = 'view_audit'
    MANAGE_SETTINGS = 'manage_settings'
    INVITE_EMPLOYEES = 'invite_employees'
    VIEW_INVITATIONS = 'view_invitations'
    USE_PORTAL = 'use_portal'  # a recipient's own household, registration, appointments, proof
    CHANGE_OWN_PASSWORD = 'change_own_password'
    ENROLL_ORGANIZATION = 'enroll_organization'  # fill, sign and submit the organization's Provider Agreement
    OPEN_CASE = 'open_case'  # ask the help desk, and follow one's own cases
    WORK_CASES = 'work_cases'  # the help desk's queue: every case, assignment, internal notes, resolution
    MANAGE_RECIPIENT_RECORDS = 'manage_recipient_records'  # the help desk: remove, mark inactive, merge records
    WRITE_ARTICLES = 'write_articles'  # the help desk's knowledge base: drafts and publishing
    MANAGE_STAFF = 'manage_staff'  # staff accounts of the locations in one's scope (Kind.STAFF_ACCOUNT)
    TICK_READINESS = 'tick_readiness'  # a location's readiness checklist (the state edits its items: MANAGE_SETTINGS)


_A = Action
_STAFF_DESK = {_A.VIEW_RECIPIENTS, _A.REGISTER_RECIPIENT, _A.MANAGE_APPOINTMENTS, _A.CHECK_IN,
               _A.RECORD_VACCINATION, _A.VIEW_INVENTORY, _A.VIEW_SHIPMENTS}
_EVERYONE = {_A.VIEW_DASHBOARD, _A.CHANGE_OWN_PASSWORD, _A.OPEN_CASE}
# the help desk (agents; state admins too): cases, recipient records, the knowledge base
_HELP_DESK = {_A.WORK_CASES, _A.MANAGE_RECIPIENT_RECORDS, _A.WRITE_ARTICLES}

ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    Role.STATE_ADMIN: frozenset(_EVERYONE | {
        _A.VIEW_RECIPIENTS, _A.VIEW_INVENTORY, _A.VIEW_SHIPMENTS, _A.VIEW_REPORTS, _A.VIEW_ALL_LOCATIONS,
        _A.MANAGE_PRODUCTS, _A.ALLOCATE_VACCINE, _A.APPROVE_ORGANIZATIONS, _A.MANAGE_USERS, _A.VIEW_OUTBOX,
        _A.VIEW_AUDIT, _A.MANAGE_SETTINGS, _A.MANAGE_STAFF} | _HELP_DESK),  # and everything a help desk agent can
    # Only the Location Manager profile may manage inventory and invite recipients (training page, steps 3-4).
    Role.LOCATION_MANAGER: frozenset(_EVERYONE | _STAFF_DESK | {
        _A.BULK_UPLOAD, _A.REQUEST_RECIPIENT_REMOVAL, _A.MANAGE_CLINIC_SESSIONS, _A.CORRECT_VACCINATION,
        _A.MANAGE_INVENTORY, _A.RECEIVE_SHIPMENT, _A.VIEW_REPORTS, _A.TICK_READINESS, _A.MANAGE_STAFF}),
    Role.HEALTHCARE_PROVIDER: frozenset(_EVERYONE | _STAFF_DESK),
    Role.EMPLOYER: frozenset(_EVERYONE | {_A.BULK_UPLOAD, _A.INVITE_EMPLOYEES, _A.VIEW_INVITATIONS}),
    Role.RECIPIENT: frozenset(_EVERYONE | {_A.USE_PORTAL}),
    Role.ENROLLMENT_CONTACT: frozenset(_EVERYONE | {_A.ENROLL_ORGANIZATION}),
    Role.HELP_DESK_AGENT: frozenset(_EVERYONE | _HELP_DESK),
    Role.SUPPORT_USER: frozenset(_EVERYONE),
}


def can(principal: Principal | None, action: Action) -> bool:
    if principal is None:
        return False
    return action in ROLE_ACTIONS.get(principal.role, frozenset())


def require(principal: Principal | None, action: Action, *, location_id: int | None = None,
            check_location: bool = False, entity: str | None = None) -> Principal:
    """Raise NotAllowed (and audit the refusal) unless the principal may do `action` (at `location_id`: a location
    in their scope, see `works_at`)."""
    allowed = can(principal, action)
    if allowed and check_location:
        allowed = works_at(principal, location_id)
    if not allowed:
        deny(principal, action=str(action), entity=entity or (f'location:{location_id}' if location_id else None))
    assert principal is not None
    return principal


def may_see_health_data(principal: Principal | None) -> bool:
    """Doses, screening answers, registration health answers and appointments: state admins, location staff and
    the person's own household (within their scopes). Employers never: they see whom they invited, nothing else."""
    return principal is not None and (principal.role in (Role.STATE_ADMIN, Role.LOCATION_MANAGER,
                                                         Role.HEALTHCARE_PROVIDER, Role.RECIPIENT)
                                      # the help desk decides on removals and merges from a person's doses
                                      or can(principal, Action.MANAGE_RECIPIENT_RECORDS))


# ---------------------------------------------------------------- row scopes: which records a person may see

class Kind(StrEnum):
    """The kinds of record a scope rule exists for (the value names the record in audit events)."""
    RECIPIENT = 'recipient'
    UPLOAD = 'bulk_upload'
    APPOINTMENT = 'appointment'
    ADMINISTRATION = 'administration'
    LOT = 'lot'
    ORGANIZATION = 'organization'
    LOCATION = 'location'
    SHIPMENT = 'shipment'
    CLINIC_SESSION = 'clinicsession'
    STANDBY_ENTRY = 'standby_entry'
    LEDGER_ENTRY = 'ledgerentry'
    QUARANTINE = 'quarantineddoses'
    CASE = 'case'  # the help desk's record: agents and state admins all, everyone else their own
    ENROLLMENT = 'enrollment'
    STAFF_ACCOUNT = 'user'  # staff and employer logins, never recipients' portal logins


def works_at(principal: Principal | None, location_id: int | None) -> bool:
    """The location rule in Python, for checks before any record is read: state admins work at every location,
    location staff at their own, nobody else at any (the same rule as `_at_their_location`)."""
    if principal is None or location_id is None:
        return False
    return principal.is_admin or (_is_location_staff(principal) and principal.location_id == location_id)


def scope(query: Select, *, principal: Principal | None, kind: Kind) -> Select:
    """`query` narrowed to the records of `kind` the principal may see; the query reads that kind's table."""
    return query.where(visible(principal=principal, kind=kind))


def visible(*, principal: Principal | None, kind: Kind) -> ColumnElement[bool]:
    """The condition a record of `kind` meets when the principal may see it (for joins, counts, subqueries)."""
    if principal is None:
        return false()
    return RULES[kind](principal)


T = TypeVar('T', bound=SQLModel)


def fetch(session: Session, model: type[T], record_id: int | None, *, principal: Principal | None,
          action: str | None = None, health_data: bool = False, named: tuple[str, str, date] | None = None) -> T:
    """The record of `model` with this id, loaded in the caller's unit of work, when the principal may see it.
    NotFound when no such record exists; an audited NotAllowed when it exists outside the principal's scope (or
    holds health data the principal may not see, with `health_data`). Location staff also reach, one person at a
    time, someone registered elsewhere whom their location serves (`_served_here`)."""
    kind = KIND_OF[model]
    label = _LABELS.get(kind, kind.value.replace('_', ' '))
    found = session.exec(select(model).where(col(model.id) == record_id)  # type: ignore[attr-defined]
                         .where(visible(principal=principal, kind=kind))).first() if record_id is not None else None
    if found is None:
        found = session.get(model, record_id) if record_id is not None else None
        if found is None:
            raise NotFound(f'This {label} does not exist.')
        if not _served_here(session, principal, found, named):
            deny(principal, action=action or f'view_{kind}', entity=f'{kind}:{record_id}')
    if health_data and not may_see_health_data(principal):
        deny(principal, action=action or f'view_{kind}_health_data', entity=f'{kind}:{record_id}')
    return found


def _served_here(session: Session, principal: Principal | None, record: SQLModel,
                 named: tuple[str, str, date] | None) -> bool:
    """A person registered at another location whom location staff serve: they have an appointment or a dose at
    the staff's location, or the staff name them exactly (`named`: first name, last name, date of birth, as
    Walk-In's exact match finds them: the person stands at the desk). A guessed id alone reaches nobody; lists
    (`scope`) keep showing the people registered at the location only."""
    if not isinstance(record, Recipient) or principal is None or not _is_location_staff(principal):
        return False
    if named is not None and identity_key(*named) == record.identity_key:
        return True
    return any(session.exec(select(model.id).where(col(model.recipient_id) == record.id)
                            .where(visible(principal=principal, kind=KIND_OF[model])).limit(1)).first() is not None
               for model in (Appointment, Administration))


def deny(principal: Principal | None, *, action: str, entity: str | None = None) -> NoReturn:
    """Raise NotAllowed and audit the refusal in a unit of work of its own: at once when no unit of work is
    open, else after the caller's has rolled back (it may hold SQLite's write lock, and it will not commit)."""
    from services.core.db import in_unit_of_work, session_scope  # local import: keeps this module free of the engine

    entity_type, _, entity_id = (entity or '').partition(':')

    def record_refusal(session: Session) -> None:
        audit.record(session, action='access_denied', actor=principal, entity_type=entity_type or None,
                     entity_id=entity_id or None, detail=f'refused: {action}')

    refusal = NotAllowed()
    if in_unit_of_work():
        refusal.after_rollback = record_refusal
        raise refusal
    with session_scope() as session:
        record_refusal(session)
    raise refusal


# ---------------------------------------------------------------- the rule of each kind

def _is_location_staff(principal: Principal) -> bool:
    return principal.role in (Role.LOCATION_MANAGER, Role.HEALTHCARE_PROVIDER) and principal.location_id is not None


def _at_their_location(column) -> Callable[[Principal], ColumnElement[bool]]:  # noqa: ANN001 - a model column
    """Records kept at one location: state admins see all, location staff their location's, nobody else any."""
    def rule(principal: Principal) -> ColumnElement[bool]:
        if principal.is_admin:
            return true()
        if _is_location_staff(principal):
            return col(column) == principal.location_id
        return false()
    return rule


def _health_record_at_their_location(column, recipient_column) -> Callable[[Principal], ColumnElement[bool]]:  # noqa: ANN001
    """Appointments and doses: location staff see their location's, a recipient their household's, employers none."""
    at_location = _at_their_location(column)

    def rule(principal: Principal) -> ColumnElement[bool]:
        if not may_see_health_data(principal):
            return false()
        if principal.role == Role.RECIPIENT:
            return col(recipient_column).in_(select(Recipient.id).where(_household(principal)))
        return at_location(principal)
    return rule


def _household(principal: Principal) -> ColumnElement[bool]:
    if principal.portal_account_id is None:
        return false()
    return col(Recipient.portal_account_id) == principal.portal_account_id


def _employer_accounts(principal: Principal) -> Select:
    """The employer accounts of the principal's organization: the people who send its invitations."""
    return select(User.id).where(col(User.organization_id) == principal.organization_id,
                                 col(User.role) == Role.EMPLOYER)


def _invited_by(principal: Principal) -> ColumnElement[bool]:
    """The people an employer's invitations created. Never everyone carrying the organization's id: an employer
    sees no one registered by a clinic, at the desk or in the portal. (The organization id only lets the query
    use its index: every invitation is stored with it.)"""
    if principal.organization_id is None:
        return false()
    return and_(col(Recipient.organization_id) == principal.organization_id,
                col(Recipient.source) == RecipientSource.EMPLOYER_INVITATION,
                col(Recipient.created_by_user_id).in_(_employer_accounts(principal)))


def _recipients(principal: Principal) -> ColumnElement[bool]:
    """State admins: everyone. Location staff: the people registered at their location (people from elsewhere
    only through their appointment here, or named exactly: see `fetch`). Employers: the people they invited.
    Recipients: their household. The help desk (who removes, inactivates and merges records): everyone."""
    if principal.is_admin or can(principal, Action.MANAGE_RECIPIENT_RECORDS):
        return true()
    if _is_location_staff(principal):
        return col(Recipient.location_id) == principal.location_id
    if principal.role == Role.EMPLOYER:
        return _invited_by(principal)
    if principal.role == Role.RECIPIENT:
        return _household(principal)
    return false()


def _uploads(principal: Principal) -> ColumnElement[bool]:
    """Bulk uploads: a location's files for its staff, an employer's own invitation files for the employer."""
    if principal.role == Role.EMPLOYER and principal.organization_id is not None:
        return and_(col(BulkUpload.location_id).is_(None),
                    col(BulkUpload.organization_id) == principal.organization_id,
                    col(BulkUpload.uploaded_by_user_id).in_(_employer_accounts(principal)))
    return _at_their_location(BulkUpload.location_id)(principal)


def _lots(principal: Principal) -> ColumnElement[bool]:
    """Lots are shared by every location holding them: location staff see the lots their location has held."""
    if principal.is_admin:
        return true()
    if _is_location_staff(principal):
        held = select(StockBalance.lot_id).where(col(StockBalance.location_id) == principal.location_id)
        return col(Lot.id).in_(held)
    return false()


def _organizations(principal: Principal) -> ColumnElement[bool]:
    """State admins: every organization. Location staff: their location's. Employers and enrollment contacts:
    their own."""
    if principal.is_admin:
        return true()
    if _is_location_staff(principal):
        return col(Organization.id) == select(Location.organization_id) \
            .where(col(Location.id) == principal.location_id).scalar_subquery()
    if principal.role in (Role.EMPLOYER, Role.ENROLLMENT_CONTACT) and principal.organization_id is not None:
        return col(Organization.id) == principal.organization_id
    return false()


def _staff_accounts(principal: Principal) -> ColumnElement[bool]:
    """Logins of staff, employers and enrolling organizations (never recipients' portal logins nor the support
    portal's): state admins see every one, a location manager the location staff of their own location, nobody else
    any."""
    if principal.is_admin:
        return col(User.role).not_in([Role.RECIPIENT, Role.SUPPORT_USER])
    if principal.role == Role.LOCATION_MANAGER and principal.location_id is not None:
        return and_(col(User.location_id) == principal.location_id,
                    col(User.role).in_([Role.LOCATION_MANAGER, Role.HEALTHCARE_PROVIDER]))
    return false()


def _enrollments(principal: Principal) -> ColumnElement[bool]:
    """Provider Agreements: state admins see all, an enrollment contact their own organization's."""
    if principal.is_admin:
        return true()
    if principal.role == Role.ENROLLMENT_CONTACT and principal.organization_id is not None:
        return col(Enrollment.organization_id) == principal.organization_id
    return false()


def _cases(principal: Principal) -> ColumnElement[bool]:
    """Help desk cases: agents and state admins see every case, anyone else the cases they opened."""
    if can(principal, Action.WORK_CASES):
        return true()
    return col(Case.requester_user_id) == principal.user_id


RULES: dict[Kind, Callable[[Principal], ColumnElement[bool]]] = {
    Kind.RECIPIENT: _recipients,
    Kind.UPLOAD: _uploads,
    Kind.APPOINTMENT: _health_record_at_their_location(Appointment.location_id, Appointment.recipient_id),
    Kind.ADMINISTRATION: _health_record_at_their_location(Administration.location_id, Administration.recipient_id),
    Kind.LOT: _lots,
    Kind.ORGANIZATION: _organizations,
    Kind.LOCATION: _at_their_location(Location.id),
    Kind.SHIPMENT: _at_their_location(Shipment.location_id),
    Kind.CLINIC_SESSION: _at_their_location(ClinicSession.location_id),
    Kind.STANDBY_ENTRY: _at_their_location(StandbyEntry.location_id),
    Kind.LEDGER_ENTRY: _at_their_location(LedgerEntry.location_id),
    Kind.QUARANTINE: _at_their_location(QuarantinedDoses.location_id),
    Kind.STAFF_ACCOUNT: _staff_accounts,
    Kind.CASE: _cases,
    Kind.ENROLLMENT: _enrollments,
}

KIND_OF: dict[type[SQLModel], Kind] = {
    Recipient: Kind.RECIPIENT, BulkUpload: Kind.UPLOAD, Appointment: Kind.APPOINTMENT,
    Administration: Kind.ADMINISTRATION, Lot: Kind.LOT, Organization: Kind.ORGANIZATION, Location: Kind.LOCATION,
    Shipment: Kind.SHIPMENT, ClinicSession: Kind.CLINIC_SESSION, StandbyEntry: Kind.STANDBY_ENTRY,
    LedgerEntry: Kind.LEDGER_ENTRY, QuarantinedDoses: Kind.QUARANTINE, Enrollment: Kind.ENROLLMENT,
    Case: Kind.CASE, User: Kind.STAFF_ACCOUNT,
}

_LABELS = {Kind.UPLOAD: 'upload', Kind.ADMINISTRATION: 'vaccination record', Kind.CLINIC_SESSION: 'clinic session',
           Kind.STANDBY_ENTRY: 'stand-by entry', Kind.LEDGER_ENTRY: 'stock record',
           Kind.QUARANTINE: 'quarantined doses', Kind.ENROLLMENT: 'Provider Agreement',
           Kind.STAFF_ACCOUNT: 'account'}
