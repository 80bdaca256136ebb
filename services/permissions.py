"""Every permission rule of the system, in one place. Pages, the CLI and jobs all ask here.

Two questions: may this role do this action at all (`can`), and may this person touch this
particular record (`can_access_location`, `can_access_recipient`). `require` asks and, on a
refusal, records an audit event and raises NotAllowed.
"""
from __future__ import annotations

from enum import StrEnum
from typing import NoReturn

from sqlmodel import Session

from models import Role
from services.core import audit
from services.core.errors import NotAllowed
from services.principal import Principal


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


_A = Action
_STAFF_DESK = {_A.VIEW_RECIPIENTS, _A.REGISTER_RECIPIENT, _A.MANAGE_APPOINTMENTS, _A.CHECK_IN,
               _A.RECORD_VACCINATION, _A.VIEW_INVENTORY, _A.VIEW_SHIPMENTS}
_EVERYONE = {_A.VIEW_DASHBOARD, _A.CHANGE_OWN_PASSWORD}

ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    Role.STATE_ADMIN: frozenset(_EVERYONE | {
        _A.VIEW_RECIPIENTS, _A.VIEW_INVENTORY, _A.VIEW_SHIPMENTS, _A.VIEW_REPORTS, _A.VIEW_ALL_LOCATIONS,
        _A.MANAGE_PRODUCTS, _A.ALLOCATE_VACCINE, _A.APPROVE_ORGANIZATIONS, _A.MANAGE_USERS, _A.VIEW_OUTBOX,
        _A.VIEW_AUDIT, _A.MANAGE_SETTINGS}),
    # Only the Location Manager profile may manage inventory and invite recipients (training page, steps 3-4).
    Role.LOCATION_MANAGER: frozenset(_EVERYONE | _STAFF_DESK | {
        _A.BULK_UPLOAD, _A.REQUEST_RECIPIENT_REMOVAL, _A.MANAGE_CLINIC_SESSIONS, _A.CORRECT_VACCINATION,
        _A.MANAGE_INVENTORY, _A.RECEIVE_SHIPMENT, _A.VIEW_REPORTS}),
    Role.HEALTHCARE_PROVIDER: frozenset(_EVERYONE | _STAFF_DESK),
    Role.EMPLOYER: frozenset(_EVERYONE | {_A.BULK_UPLOAD, _A.INVITE_EMPLOYEES, _A.VIEW_INVITATIONS}),
    Role.RECIPIENT: frozenset(_EVERYONE | {_A.USE_PORTAL}),
}


def can(principal: Principal | None, action: Action) -> bool:
    if principal is None:
        return False
    return action in ROLE_ACTIONS.get(principal.role, frozenset())


def can_access_location(principal: Principal | None, location_id: int | None) -> bool:
    """State admins see every location; location staff only their own; nobody else any."""
    if principal is None or location_id is None:
        return False
    if principal.role == Role.STATE_ADMIN:
        return True
    if principal.role in (Role.LOCATION_MANAGER, Role.HEALTHCARE_PROVIDER):
        return principal.location_id == location_id
    return False


def can_access_recipient(principal: Principal | None, *, location_id: int | None, organization_id: int | None,
                         portal_account_id: int | None) -> bool:
    """Location staff: recipients of their location. Employers: the people their organization invited.
    Recipients: their own household. State admins: everyone."""
    if principal is None:
        return False
    if principal.role == Role.STATE_ADMIN:
        return True
    if principal.role in (Role.LOCATION_MANAGER, Role.HEALTHCARE_PROVIDER):
        return location_id is not None and principal.location_id == location_id
    if principal.role == Role.EMPLOYER:
        return organization_id is not None and principal.organization_id == organization_id
    if principal.role == Role.RECIPIENT:
        return portal_account_id is not None and principal.portal_account_id == portal_account_id
    return False


def require(principal: Principal | None, action: Action, *, location_id: int | None = None,
            check_location: bool = False, entity: str | None = None) -> Principal:
    """Raise NotAllowed (and audit the refusal) unless the principal may do `action` (at `location_id`)."""
    allowed = can(principal, action)
    if allowed and check_location:
        allowed = can_access_location(principal, location_id)
    if not allowed:
        deny(principal, action=str(action), entity=entity or (f'location:{location_id}' if location_id else None))
    assert principal is not None
    return principal


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
