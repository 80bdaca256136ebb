"""Reads of a person's record, downloads and count corrections leave audit rows (issue 12 item 7), chained."""
from __future__ import annotations

from datetime import date

from sqlalchemy import text
from sqlmodel import select

from models import AuditEvent
from services.bulk import registration as bulk
from services.clinic import administration, back_entry, checkin, walkin
from services.core import audit
from services.core.db import is_postgres, session_scope
from services.inventory import ledger, reports
from services.portal import household_members, proof
from services.recipients import listing
from tests.factories import (
    ADMIN,
    MANAGER,
    PROVIDER,
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


def test_every_download_of_failed_rows_is_audited_low_volume_and_back_entry(demo) -> None:
    manager, provider = principal(MANAGER), principal(PROVIDER)
    data = b'FirstName,LastName,DateOfBirth,Email\nAnn,Lee,1/1/1980,ann@example.com\nBo,,2/2/1990,bo@example.com\n'
    outcome = bulk.create_records(principal=manager,
                                  previewed=bulk.preview(principal=manager, data=data, file_name='low.csv'))
    assert outcome.failed == 1
    assert b'Bo' in (bulk.upload_error_file(principal=manager, upload_id=outcome.upload_id) or b'')
    [download] = events('download_bulk_errors')
    assert (download.actor_email, download.entity_id) == (MANAGER, str(outcome.upload_id))

    paper = b'First name,Last name,Date of birth,Date given,Time given,Product,Lot number,Site,Route,' \
            b'Dose volume (mL)\nNo,Body,01/01/1970,03/09/2021,09:58,207,NO-LOT,x,y,0.5\n'
    loaded = back_entry.load_file(principal=provider, data=paper, email_errors=False)
    assert loaded.failed == 1
    assert back_entry.error_file_download(principal=provider, outcome=loaded) == loaded.error_file
    [paper_download] = events('download_back_entry_errors')
    assert paper_download.actor_email == PROVIDER and '1 lines' in paper_download.detail
    assert audit.verify_chain() is None


def test_desk_searches_for_a_person_are_audited_with_the_people_shown(demo) -> None:
    provider = principal(PROVIDER)
    person = recipient('Olga', 'Lookedup', born=date(1970, 5, 6))
    [hit] = walkin.search_walk_in(principal=provider, name='Olga Lookedup', date_of_birth=date(1970, 5, 6))
    assert hit.recipient_id == person
    [search] = events('search_walk_in')
    assert search.actor_email == PROVIDER and search.detail.endswith(f': recipients {person}')
    assert walkin.similar_people(principal=provider, name='Olgaa Lookedup', date_of_birth=date(1970, 5, 6))
    [alike] = events('view_similar_people')
    assert alike.detail.endswith(f': recipients {person}')


def test_the_person_filter_reads_an_index_not_the_whole_log(demo) -> None:
    """Rows about recipient 42 (their record, a list or a search that showed them) are found through auditsubject's
    key, newest first; ids that merely contain 42 are not (before: a LIKE over every row's detail)."""
    admin, manager = principal(ADMIN), principal(MANAGER)
    audit.record_now(action='view_vaccination_form', actor=manager, entity_type='recipient', entity_id=42)
    audit.record_now(action='view_vaccination_form', actor=manager, entity_type='recipient', entity_id=420)
    audit.record_now(action='view_recipient_list', actor=manager, detail='page 1: recipients 5,42,9',
                     subjects=[5, 42, 9])
    audit.record_now(action='view_recipient_list', actor=manager, detail='page 1: recipients 142,4200',
                     subjects=[142, 4200])
    audit.record_now(action='test_other', actor=manager, detail='recipients 42')
    page = audit.search(principal=admin, person=42)
    assert [(r.action, r.entity_id) for r in page.rows] == [('view_recipient_list', None),
                                                            ('view_vaccination_form', '42')]
    assert [r.action for r in audit.search(principal=admin, person=42, action='view_vaccination_form').rows] == [
        'view_vaccination_form']
    query = audit.search_query(person=42)
    with session_scope(read_only=True) as session:
        if is_postgres():
            session.execute(text('SET LOCAL enable_seqscan = off'))  # tiny tables: ask whether an index can serve it
            prefix = 'EXPLAIN '
        else:
            prefix = 'EXPLAIN QUERY PLAN '
        compiled = query.compile(session.get_bind(), compile_kwargs={'literal_binds': True})
        plan = ' '.join(str(row[-1]) for row in session.execute(text(prefix + str(compiled))))
    assert 'LIKE' not in str(compiled).upper()
    if is_postgres():
        assert 'Index' in plan and 'auditsubject_pkey' in plan, plan
    else:
        assert 'SEARCH auditsubject USING' in plan and 'recipient_id=' in plan and 'SCAN' not in plan, plan
