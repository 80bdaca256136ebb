"""The permission matrix: every role against every action, written out by hand so a change to the rules
has to change this table too."""
from __future__ import annotations

import pytest
from sqlmodel import select

from models import AuditEvent, Role
from services.core.db import session_scope
from services.core.errors import NotAllowed
from services.permissions import Action, can, may_see_health_data, require, works_at
from services.principal import Principal

# state admin, location manager, healthcare provider, employer, recipient, a provider organization's enrollment
# contact (while it enrolls), help desk agent, support portal user
A, L, H, E, R, P, D, S = 'A', 'L', 'H', 'E', 'R', 'P', 'D', 'S'
ROLE_CODES = {A: Role.STATE_ADMIN, L: Role.LOCATION_MANAGER, H: Role.HEALTHCARE_PROVIDER, E: Role.EMPLOYER,
              R: Role.RECIPIENT, P: Role.ENROLLMENT_CONTACT, D: Role.HELP_DESK_AGENT, S: Role.SUPPORT_USER}

# Which roles may do each action.
EXPECTED = {
    Action.VIEW_DASHBOARD: 'ALHERPDS',
    Action.CHANGE_OWN_PASSWORD: 'ALHERPDS',
    Action.VIEW_RECIPIENTS: 'ALH',
    Action.REGISTER_RECIPIENT: 'LH',
    Action.BULK_UPLOAD: 'LE',
    Action.REQUEST_RECIPIENT_REMOVAL: 'L',
    Action.MANAGE_APPOINTMENTS: 'LH',
    Action.MANAGE_CLINIC_SESSIONS: 'L',
    Action.CHECK_IN: 'LH',
    Action.RECORD_VACCINATION: 'LH',
    Action.CORRECT_VACCINATION: 'L',
    Action.VIEW_INVENTORY: 'ALH',
    Action.MANAGE_INVENTORY: 'L',
    Action.RECEIVE_SHIPMENT: 'L',
    Action.VIEW_SHIPMENTS: 'ALH',
    Action.VIEW_REPORTS: 'AL',
    Action.VIEW_ALL_LOCATIONS: 'A',
    Action.MANAGE_PRODUCTS: 'A',
    Action.ALLOCATE_VACCINE: 'A',
    Action.APPROVE_ORGANIZATIONS: 'A',
    Action.MANAGE_USERS: 'A',
    Action.VIEW_OUTBOX: 'A',
    Action.VIEW_AUDIT: 'A',
    Action.MANAGE_SETTINGS: 'A',
    Action.INVITE_EMPLOYEES: 'E',
    Action.VIEW_INVITATIONS: 'E',
    Action.USE_PORTAL: 'R',
    Action.ENROLL_ORGANIZATION: 'P',
    Action.OPEN_CASE: 'ALHERPDS',
    Action.WORK_CASES: 'AD',
    Action.MANAGE_RECIPIENT_RECORDS: 'AD',
    Action.WRITE_ARTICLES: 'AD',
    Action.TICK_READINESS: 'L',
    Action.MANAGE_STAFF: 'AL',
}


def person(role: str, *, location_id: int | None = 1, organization_id: int | None = 10,
           portal_account_id: int | None = None) -> Principal:
    return Principal(user_id=1, email='someone@example.org', role=role, location_id=location_id,
                     organization_id=organization_id, portal_account_id=portal_account_id)


def test_every_action_has_an_expected_row() -> None:
    assert set(EXPECTED) == set(Action), 'a new action needs its row in this table'


@pytest.mark.parametrize('action', list(Action))
@pytest.mark.parametrize('code', list(ROLE_CODES))
def test_role_against_action(code: str, action: Action) -> None:
    assert can(person(ROLE_CODES[code]), action) is (code in EXPECTED[action])


def test_nobody_logged_in_may_do_nothing() -> None:
    assert not any(can(None, action) for action in Action)


def test_location_staff_work_only_at_their_own_location() -> None:
    for role in (Role.LOCATION_MANAGER, Role.HEALTHCARE_PROVIDER):
        assert works_at(person(role, location_id=1), 1)
        assert not works_at(person(role, location_id=1), 2)
        assert not works_at(person(role, location_id=None), 1)
    assert works_at(person(Role.STATE_ADMIN, location_id=None), 2)
    assert not works_at(person(Role.EMPLOYER), 1)
    assert not works_at(person(Role.RECIPIENT), 1)
    assert not works_at(None, 1)


def test_employers_never_see_health_data() -> None:
    assert [code for code, role in ROLE_CODES.items() if may_see_health_data(person(role))] == [A, L, H, R, D]
    assert not may_see_health_data(None)


def test_a_refusal_raises_and_is_audited(db: str) -> None:
    provider = person(Role.HEALTHCARE_PROVIDER)
    with pytest.raises(NotAllowed):
        require(provider, Action.MANAGE_INVENTORY)
    with pytest.raises(NotAllowed):
        require(person(Role.LOCATION_MANAGER, location_id=1), Action.MANAGE_INVENTORY, location_id=2,
                check_location=True)
    with session_scope() as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == 'access_denied')).all()
    assert [e.detail for e in events] == ['refused: manage_inventory', 'refused: manage_inventory']
    assert events[1].entity_type == 'location' and events[1].entity_id == '2'


def test_a_refusal_inside_a_unit_of_work_is_audited_after_its_rollback(db: str) -> None:
    from models import Organization
    provider = person(Role.HEALTHCARE_PROVIDER)
    with pytest.raises(NotAllowed), session_scope() as session:
        session.add(Organization(name='Half-written'))
        session.flush()  # the unit of work holds the write lock now
        require(provider, Action.MANAGE_INVENTORY, entity='lot:7')
    with session_scope() as session:
        assert session.exec(select(Organization)).all() == []  # the refused work was rolled back
        [event] = session.exec(select(AuditEvent).where(AuditEvent.action == 'access_denied')).all()
    assert (event.entity_type, event.entity_id, event.detail) == ('lot', '7', 'refused: manage_inventory')
