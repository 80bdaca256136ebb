"""Demo data of the Provider Enrollment Portal: one organization whose agreement waits in the review queue."""
from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import Session

from models import EnrollmentStatus, OrganizationCreate, OrganizationKind, Role, utcnow
from models.enrollment import Enrollment, EnrollmentNote, EnrollmentSignature
from services.accounts.staff import create_organization, create_user
from services.enrollment import form

DEMO_CONTACT = 'enroll@piedmont.demo.cvms.example.org'


def demo_draft() -> dict:
    """A complete agreement: Section A, two officers, one location with a refrigerator and a freezer."""
    return {
        'organization': {'legal_name': 'Piedmont Family Clinic', 'org_type': 'clinic',
                         'address_line1': '220 Elm Street', 'city': 'Greensboro', 'county': 'Guilford',
                         'zip_code': '27401', 'phone': '336-555-0140'},
        'cmo': {'name': 'Dana Okafor', 'title': 'MD, NC license 2009-01234', 'email': 'dokafor@piedmont.example.org',
                'phone': '336-555-0141'},
        'ceo': {'name': 'Lee Whitfield', 'title': 'Chief Executive Officer', 'email': 'lwhitfield@piedmont.example.org',
                'phone': '336-555-0142'},
        'locations': [{
            'name': 'Piedmont Family Clinic Elm Street', 'address_line1': '220 Elm Street', 'city': 'Greensboro',
            'county': 'Guilford', 'zip_code': '27401', 'time_zone': '', 'hours': 'Mon-Fri 8:00-17:00',
            'primary_name': 'Robin Reyes', 'primary_email': 'rreyes@piedmont.demo.cvms.example.org',
            'primary_phone': '336-555-0143', 'backup_name': 'Chris Lane', 'backup_email': 'clane@piedmont.example.org',
            'backup_phone': '336-555-0144', 'population': 'general', 'people_per_week': '300',
            'storage_units': [{'type': 'refrigerator', 'capacity': '1200'}, {'type': 'freezer', 'capacity': '600'}]}],
        'redistribution': False,
    }


def seed_enrollment(session: Session, *, password: str | None = None) -> None:
    """Piedmont Family Clinic, Submitted two days ago (its contact logs in with the demo password)."""
    organization = create_organization(session, OrganizationCreate(
        name='Piedmont Family Clinic', kind=OrganizationKind.PROVIDER, enrollment_status=EnrollmentStatus.SUBMITTED))
    contact = create_user(session, email=DEMO_CONTACT, role=Role.ENROLLMENT_CONTACT, full_name='Jordan Piedmont',
                          organization_id=organization.id, password=password, send_welcome=False)
    submitted = utcnow() - timedelta(days=2)
    draft = demo_draft()
    enrollment = Enrollment(organization_id=organization.id or 0, contact_email=DEMO_CONTACT,
                            contact_user_id=contact.id, priority_group='G1', invited_at=submitted - timedelta(days=5),
                            step=len(form.STEPS) - 1, draft_json=json.dumps(draft), submitted_at=submitted,
                            updated_at=submitted)
    session.add(enrollment)
    session.flush()
    for part in ('cmo', 'ceo'):
        session.add(EnrollmentSignature(enrollment_id=enrollment.id or 0, part=part, signer_name=draft[part]['name'],
                                        signer_title=draft[part]['title'], attestations=json.dumps(
                                            sorted(form.ATTESTATIONS)), signed_at=submitted,
                                        signed_by_user_id=contact.id))
    session.add(EnrollmentNote(enrollment_id=enrollment.id or 0, kind='submitted', author_user_id=contact.id,
                               created_at=submitted))
