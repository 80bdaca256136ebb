"""Demo data for a first look: one of each role around "Demo Health System" / Clinic Location1 (DEMO1)."""
from __future__ import annotations

from datetime import date

from sqlmodel import Session, select

from models import EnrollmentStatus, LocationCreate, OrganizationCreate, OrganizationKind, Recipient, Role, User
from services.accounts.staff import create_location, create_organization, create_user
from services.clinic.demo import seed_clinic
from services.core.db import session_scope
from services.enrollment.demo import seed_enrollment
from services.helpdesk.kb_demo import seed_articles
from services.inventory.demo import seed_inventory
from services.organizations.readiness import seed_demo as seed_readiness
from services.portal.accounts import attach_recipient
from services.recipients.identity import fold, identity_key

DEMO_PASSWORD = 'Demo-Password-2021'
DEMO_LOGINS = [
    ('admin@demo.cvms.example.org', Role.STATE_ADMIN, 'Sam State'),
    ('manager@demo.cvms.example.org', Role.LOCATION_MANAGER, 'Maria Manager'),
    ('provider@demo.cvms.example.org', Role.HEALTHCARE_PROVIDER, 'Pat Provider'),
    ('employer@demo.cvms.example.org', Role.EMPLOYER, 'Erin Employer'),
    ('recipient@demo.cvms.example.org', Role.RECIPIENT, 'Grace Wilms'),
    ('agent@demo.cvms.example.org', Role.HELP_DESK_AGENT, 'Alex Agent'),
]


def database_is_empty() -> bool:
    with session_scope(read_only=True) as session:
        return session.exec(select(User.id).limit(1)).first() is None


def seed_demo() -> list[tuple[str, str, str]]:
    """Create the demo records (call only on an empty database). Returns (email, role, password) rows."""
    with session_scope() as session:
        _seed(session)
    return [(email, role.label, DEMO_PASSWORD) for email, role, _ in DEMO_LOGINS]


def seed_dose_history() -> int:
    """Past doses at DEMO1 for `serve --demo` and `seed-demo` (not the tests' demo data): services.clinic.demo."""
    from services.clinic.demo import seed_dose_history as seed
    return seed()


def _seed(session: Session) -> None:
    provider = create_organization(session, OrganizationCreate(
        name='Demo Health System', kind=OrganizationKind.PROVIDER, provider_pin='NCA650001',
        enrollment_status=EnrollmentStatus.APPROVED, redistribution_agreement=True))
    clinic = create_location(session, LocationCreate(
        name='Clinic Location1', code='DEMO1', organization_id=provider.id or 0, address_line1='101 Blair Drive',
        city='Raleigh', county='Wake', zip_code='27603', storage_capabilities='refrigerated,frozen,ultra_cold'))
    create_location(session, LocationCreate(
        name='Clinic Location2', code='DEMO2', organization_id=provider.id or 0, address_line1='5 Main Street',
        city='Durham', county='Durham', zip_code='27701', storage_capabilities='refrigerated'))
    employer = create_organization(session, OrganizationCreate(
        name='Demo Manufacturing Co.', kind=OrganizationKind.EMPLOYER, enrollment_status=EnrollmentStatus.APPROVED))
    admin, manager, provider_user, employer_user, recipient_login, agent = DEMO_LOGINS
    for email, role, name in (admin, agent):
        create_user(session, email=email, role=role, full_name=name, password=DEMO_PASSWORD)
    for email, role, name in (manager, provider_user):
        create_user(session, email=email, role=role, full_name=name, location_code=clinic.code, password=DEMO_PASSWORD)
    create_user(session, email=employer_user[0], role=employer_user[1], full_name=employer_user[2],
                organization_id=employer.id, password=DEMO_PASSWORD)
    grace = Recipient(first_name='Grace', last_name='Wilms', date_of_birth=date(1961, 3, 9),
                      email=recipient_login[0], location_id=clinic.id, organization_id=provider.id,
                      identity_key=identity_key('Grace', 'Wilms', date(1961, 3, 9)),
                      first_name_key=fold('Grace'), last_name_key=fold('Wilms'))
    session.add(grace)
    session.flush()
    attach_recipient(session, grace)
    session.flush()
    from services.accounts.passwords import (
        hash_password,  # the demo recipient can log in at once, without the emailed link
    )
    user = session.exec(select(User).where(User.email == recipient_login[0])).one()
    user.password_hash = hash_password(DEMO_PASSWORD)
    session.add(user)
    seed_inventory(session)
    seed_clinic(session)
    seed_enrollment(session, password=DEMO_PASSWORD)
    seed_articles(session)
    seed_readiness(session)
