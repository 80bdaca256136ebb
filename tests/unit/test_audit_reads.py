"""Reads of a person's record, downloads and count corrections leave audit rows (issue 12 item 7), chained."""
from __future__ import annotations

from sqlmodel import select

from models import AuditEvent
from services.clinic import administration, checkin
from services.core import audit
from services.core.db import session_scope
from services.inventory import ledger, reports
from services.portal import household_members, proof
from services.recipients import listing
from tests.factories import (
    MANAGER,
    RECIPIENT,
    appointment,
    location_id,
    principal,
    product,
    recipient,
    stocked_lot,
    today_session,
)


def events(action: str) -> list[AuditEvent]:
    with session_scope(read_only=True) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_views_downloads_and_corrections_are_audited(demo) -> None:
    manager = principal(MANAGER)
    product_id = product(name='Audit Vaccine')
    lot_id = stocked_lot(product_id, doses=10)
    person = recipient('Ada', 'Audited')

    page = listing.list_recipients(principal=manager, search='Audited')
    [seen] = events('view_recipient_list')
    assert seen.actor_email == MANAGER and "'Audited'" in seen.detail and str(person) in seen.detail
    assert [r.id for r in page.rows] == [person]

    today_session([product_id])
    booked = appointment(product_id, person)
    checkin.check_in(principal=manager, appointment_id=booked.id)
    administration.vaccination_form(principal=manager, appointment_id=booked.id)
    [form] = events('view_vaccination_form')
    assert (form.entity_type, form.entity_id, form.actor_email) == ('recipient', str(person), MANAGER)

    ledger.correct_count(principal=manager, location_id=location_id(), lot_id=lot_id, change=-2, reason='dropped')
    [correction] = events('inventory_count_correction')
    assert correction.entity_id == str(lot_id) and '-2 doses; dropped' in correction.detail

    report = reports.location_report(principal=manager, location_id=location_id())
    reports.location_report_csv(report, principal=manager)
    [download] = events('download_report_csv')
    assert download.actor_email == MANAGER and 'DEMO1' in download.detail

    who = principal(RECIPIENT)
    member = household_members.household(principal=who)[0]
    assert proof.proof_pdf(principal=who, recipient_id=member.id, lang='en').startswith(b'%PDF')
    [pdf] = events('download_proof_pdf')
    assert (pdf.entity_id, pdf.actor_email) == (str(member.id), RECIPIENT)
    assert events('view_proof_of_vaccination')[0].entity_id == str(member.id)

    assert audit.verify_chain() is None
