"""Every rule of the Recipient Bulk Upload with real files, on SQLite and PostgreSQL (the `db` fixture)."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from models import AuditEvent, OutboxMessage, PortalAccount, Recipient, RecipientSource, User
from models.bulk import BulkUpload, BulkUploadFile, RemovalRequest
from services.bulk import registration as bulk
from services.bulk.pipeline import DUPLICATE, FileRejected
from services.core.db import session_scope
from services.core.errors import NotAllowed, ValidationFailed
from services.helpdesk import cases
from services.recipients import listing
from services.recipients.fields import email_problem
from tests.factories import ADMIN, EMPLOYER, MANAGER, PROVIDER, count_rows, principal

HEADER = 'First name,Last name,Date of birth,Email\r\n'
# What the messages add to the guide's wording: what to fix.
USE_NAME_CHARACTERS = ' (use only letters, digits, spaces, hyphens, apostrophes and periods)'
USE_EMAIL = ' (enter an address like name@example.org)'
USE_DATE = ' (enter it as MM/DD/YYYY)'


def in_location() -> int:
    """Recipients the demo data put in the manager's location (other areas' demo data add some)."""
    return listing.list_recipients(principal=principal(MANAGER)).total


def errors_of(preview: bulk.Preview) -> dict[int, str]:
    return {r.line: r.error for r in preview.rows if not r.ready}


def test_bom_crlf_quoted_commas_and_blank_rows(demo) -> None:
    data = ('\ufeff' + HEADER + 'Ashley1,Learn,12/1/1955,Ash1.Example@mailinator.com\r\n'
            '"Mary Ann","O\'Brien-Smith",02/03/1970,"mary@example.com"\r\n'
            ',,,\r\n'
            '"Smith, Jr",Bob,1/2/1990,bob@example.com\r\n').encode()
    preview = bulk.preview(principal=principal(MANAGER), data=data, file_name='Employee Bulk Upload File.csv')
    assert [r.line for r in preview.rows] == [2, 3, 5]  # the blank line 4 is skipped but still counted
    assert preview.rows[1].first_name == 'Mary Ann' and preview.rows[1].last_name == "O'Brien-Smith"
    assert errors_of(preview) == {5: f'Line 5: FirstName: invalid characters: Smith, Jr{USE_NAME_CHARACTERS}'}
    outcome = bulk.create_records(principal=principal(MANAGER), previewed=preview)
    assert (outcome.total, outcome.loaded, outcome.failed) == (3, 2, 1)
    with session_scope() as session:
        ashley = session.exec(select(Recipient).where(Recipient.first_name == 'Ashley1')).one()
        assert ashley.date_of_birth == date(1955, 12, 1)
        assert ashley.source == RecipientSource.BULK_UPLOAD and ashley.location_id is not None
        assert ashley.portal_account_id is not None


def test_windows_1252_file_keeps_accents(demo) -> None:
    data = (HEADER + 'Renée,Zoë,3/4/1980,renee@example.com\r\n').encode('cp1252')
    preview = bulk.preview(principal=principal(MANAGER), data=data, file_name='excel.csv')
    assert preview.rows[0].first_name == 'Renée' and preview.rows[0].ready
    bulk.create_records(principal=principal(MANAGER), previewed=preview)
    with session_scope() as session:
        assert session.exec(select(Recipient.last_name).where(Recipient.first_name == 'Renée')).one() == 'Zoë'


def test_header_aliases_error_column_and_unknown_columns(demo) -> None:
    data = (b'FirstName,LAST_NAME,dob,Email Address,Notes,Error\n'
            b'Nicholas,Smith,12/2/1955,n@example.com,call first,Line 2: Required fields are missing: [LastName]\n'
            )
    preview = bulk.preview(principal=principal(MANAGER), data=data, file_name='BulkError.csv')
    assert preview.rows[0].ready
    assert 'The Error column was ignored.' in preview.notices
    assert any('"Notes"' in notice for notice in preview.notices)


@pytest.mark.parametrize(('content', 'message'), [
    (b'', 'The file is empty'),
    (b'\xef\xbb\xbf\r\n', 'The file is empty'),
    (HEADER.encode(), 'header row but no records'),
    (b'First name,Email\nAna,a@b.org\n', 'missing the required columns "Last name", "Date of birth"'),
    (b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR' + bytes(range(256)), 'not a CSV or Excel'),
    (b'PK\x03\x04 not really a workbook', 'not a CSV or Excel'),
])
def test_files_refused_as_a_whole_load_nothing(demo, content: bytes, message: str) -> None:
    before = count_rows(Recipient)
    with pytest.raises(FileRejected, match=message):
        bulk.preview(principal=principal(MANAGER), data=content, file_name='file.csv')
    assert count_rows(Recipient) == before
    assert count_rows(AuditEvent, AuditEvent.action == 'bulk_upload_refused') == 1


def test_low_volume_takes_100_records_and_refuses_101(demo) -> None:
    before = count_rows(Recipient)
    rows = ''.join(f'Person{i},Family,1/1/1980,p{i}@example.com\n' for i in range(101))
    with pytest.raises(FileRejected, match='at most 100: use the High Volume tab'):
        bulk.preview(principal=principal(MANAGER), data=(HEADER + rows).encode(), file_name='big.csv')
    assert count_rows(Recipient) == before
    rows = ''.join(f'Person{i},Family,1/1/1980,p{i}@example.com\n' for i in range(100))
    manager = principal(MANAGER)
    checked = bulk.preview(principal=manager, data=(HEADER + rows).encode(), file_name='ok.csv')
    outcome = bulk.create_records(principal=manager, previewed=checked)
    assert outcome.loaded == 100


def test_high_volume_limit_and_file_size_checked_on_the_server(demo, monkeypatch) -> None:
    monkeypatch.setenv('CVMS_BULK_MAX_ROWS', '5')
    monkeypatch.setenv('CVMS_BULK_MAX_FILE_MB', '1')
    from services.core.settings import reset_settings
    reset_settings()
    before = count_rows(Recipient)
    rows = ''.join(f'Person{i},Family,1/1/1980,p{i}@example.com\n' for i in range(6))
    with pytest.raises(FileRejected, match='more than 5 records'):
        bulk.submit_file(principal=principal(MANAGER), file_name='six.csv', data=(HEADER + rows).encode())
    with pytest.raises(FileRejected, match='larger than 1 MB'):
        bulk.submit_file(principal=principal(MANAGER), file_name='huge.csv',
                         data=(HEADER + 'x' * (1024 * 1024)).encode())
    assert count_rows(Recipient) == before
    assert count_rows(BulkUploadFile) == 0  # refused files are not kept
    reset_settings()


def test_every_problem_of_a_row_in_one_cell_with_guide_messages(demo) -> None:
    future = (date.today() + timedelta(days=2)).strftime('%m/%d/%Y')
    data = (HEADER
            + 'Nicholas,,12/2/1955,Nicholas.NoEmail@companyemail2.com\n'
            + 'Nicholas,TestLoadE2Recip4,,\n'
            + 'Nicholas,TestLoadE2Recip5,12/5/1955,bademail\n'
            + 'Nicholas,TestLoadE2Recip7,12/7/1955,Nicholas.NoEmail@\n'
            + 'Nicholas,TestLoadE2Recip8,12/8/19555,n8@companyemail8.com\n'
            + '<b>,Lee;,2/30/1990,x@@y\n'
            + f'Future,Baby,{future},f@example.com\n'
            + 'Old,Timer,12/31/1899,o@example.com\n'
            + f'{"A" * 81},Long,1/1/1980,l@example.com\n'
            + 'Zoë-Ann,Nguyễn O’Neil Jr.,1/1/1980,zoe@bücher.de\n').encode()
    errors = errors_of(bulk.preview(principal=principal(MANAGER), data=data, file_name='MKTrocheWITHERRORS.csv'))
    assert errors[2] == 'Line 2: Required fields are missing: [LastName]'
    assert errors[3] == 'Line 3: Required fields are missing: [Date of birth, Email]'
    assert errors[4] == f'Line 4: Email: invalid email address: bademail{USE_EMAIL}'
    assert errors[5] == f'Line 5: Email: invalid email address: Nicholas.NoEmail@{USE_EMAIL}'
    assert errors[6] == f'Line 6: Date of birth: invalid Date of birth: 12/8/19555{USE_DATE}'
    assert errors[7] == (f'Line 7: FirstName: invalid characters: <b>{USE_NAME_CHARACTERS}; '
                         f'Line 7: LastName: invalid characters: Lee;{USE_NAME_CHARACTERS}; '
                         f'Line 7: Date of birth: invalid Date of birth: 2/30/1990{USE_DATE}; '
                         f'Line 7: Email: invalid email address: x@@y{USE_EMAIL}')
    assert errors[8] == f'Line 8: Date of birth: invalid Date of birth: {future} (it is in the future)'
    assert errors[9] == 'Line 9: Date of birth: invalid Date of birth: 12/31/1899 (more than 120 years ago)'
    assert errors[10].startswith('Line 10: FirstName: too long (at most 80 characters)')
    assert 11 not in errors  # accents, combining marks, ’ and periods, an international domain: all fine


@pytest.mark.parametrize('value', ['=1+2', '@SUM(A1)', '+cmd', '-2+3', 'a$b', 'x"y', 'tab\tname'])
def test_names_with_special_characters_fail(demo, value: str) -> None:
    data = io.StringIO()
    csv.writer(data).writerows([['First name', 'Last name', 'Date of birth', 'Email'],
                                [value, 'Doe', '1/1/1980', 'd@example.com']])
    errors = errors_of(bulk.preview(principal=principal(MANAGER), data=data.getvalue().encode(), file_name='x.csv'))
    assert errors[2] == f'Line 2: FirstName: invalid characters: {value}{USE_NAME_CHARACTERS}'


def test_duplicates_in_the_file_and_against_the_database(demo) -> None:
    before = count_rows(Recipient)
    data = (HEADER + 'Grace,Wilms,03/09/1961,other@example.com\n'  # the demo recipient
            + 'Ann,Lee,1/1/1980,ann@example.com\n'
            + ' ann , LEE ,01/01/1980,ann2@example.com\n'  # same person, other spelling
            + 'Ann,Lee,1/1/1981,ann@example.com\n').encode()  # another person sharing the household email
    preview = bulk.preview(principal=principal(MANAGER), data=data, file_name='dups.csv')
    assert errors_of(preview) == {2: f'Line 2: {DUPLICATE}', 4: f'Line 4: {DUPLICATE}'}
    outcome = bulk.create_records(principal=principal(MANAGER), previewed=preview)
    assert (outcome.loaded, outcome.failed) == (2, 2)
    again = bulk.create_records(principal=principal(MANAGER), previewed=bulk.preview(principal=principal(MANAGER),
                                                                                    data=data, file_name='dups.csv'))
    assert (again.loaded, again.failed) == (0, 4)  # a file uploaded twice creates nobody twice
    assert count_rows(Recipient) == before + 2


def test_welcome_and_household_emails_once_each(demo) -> None:
    data = (HEADER + 'Ann,Lee,1/1/1980,Ann@Example.com\n' + 'Bo,Lee,2/2/2012,ann@example.com\n'
            + 'Cy,Wilms,3/3/2015,recipient@demo.cvms.example.org\n'
            + 'Di,Staff,4/4/1970,manager@demo.cvms.example.org\n').encode()
    checked = bulk.preview(principal=principal(MANAGER), data=data, file_name='family.csv')
    outcome = bulk.create_records(principal=principal(MANAGER), previewed=checked)
    assert outcome.loaded == 4
    with session_scope() as session:
        messages = session.exec(select(OutboxMessage).where(OutboxMessage.dedupe_key.like('welcome:recipient:%'))
                                .order_by(OutboxMessage.id)).all()
        by_to = [(m.to_addr, m.subject) for m in messages if m.to_addr != 'recipient@demo.cvms.example.org'
                 or 'family member' in m.subject]
        assert by_to == [
            ('ann@example.com', 'Welcome to the North Carolina Vaccine Management COVID-19 Vaccine Portal'),
            ('ann@example.com', 'A family member was added to your COVID-19 Vaccine Portal account'),
            ('recipient@demo.cvms.example.org', 'A family member was added to your COVID-19 Vaccine Portal account'),
        ]
        assert 'username: ann@example.com' in messages[-3].body_text
        account = session.exec(select(PortalAccount).where(PortalAccount.email == 'ann@example.com')).one()
        household = session.exec(select(Recipient.first_name).where(Recipient.portal_account_id == account.id)).all()
        assert sorted(household) == ['Ann', 'Bo']
        staff = session.exec(select(Recipient).where(Recipient.first_name == 'Di')).one()
        assert staff.portal_account_id is None  # a staff login owns the address: no portal account, no email
        assert session.exec(select(User.full_name).where(User.email == 'ann@example.com')).one() == 'Ann Lee'


def test_error_file_keeps_original_columns_and_neutralises_formulas(demo) -> None:
    data = (b'First Name,Last Name,DOB,Email,Notes\n'
            b'=HYPERLINK("http://x"),Doe,1/1/1980,a@example.com,+1 555\n'
            b'Ann,-Lee,1/1/1980,@bad,\tnote\n')
    outcome = bulk.create_records(principal=principal(MANAGER), previewed=bulk.preview(principal=principal(MANAGER),
                                                                                      data=data, file_name='inj.csv'))
    report = outcome.error_file()
    assert report.startswith(b'\xef\xbb\xbf')  # Excel shows accents with the BOM
    rows = list(csv.reader(io.StringIO(report.decode('utf-8-sig'))))
    assert rows[0] == ['First Name', 'Last Name', 'DOB', 'Email', 'Notes', 'Error']
    assert rows[1][:5] == ["'=HYPERLINK(\"http://x\")", 'Doe', '1/1/1980', 'a@example.com', "'+1 555"]
    assert rows[1][5].startswith('Line 2: FirstName: invalid characters: =HYPERLINK')
    assert rows[2][:5] == ['Ann', "'-Lee", '1/1/1980', "'@bad", "'\tnote"]
    assert all(not cell.startswith(('=', '+', '-', '@', '\t', '\r')) for row in rows for cell in row)


def test_corrected_row_resubmitted_in_place(demo) -> None:
    data = (HEADER + 'Ann,Lee,1/1/1980,ann@example.com\n' + 'Bo,,2/2/1990,bo@example.com\n').encode()
    manager = principal(MANAGER)
    outcome = bulk.create_records(principal=manager, previewed=bulk.preview(principal=manager, data=data,
                                                                           file_name='fix.csv'))
    assert (outcome.loaded, outcome.failed) == (1, 1)
    still = bulk.resubmit_row(principal=manager, upload_id=outcome.upload_id, line=3, first_name='Bo', last_name='',
                              date_of_birth='2/2/1990',
                              email='bo@example.com')
    assert not still.ready and still.error == 'Line 3: Required fields are missing: [LastName]'
    fixed = bulk.resubmit_row(principal=manager, upload_id=outcome.upload_id, line=3, first_name='Bo', last_name='Lee',
                              date_of_birth='2/2/1990', email='bo@example.com')
    assert fixed.ready
    assert bulk.upload_status(principal=manager, upload_id=outcome.upload_id).loaded == 2
    assert bulk.upload_error_file(principal=manager, upload_id=outcome.upload_id) is None
    assert count_rows(Recipient, Recipient.first_name == 'Bo') == 1


def test_xlsx_upload_with_real_dates(demo) -> None:
    from openpyxl import Workbook
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(['First name', 'Last name', 'Date of birth', 'Email'])
    sheet.append(['Ana', 'Diaz', date(1955, 12, 1), 'ana@example.com'])
    sheet.append(['Luis', 'Diaz', '2/3/1960', 'luis@example.com'])
    buffer = io.BytesIO()
    workbook.save(buffer)
    preview = bulk.preview(principal=principal(MANAGER), data=buffer.getvalue(), file_name='employees.xlsx')
    assert [(r.first_name, r.date_of_birth_text, r.ready) for r in preview.rows] == [
        ('Ana', '12/1/1955', True), ('Luis', '2/3/1960', True)]
    template = bulk.template_xlsx()
    assert template.startswith(b'PK')
    assert bulk.template_csv().decode('utf-8-sig').strip() == 'First name,Last name,Date of birth,Email'


def test_employer_uploads_are_their_invitees(demo) -> None:
    employer = principal(EMPLOYER)
    data = (HEADER + 'Eve,Worker,5/5/1985,eve@example.com\n').encode()
    checked = bulk.preview(principal=employer, data=data, file_name='staff.csv')
    bulk.create_records(principal=employer, previewed=checked)
    with session_scope() as session:
        eve = session.exec(select(Recipient).where(Recipient.first_name == 'Eve')).one()
        assert eve.organization_id == employer.organization_id and eve.location_id is None
        assert eve.source == RecipientSource.EMPLOYER_INVITATION
    page = listing.list_recipients(principal=employer)
    assert 'Eve' in [r.first_name for r in page.rows]
    assert 'Eve' not in [r.first_name for r in listing.list_recipients(principal=principal(MANAGER), search='eve').rows]


def test_only_allowed_roles_upload(demo) -> None:
    data = (HEADER + 'Eve,Worker,5/5/1985,eve@example.com\n').encode()
    for email in (PROVIDER, ADMIN):
        with pytest.raises(NotAllowed):
            bulk.preview(principal=principal(email), data=data, file_name='x.csv')


def test_concurrent_uploads_cannot_duplicate_a_person(demo) -> None:
    """Two Create Records of the same file at once: the unique identity key lets only one create each person."""
    from concurrent.futures import ThreadPoolExecutor
    rows = ''.join(f'Twin{i},Same,1/1/1980,t{i}@example.com\n' for i in range(50))
    manager = principal(MANAGER)
    preview = bulk.preview(principal=manager, data=(HEADER + rows).encode(), file_name='twice.csv')
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda _: bulk.create_records(principal=manager, previewed=preview), range(2)))
    assert sorted(o.loaded for o in outcomes) == [0, 50]
    assert count_rows(Recipient, Recipient.last_name == 'Same') == 50
    assert count_rows(OutboxMessage, OutboxMessage.to_addr.like('t%@example.com')) == 50


def test_loaded_list_counts_a_broad_search_only_up_to_the_cap(demo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listing, 'MATCH_COUNT_CAP', 5)
    manager = principal(MANAGER)
    rows = ''.join(f'Sam{i},Smith{i},1/{i + 1}/1970,s{i}@example.com\n' for i in range(4)) + \
        ''.join(f'Smitty{i},Jones{i},2/{i + 1}/1970,j{i}@example.com\n' for i in range(4))
    bulk.create_records(principal=manager, previewed=bulk.preview(principal=manager, data=(HEADER + rows).encode(),
                                                                 file_name='smiths.csv'))
    broad = listing.list_recipients(principal=manager, search='smi', per_page=25)
    assert broad.more_than and broad.matching == 6  # 8 match (last or first name); counting stopped past 5
    assert len(broad.rows) == 8  # the page itself is not cut by the count
    narrow = listing.list_recipients(principal=manager, search='smith', per_page=25)
    assert not narrow.more_than and narrow.matching == 4


def test_loaded_list_pages_a_broad_and_a_narrow_match_together_in_order(demo,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """One search whose last-name matches pass the cap (read in order) and whose first-name matches do not
    (read whole): every page is cut from both, in the asked order, with no one twice or missing."""
    monkeypatch.setattr(listing, 'MATCH_COUNT_CAP', 5)
    manager = principal(MANAGER)
    rows = ''.join(f'Ann{i},Smi{chr(97 + (i * 5) % 8)}{i},3/{i + 1}/1970,z{7 - i}@example.com\n' for i in range(8)) + \
        'Smia,Able,4/1/1970,m1@example.com\nSmib,Zed,4/2/1970,a1@example.com\n'
    bulk.create_records(principal=manager, previewed=bulk.preview(principal=manager, data=(HEADER + rows).encode(),
                                                                 file_name='mixed.csv'))
    for sort, descending in [('last_name', False), ('last_name', True), ('first_name', False), ('email', True)]:
        every = listing.list_recipients(principal=manager, search='smi', sort=sort, descending=descending, per_page=25)
        assert every.more_than and len(every.rows) == 10
        key = {'last_name': lambda r: (r.last_name.casefold(), r.first_name.casefold()),
               'first_name': lambda r: (r.first_name.casefold(), r.last_name.casefold()),
               'email': lambda r: r.email}[sort]
        assert [key(r) for r in every.rows] == sorted((key(r) for r in every.rows), reverse=descending)
        for walk in (5000, 12, 3):  # a sort by email first walks this many people in email order
            monkeypatch.setattr(listing, 'EMAIL_WALK', walk)
            paged = [r.id for page in (1, 2, 3, 4) for r in listing.list_recipients(
                principal=manager, search='smi', sort=sort, descending=descending, page=page, per_page=3).rows]
            assert paged == [r.id for r in every.rows]
    assert [r.last_name for r in listing.list_recipients(principal=manager, search='smib').rows] == ['Smib5', 'Zed']
    assert listing.list_recipients(principal=manager, search='smiz').rows == []


def test_list_progress_and_preview_answer_while_a_chunk_holds_the_write_lock(demo) -> None:
    """A High Volume chunk keeps SQLite's write lock for about a second: polling upload progress and previewing a
    Low Volume file only read, and must not wait for it (nor fail as locked). A list search records who looked at
    whom (an audit row), so it waits for the chunk's commit, and then answers."""
    import threading
    manager = principal(MANAGER)
    holding, release = threading.Event(), threading.Event()
    searched: list = []

    def writer() -> None:
        with session_scope() as session:
            session.add(RemovalRequest(recipient_id=1, reason='held lock', requested_by_email=MANAGER))
            session.flush()
            holding.set()
            release.wait(30)
            session.rollback()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(10)
        search = threading.Thread(target=lambda: searched.append(
            listing.list_recipients(principal=manager, search='grace')))
        search.start()
        assert bulk.upload_history(principal=manager) == bulk.upload_history(principal=manager)
        assert bulk.preview(principal=manager, data=(HEADER + 'Ann,Lee,1/1/1980,ann@example.com\n').encode(),
                            file_name='x.csv').ready_count == 1
        assert thread.is_alive()  # every answer came while the writer still held its lock
    finally:
        release.set()
        thread.join(30)
    search.join(15)
    assert searched and searched[0].rows  # answered once the chunk committed, not refused as locked


def test_loaded_list_search_sort_pages_and_removal_request(demo) -> None:
    manager = principal(MANAGER)
    before = in_location()
    rows = ''.join(f'Person{i:02d},Family{i % 3},1/{i + 1}/1980,p{i}@example.com\n' for i in range(30))
    checked = bulk.preview(principal=manager, data=(HEADER + rows + 'Renée,Élan,1/1/1990,r@x.org\n').encode(),
                           file_name='list.csv')
    bulk.create_records(principal=manager, previewed=checked)
    page = listing.list_recipients(principal=manager, per_page=10)
    assert page.total == before + 31 and len(page.rows) == 10
    found = listing.list_recipients(principal=manager, search='person1')
    assert sorted(r.first_name for r in found.rows) == [f'Person{i}' for i in range(10, 20)]
    assert found.total == before + 31 and found.matching == 10
    assert [r.first_name for r in listing.list_recipients(principal=manager,
                                                          search='RENEE').rows] == ['Renée']  # accents aside
    assert [r.first_name for r in listing.list_recipients(principal=manager, search='élan').rows] == ['Renée']
    assert 'Grace' in [r.first_name for r in listing.list_recipients(principal=manager, search='grace wilms').rows]
    assert [r.first_name for r in listing.list_recipients(principal=manager, search='wilms grace').rows] == \
        [r.first_name for r in listing.list_recipients(principal=manager, search='grace wilms').rows]
    by_first = listing.list_recipients(principal=manager, search='person', sort='first_name', descending=True,
                                              per_page=3)
    assert [r.first_name for r in by_first.rows] == ['Person29', 'Person28', 'Person27']
    by_last = listing.list_recipients(principal=manager, search='family2', sort='last_name')
    assert {r.last_name for r in by_last.rows} == {'Family2'} and by_last.matching == 10
    second = listing.list_recipients(principal=manager, search='person', sort='first_name', page=2, per_page=5)
    assert [r.first_name for r in second.rows] == ['Person05', 'Person06', 'Person07', 'Person08', 'Person09']
    assert listing.list_recipients(principal=principal(ADMIN)).total == count_rows(Recipient)
    target = found.rows[0]
    with pytest.raises(ValidationFailed):
        listing.request_removal(principal=manager, recipient_id=target.id, reason='')
    number = listing.request_removal(principal=manager, recipient_id=target.id,
                                     reason='Duplicate of an existing employee record')
    assert count_rows(Recipient, Recipient.id == target.id) == 1  # nothing is deleted
    # the request is a "Remove a recipient" case in the help desk's queue
    [case] = cases.queue(principal=principal(ADMIN), group='Recipient Records').rows
    assert case.number == number and case.requester_email == MANAGER and case.state == 'new'
    with pytest.raises(ValidationFailed, match='already open'):
        listing.request_removal(principal=manager, recipient_id=target.id, reason='Asked again by mistake')


def test_audit_events_name_who_which_file_and_counts(demo) -> None:
    manager = principal(MANAGER)
    data = (HEADER + 'Ann,Lee,1/1/1980,ann@example.com\nBo,,2/2/1990,bo@example.com\n').encode()
    outcome = bulk.create_records(principal=manager, previewed=bulk.preview(principal=manager, data=data,
                                                                           file_name='audit.csv'))
    with session_scope() as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.action == 'bulk_upload_loaded')).one()
        assert event.actor_email == MANAGER and event.entity_id == str(outcome.upload_id)
        assert "file='audit.csv'" in event.detail and 'loaded=1 failed=1' in event.detail
        upload = session.get(BulkUpload, outcome.upload_id)
        assert json.loads(upload.header_json) == ['First name', 'Last name', 'Date of birth', 'Email']


@pytest.mark.parametrize(('address', 'ok'), [
    ('a@b.com', True), ('Ash1.Example@mailinator.com', True), ("o'neil+tag@x.org", True), ('zoe@bücher.de', True),
    ('ü@b.de', True), ('bademail', False), ('a@b', False), ('a..b@c.com', False), ('a@-b.com', False),
    ('a b@c.com', False), ('a@b.com.', False),
    ('x' * 65 + '@b.com', True),  # email-validator accepts it, so we do
])
def test_email_rule_agrees_with_email_validator(address: str, ok: bool) -> None:
    from email_validator import EmailNotValidError, validate_email
    try:
        validate_email(address, check_deliverability=False)
        reference = True
    except EmailNotValidError:
        reference = False
    assert reference == ok
    assert (email_problem(address) is None) == ok


def test_uploaded_files_are_kept_in_the_database_until_their_job_is_done(demo) -> None:
    """Any worker can read the file (not only the instance that received it); its name never becomes a path."""
    import os

    def files_on_disk() -> set[Path]:  # besides the SQLite database's own
        return {p for p in Path(os.environ['CVMS_DATA_DIR']).rglob('*') if p.is_file() and '.sqlite3' not in p.name}

    before = files_on_disk()
    data = (HEADER + 'Ann,Lee,1/1/1980,ann@example.com\n').encode()
    summary = bulk.submit_file(principal=principal(MANAGER), file_name='../../etc/passwd', data=data)
    with session_scope() as session:
        assert session.get(BulkUploadFile, summary.id).data == data
    assert files_on_disk() == before
    assert bulk.run_job(summary.id).loaded == 1
    assert count_rows(BulkUploadFile) == 0  # only the failed rows are kept once the job is done


def test_list_totals_follow_every_insert_move_and_delete(demo) -> None:
    """The list's total comes from counts the database keeps with triggers: whoever writes recipients (an upload's
    bulk insert, another screen's ORM insert, a move to another location, a delete), the totals stay exact."""
    from models import Location
    manager, admin = principal(MANAGER), principal(ADMIN)

    def totals() -> tuple[int, int, int]:
        return (listing.list_recipients(principal=manager).total, listing.list_recipients(principal=admin).total,
                listing.list_recipients(principal=admin, location_id=manager.location_id).total)

    def truth() -> tuple[int, int, int]:
        mine = count_rows(Recipient, Recipient.location_id == manager.location_id)
        return mine, count_rows(Recipient), mine

    assert totals() == truth()
    rows = ''.join(f'Counted{i},Person,1/{i + 1}/1980,c{i}@example.com\n' for i in range(5))
    bulk.create_records(principal=manager, previewed=bulk.preview(principal=manager, data=(HEADER + rows).encode(),
                                                                 file_name='count.csv'))
    assert totals() == truth()
    with session_scope() as session:
        other = session.exec(select(Location).where(Location.id != manager.location_id)).first()
        session.add(Recipient(first_name='Orm', last_name='Insert', date_of_birth=date(1970, 1, 1),
                              identity_key='orm|insert|1970-01-01', location_id=manager.location_id))
    assert totals() == truth()
    with session_scope() as session:
        moved = session.exec(select(Recipient).where(Recipient.first_name == 'Counted1')).one()
        moved.location_id = other.id if other else None
        session.add(moved)
    assert totals() == truth()
    with session_scope() as session:
        session.delete(session.exec(select(Recipient).where(Recipient.first_name == 'Counted2')).one())
    assert totals() == truth()
