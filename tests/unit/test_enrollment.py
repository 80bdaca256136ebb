"""The Provider Enrollment Portal's services (issue 13, step 1): invitation, the agreement with Pause, signatures,
submission, the state's review queue and its three decisions, the provider PIN, the locations and location manager
accounts an approval creates, and the rule that only approved organizations receive vaccine."""
from __future__ import annotations

import re

import pytest
from sqlmodel import col, select

from models import AuditEvent, Location, Organization, User
from models.enrollment import Enrollment, StorageUnit
from services import dashboard
from services.accounts import auth
from services.core import mail
from services.core.db import session_scope
from services.core.errors import NotAllowed, ServiceError, ValidationFailed
from services.enrollment import agreement, form, invitations, review
from services.inventory import ledger, shipments
from tests import factories as fx
from tests.conftest import body_of

TOKEN = re.compile(r'/set-password/([A-Za-z0-9_\-]+)')


def status_of(enrollment_id: int) -> str:
    with session_scope(read_only=True) as session:
        enrollment = session.get(Enrollment, enrollment_id)
        return session.get(Organization, enrollment.organization_id).enrollment_status


def audited(action: str) -> list[AuditEvent]:
    with session_scope(read_only=True) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


async def test_an_invitation_emails_a_working_set_password_link_and_no_password(demo, smtp_server) -> None:
    enrollment_id = fx.invited_provider()
    assert status_of(enrollment_id) == 'invited'
    with session_scope(read_only=True) as session:
        contact = session.exec(select(User).where(User.email == fx.ENROLLING)).one()
        assert contact.role == 'enrollment_contact' and contact.password_hash is None
    assert [e.detail for e in audited('enrollment_invited')] == ['contact enroll@sandhills.example.org, priority G1']
    await mail.deliver_due()
    [email] = smtp_server.to(fx.ENROLLING)
    body = body_of(email)
    assert email['Subject'] == 'Enroll in the COVID-19 Vaccination Program' and 'Sandhills Pharmacy' in body
    [token] = TOKEN.findall(body)
    assert auth.check_token(token) == ('welcome', fx.ENROLLING)
    assert 'password:' not in body.lower()
    with pytest.raises(ValidationFailed, match='already exists'):  # one account per contact
        fx.invited_provider('Another Pharmacy')
    with pytest.raises(ValidationFailed, match='priority group'):
        invitations.invite(principal=fx.principal(fx.ADMIN), organization_name='X', contact_email='x@example.org',
                           priority_group='nope')
    with pytest.raises(NotAllowed):
        invitations.invite(principal=fx.principal(fx.MANAGER), organization_name='X', contact_email='x@example.org',
                           priority_group='G1')


def test_the_draft_is_kept_on_pause_and_signatures_need_the_name_and_every_attestation(demo) -> None:
    enrollment_id = fx.invited_provider()
    who = fx.principal(fx.ENROLLING)
    draft = form.empty_draft()
    draft['organization']['legal_name'] = 'Sandhills Pharmacy LLC'
    draft['cmo']['name'] = 'Dana Okafor'
    draft['locations'].append(form.empty_location())
    agreement.save_draft(principal=who, draft=draft, step=2, pause=True)
    assert status_of(enrollment_id) == 'in_progress'
    kept = agreement.my_agreement(principal=who)
    assert (kept.step, kept.paused, kept.draft['organization']['legal_name'], len(kept.draft['locations'])) == \
        (2, True, 'Sandhills Pharmacy LLC', 2)
    with pytest.raises(ValidationFailed, match='exactly as in Section A: Dana Okafor'):
        agreement.sign(principal=who, part='cmo', typed_name='Dan Okafor', attestations=list(form.ATTESTATIONS))
    with pytest.raises(ValidationFailed, match='Tick every requirement'):
        agreement.sign(principal=who, part='cmo', typed_name='dana  okafor', attestations=['no_charge'])
    with pytest.raises(ValidationFailed, match="chief executive officer's name in Section A"):
        agreement.sign(principal=who, part='ceo', typed_name='Lee', attestations=list(form.ATTESTATIONS))
    signed = agreement.sign(principal=who, part='cmo', typed_name='dana okafor', attestations=list(form.ATTESTATIONS))
    assert signed.signer_name == 'dana okafor' and signed.signed_at is not None
    problems = agreement.problems(agreement.my_agreement(principal=who))
    assert 'signature.cmo' not in problems and 'signature.ceo' in problems
    assert problems['locations.1.primary_email'] == 'Enter primary coordinator email.'
    with pytest.raises(ValidationFailed, match='not complete'):
        agreement.submit(principal=who)
    assert status_of(enrollment_id) == 'in_progress'
    with pytest.raises(NotAllowed):  # staff cannot fill an organization's agreement
        agreement.my_agreement(principal=fx.principal(fx.MANAGER))


async def test_submission_waits_in_the_queue_oldest_first_and_counts_on_the_dashboard(demo, smtp_server) -> None:
    admin = fx.principal(fx.ADMIN)
    before = dashboard.admin_summary(principal=admin)['Pending enrollments']
    assert before == 1  # the demo's Piedmont Family Clinic
    enrollment_id = fx.submitted_provider()
    assert status_of(enrollment_id) == 'submitted'
    assert dashboard.admin_summary(principal=admin)['Pending enrollments'] == 2
    queue = review.review_queue(principal=admin)
    assert [row.organization_name for row in queue.rows] == ['Piedmont Family Clinic', 'Sandhills Pharmacy']
    assert queue.counts['submitted'] == 2 and queue.counts['approved'] == 0
    with pytest.raises(ServiceError, match='can no longer be changed'):
        agreement.save_draft(principal=fx.principal(fx.ENROLLING), draft=fx.agreement_draft(), step=0)
    await mail.deliver_due()
    assert [e['Subject'] for e in smtp_server.to(fx.ENROLLING)][-1] == 'Provider Agreement received'
    with pytest.raises(NotAllowed):
        review.review_queue(principal=fx.principal(fx.MANAGER))


async def test_return_for_changes_the_provider_answers_and_resubmits(demo, smtp_server) -> None:
    admin = fx.principal(fx.ADMIN)
    enrollment_id = fx.submitted_provider()
    with pytest.raises(ValidationFailed):
        review.return_for_changes(principal=admin, enrollment_id=enrollment_id, note='  ')
    review.return_for_changes(principal=admin, enrollment_id=enrollment_id,
                              note='Add the hours of the weekend clinic.')
    assert status_of(enrollment_id) == 'returned'
    assert [e.detail for e in audited('enrollment_returned')] == ['Add the hours of the weekend clinic.']
    await mail.deliver_due()
    returned = smtp_server.to(fx.ENROLLING)[-1]
    assert returned['Subject'] == 'Provider Agreement returned for changes'
    assert 'Add the hours of the weekend clinic.' in body_of(returned)
    assert 'http://cvms.test/enrollment' in body_of(returned)  # the tests' CVMS_BASE_URL

    who = fx.principal(fx.ENROLLING)
    seen = agreement.my_agreement(principal=who)
    assert seen.return_note is not None and seen.return_note.text == 'Add the hours of the weekend clinic.'
    draft = seen.draft
    draft['locations'][0]['hours'] = 'Mon-Fri 8:00-17:00, Sat 9:00-13:00'
    agreement.save_draft(principal=who, draft=draft, step=4)
    assert status_of(enrollment_id) == 'returned'  # still returned until submitted again
    with pytest.raises(ValidationFailed, match="Answer the State's note"):
        agreement.submit(principal=who)
    agreement.submit(principal=who, answer='Added Saturday hours.')
    assert status_of(enrollment_id) == 'submitted'
    opened = review.open_agreement(principal=admin, enrollment_id=enrollment_id)
    assert [(n.kind, n.text) for n in opened.notes] == [
        ('submitted', ''), ('returned', 'Add the hours of the weekend clinic.'), ('answer', 'Added Saturday hours.'),
        ('submitted', '')]
    assert opened.draft['locations'][0]['hours'] == 'Mon-Fri 8:00-17:00, Sat 9:00-13:00'
    assert [row.resubmitted for row in review.review_queue(principal=admin).rows] == [False, True]


async def test_approval_gives_a_pin_locations_with_storage_and_a_location_manager_link(demo, smtp_server) -> None:
    admin = fx.principal(fx.ADMIN)
    enrollment_id = fx.submitted_provider(redistribution=True)
    pin = review.approve(principal=admin, enrollment_id=enrollment_id)
    assert re.fullmatch(r'NCA\d{6}', pin)
    assert status_of(enrollment_id) == 'approved'
    with session_scope(read_only=True) as session:
        organization = session.exec(select(Organization).where(Organization.provider_pin == pin)).one()
        assert organization.redistribution_agreement and organization.name == 'Sandhills Pharmacy'
        [location] = session.exec(select(Location).where(Location.organization_id == organization.id)).all()
        assert (location.code, location.name) == (f'{pin}-1', 'Sandhills Pharmacy Main')
        assert ledger.capabilities(location) == {'refrigerated', 'frozen'}
        units = session.exec(select(StorageUnit).where(StorageUnit.location_id == location.id)
                             .order_by(col(StorageUnit.id))).all()
        assert [(u.unit_type, u.capacity_doses) for u in units] == [('refrigerator', 1200), ('freezer', 600)]
        manager = session.exec(select(User).where(User.email == fx.COORDINATOR)).one()
        assert (manager.role, manager.location_id, manager.full_name) == ('location_manager', location.id,
                                                                          'Casey Coord')
    assert [e.detail for e in audited('enrollment_approved')] == [f'PIN {pin}; locations {pin}-1']
    choice = next(c for c in shipments.allocation_choices(principal=admin) if c['code'] == f'{pin}-1')
    assert choice['approved'] and choice['storage'] == ['frozen', 'refrigerated']
    with pytest.raises(ServiceError, match='not waiting for a decision'):
        review.reject(principal=admin, enrollment_id=enrollment_id, reason='Too late')

    await mail.deliver_due()
    approved = smtp_server.to(fx.ENROLLING)[-1]
    assert approved['Subject'] == 'Provider Agreement approved' and pin in body_of(approved)
    [welcome] = smtp_server.to(fx.COORDINATOR)
    [token] = TOKEN.findall(body_of(welcome))
    signed_in = auth.set_password_with_token(token=token, new_password='A-Fresh-Coordinator-Pass-21', browser='b')
    assert signed_in.principal.role == 'location_manager' and signed_in.principal.location_id is not None


def test_rejection_is_final_emailed_and_audited(demo) -> None:
    admin = fx.principal(fx.ADMIN)
    enrollment_id = fx.submitted_provider()
    with pytest.raises(ValidationFailed):
        review.reject(principal=admin, enrollment_id=enrollment_id, reason='')
    review.reject(principal=admin, enrollment_id=enrollment_id, reason='Not a North Carolina provider.')
    assert status_of(enrollment_id) == 'rejected'
    assert [e.detail for e in audited('enrollment_rejected')] == ['Not a North Carolina provider.']
    with pytest.raises(ServiceError, match='rejected'):
        agreement.submit(principal=fx.principal(fx.ENROLLING))
    with session_scope(read_only=True) as session:
        from models import OutboxMessage
        [message] = session.exec(select(OutboxMessage).where(OutboxMessage.to_addr == fx.ENROLLING)
                                 .where(OutboxMessage.subject == 'Provider Agreement not approved')).all()
        assert 'Not a North Carolina provider.' in message.body_text


def test_only_approved_organizations_receive_allocations_and_shipments(demo) -> None:
    admin = fx.principal(fx.ADMIN)
    product = fx.product(name='Spikevax Enroll')
    shipment = shipments.allocate(principal=admin, location_id=fx.location_id('DEMO1'), product_id=product, doses=10)
    with session_scope() as session:
        organization = session.get(Organization, fx.location(code='DEMO1').organization_id)
        organization.enrollment_status = 'suspended'
        session.add(organization)
    with pytest.raises(ServiceError, match=r'not approved \(suspended\)'):
        shipments.allocate(principal=admin, location_id=fx.location_id('DEMO1'), product_id=product, doses=10)
    with pytest.raises(ServiceError, match=r'not approved \(suspended\)'):
        shipments.mark_shipped(principal=admin, shipment_id=shipment.id)


def test_the_signed_agreement_prints_as_a_pdf_for_its_contact_and_the_state_only(demo) -> None:
    enrollment_id = fx.submitted_provider()
    pdf = agreement.agreement_pdf(principal=fx.principal(fx.ENROLLING), enrollment_id=enrollment_id)
    assert pdf.startswith(b'%PDF') and len(pdf) > 2000
    assert agreement.agreement_pdf(principal=fx.principal(fx.ADMIN), enrollment_id=enrollment_id).startswith(b'%PDF')
    with session_scope(read_only=True) as session:
        demo_enrollment = session.exec(select(Enrollment.id).where(Enrollment.contact_email != fx.ENROLLING)).first()
    with pytest.raises(NotAllowed):  # another organization's agreement
        agreement.agreement_pdf(principal=fx.principal(fx.ENROLLING), enrollment_id=demo_enrollment)
    assert len(audited('download_agreement_pdf')) == 2


def test_invitation_requests_only_while_the_state_takes_them(demo) -> None:
    admin = fx.principal(fx.ADMIN)
    request = {'organization_name': 'Coastal Urgent Care', 'contact_name': 'Ada Coast',
               'email': 'ada@coastal.example.org', 'phone': '910-555-0100', 'message': 'Two sites in Wilmington.'}
    assert invitations.request_invitation(**{**request, 'email': 'not-an-email', 'phone': '12'}) == {
        'email': 'Enter an email address like name@example.org.',
        'phone': 'Enter a 10-digit phone number, like 919-555-0100.'}
    with pytest.raises(ValidationFailed, match='not taking requests'):
        invitations.request_invitation(**request)
    invitations.set_invitation_requests_open(principal=admin, open_=True)
    assert invitations.request_invitation(**request) == {}
    [row] = invitations.list_invitation_requests(principal=admin)
    assert (row.organization_name, row.email) == ('Coastal Urgent Care', 'ada@coastal.example.org')
    invitations.invite(principal=admin, organization_name=row.organization_name, contact_email=row.email,
                       priority_group='G2')
    assert invitations.list_invitation_requests(principal=admin) == []  # invited: off the list
    with pytest.raises(NotAllowed):
        invitations.set_invitation_requests_open(principal=fx.principal(fx.MANAGER), open_=False)


def test_an_enrolling_organization_is_approved_only_through_its_agreement(demo) -> None:
    from services.organizations import employers
    enrollment_id = fx.submitted_provider()
    with session_scope(read_only=True) as session:
        organization_id = session.get(Enrollment, enrollment_id).organization_id
    with pytest.raises(ServiceError, match='approve its Provider Agreement'):
        employers.approve(principal=fx.principal(fx.ADMIN), organization_id=organization_id)
    assert status_of(enrollment_id) == 'submitted'


@pytest.mark.parametrize('redistribution', [True, False])
def test_transfers_between_locations_only_after_the_redistribution_agreement(demo, redistribution: bool) -> None:
    draft = fx.agreement_draft(redistribution=redistribution)
    second = {**draft['locations'][0], 'name': 'Sandhills Pharmacy Annex',
              'primary_email': 'annex@sandhills.example.org'}
    enrollment_id = fx.invited_provider()
    who = fx.signed_agreement(redistribution=redistribution)
    agreement.save_draft(principal=who, draft={**agreement.my_agreement(principal=who).draft,
                                               'locations': [draft['locations'][0], second]}, step=4)
    agreement.submit(principal=who)
    pin = review.approve(principal=fx.principal(fx.ADMIN), enrollment_id=enrollment_id)
    manager = fx.principal(fx.COORDINATOR)
    lot = fx.stocked_lot(doses=20, code=f'{pin}-1')
    destinations = {d.code for d in ledger.transfer_destinations(principal=manager, location_id=manager.location_id,
                                                                 lot_id=lot)}
    if redistribution:
        assert f'{pin}-2' in destinations
        ledger.transfer(principal=manager, from_location_id=manager.location_id,
                        to_location_id=fx.location_id(f'{pin}-2'), lot_id=lot, doses=5)
        assert fx.on_hand(lot, code=f'{pin}-2') == 5
    else:
        assert destinations == set()
        with pytest.raises(ServiceError):
            ledger.transfer(principal=manager, from_location_id=manager.location_id,
                            to_location_id=fx.location_id(f'{pin}-2'), lot_id=lot, doses=5)
