"""Bulk Registration through the simulated browser (NiceGUI's `user` fixture), as a location manager would."""
from __future__ import annotations

import asyncio
import csv
import io
import logging
import re
import threading

import pytest
from nicegui import ui
from nicegui.testing import User
from sqlalchemy import func
from sqlmodel import select

from models import Recipient
from models.helpdesk import Case
from services.bulk import registration as bulk
from services.core.db import session_scope
from tests.conftest import body_of
from tests.factories import ADMIN, MANAGER, count_rows, log_in

HEADER = 'First name,Last name,Date of birth,Email\r\n'
FILE = (HEADER + 'Ashley1,Learn,12/1/1955,Ash1.Example@mailinator.com\r\n'
        + 'Ashley2,Learn,12/2/1955,Ash2.Example@mailinator.com\r\n'
        + 'Nicholas,,12/2/1955,Nicholas.NoEmail@companyemail2.com\r\n'
        + 'Nicholas,TestLoadE2Recip5,12/5/1955,bademail\r\n').encode()


async def upload(user: User, marker: str, name: str, data: bytes) -> None:
    element = user.find(marker=marker).elements.pop()
    await element.handle_uploads([ui.upload.SmallFileUpload(name, 'text/csv', data)])


async def open_bulk_registration(user: User) -> int:
    """Open the screen; returns how many recipients the location already has (the demo data's)."""
    await log_in(user, MANAGER)
    await user.open('/bulk-registration')
    await user.should_see('Low Volume (100)')
    await user.should_see('High Volume (100,000)')
    with session_scope() as session:
        before = session.exec(select(func.count()).select_from(Recipient).where(Recipient.location_id == 1)).one()
    await user.should_see(f'Total number of records: {before:,}', retries=50)
    return before


async def test_low_volume_preview_then_cancel_creates_nothing(demo, user: User) -> None:
    await open_bulk_registration(user)
    before = count_rows(Recipient)
    await user.should_see('Drag and Drop CSV file here')
    await upload(user, 'low-volume-upload', 'MKTrocheWITHERRORS.csv', FILE)
    await user.should_see('MKTrocheWITHERRORS.csv', retries=100)
    await user.should_see('4 records: 2 ready, 2 failed')
    table = user.find(marker='preview-table').elements.pop()
    assert [(r['first_name'], r['status']) for r in table.rows] == [
        ('Ashley1', 'Ready'), ('Ashley2', 'Ready'),
        ('Nicholas', 'Failed: Line 4: Required fields are missing: [LastName]'),
        ('Nicholas', 'Failed: Line 5: Email: invalid email address: bademail (enter an address like name@example.org)')]
    user.find(marker='cancel-preview').click()
    await user.should_see('Nothing was loaded')
    await user.should_not_see('MKTrocheWITHERRORS.csv')
    assert count_rows(Recipient) == before


async def test_create_records_alert_error_file_and_correction(demo, user: User) -> None:
    in_list = await open_bulk_registration(user)
    before = count_rows(Recipient)
    await upload(user, 'low-volume-upload', 'MKTrocheWITHERRORS.csv', FILE)
    await user.should_see('4 records: 2 ready, 2 failed', retries=100)
    user.find(marker='create-records').click()
    await user.should_see('Successful records: 2', retries=100)
    await user.should_see('Failed records: 2')
    assert count_rows(Recipient) == before + 2
    await user.should_see(f'Total number of records: {in_list + 2}', retries=50)
    user.find(marker='download-bulk-error').click()
    response = await user.download.next()
    rows = list(csv.reader(io.StringIO(response.content.decode('utf-8-sig'))))
    assert rows[0] == ['First name', 'Last name', 'Date of birth', 'Email', 'Error']
    assert [r[4] for r in rows[1:]] == [
        'Line 4: Required fields are missing: [LastName]',
        'Line 5: Email: invalid email address: bademail (enter an address like name@example.org)']
    user.find('OK').click()
    # Correct line 4 in place and submit it again.
    user.find(marker='fix-last-name-4').type('Learn')
    user.find(marker='resubmit-4').click()
    await user.should_see('Line 4: record created.', retries=100)
    assert count_rows(Recipient) == before + 3


async def test_high_volume_progress_and_result(demo, user: User) -> None:
    in_list = await open_bulk_registration(user)
    user.find('High Volume (100,000)').click()
    rows = ''.join(f'Worker{i},Plant,1/{i % 28 + 1}/1980,w{i}@plant.example.com\r\n' for i in range(3000))
    await upload(user, 'high-volume-upload', 'plant.csv', (HEADER + rows + 'Bad,Row,13/13/1980,x\r\n').encode())
    await user.should_see('File submitted for processing', retries=100)
    history = user.find(marker='upload-history').elements.pop()
    for _ in range(100):  # the banner shows before the history's refresh (a worker thread) comes back
        if history.rows:
            break
        await asyncio.sleep(0.05)
    assert history.rows[0]['file'] == 'plant.csv' and history.rows[0]['total_shown'] == '3,001'
    await user.should_see('processing finished. 3,000 records loaded, 1 failed', retries=300)
    assert history.rows[0]['status'] == 'Done' and history.rows[0]['failed'] == 1
    assert (history.rows[0]['loaded_shown'], history.rows[0]['failed_shown']) == ('3,000', '1')
    await user.should_see(f'Total number of records: {in_list + 3000:,}', retries=50)
    # More than 1,000 people and an empty search box: nothing was searched, so no "more than 1,000 match".
    assert user.find(marker='broad-search').elements.pop().text == ''
    history_table = user.find(marker='upload-history')
    history_table.trigger('downloadErrors', {'id': history.rows[0]['id']})
    response = await user.download.next()
    assert ('Line 3002: Date of birth: invalid Date of birth: 13/13/1980 (enter it as MM/DD/YYYY)'
            in response.content.decode('utf-8-sig'))


async def test_high_volume_refusal_is_shown(demo, user: User) -> None:
    await open_bulk_registration(user)
    user.find('High Volume (100,000)').click()
    await upload(user, 'high-volume-upload', 'photo.csv', b'\x89PNG\r\n\x1a\n\x00\x00binary')
    await user.should_see('This file is not a CSV or Excel (.xlsx) file', retries=100)


async def test_loaded_list_search_sort_and_removal_request(demo, user: User) -> None:
    in_list = await open_bulk_registration(user)
    rows = ''.join(f'Tej{19820 + i},Par{19820 + i},3/8/2000,tejporey+forte{19820 + i}@gmail.com\r\n' for i in range(30))
    await upload(user, 'low-volume-upload', 'list.csv', (HEADER + rows + 'Mattt,Demmm,1/1/1990,m@x.org\r\n').encode())
    await user.should_see('31 records: 31 ready, 0 failed', retries=100)
    user.find(marker='create-records').click()
    await user.should_see(f'Total number of records: {in_list + 31}', retries=100)
    table = user.find(marker='recipients-table').elements.pop()
    assert len(table.rows) == 25 and table.pagination['rowsNumber'] == in_list + 31
    # Quasar's QTable emits update:pagination with its own copy when it mounts (rowsNumber 0 at that time); when
    # that arrived after the first page, the browser's label read "1-0 of 0". The server's count must stand.
    user.find(marker='recipients-table').trigger('update:pagination', {
        'rowsPerPage': 25, 'page': 1, 'sortBy': 'last_name', 'descending': False, 'rowsNumber': 0})
    await asyncio.sleep(0.05)
    assert table.props['pagination']['rowsNumber'] == in_list + 31 and table.props['pagination']['page'] == 1
    user.find(marker='recipient-search').type('mat')
    await asyncio.sleep(0.3)
    await user.should_see(f'Total number of records: {in_list + 31}')
    for _ in range(50):
        if [r['first_name'] for r in table.rows] == ['Mattt']:
            break
        await asyncio.sleep(0.05)
    assert [r['first_name'] for r in table.rows] == ['Mattt'] and table.rows[0]['date_of_birth'] == 'Jan 1, 1990'
    assert table.props['pagination']['rowsNumber'] == 1  # "1-1 of 1": the search's matches, not the list's total
    user.find(marker='recipient-search').clear().type('tej')
    await asyncio.sleep(0.3)
    user.find(marker='recipients-table').trigger('request', {'pagination': {
        'page': 1, 'rowsPerPage': 25, 'sortBy': 'first_name', 'descending': True}})
    for _ in range(50):
        if table.rows and table.rows[0]['first_name'] == 'Tej19849':
            break
        await asyncio.sleep(0.05)
    assert [r['first_name'] for r in table.rows[:3]] == ['Tej19849', 'Tej19848', 'Tej19847']
    assert table.pagination['sortBy'] == 'first_name' and table.pagination['descending'] is True
    assert table.props['pagination']['rowsNumber'] == 30
    target = table.rows[0]
    user.find(marker='recipients-table').trigger('requestRemoval', target)
    await user.should_see('Request removal of Tej19849 Par19849')
    user.find(marker='removal-reason').type('Left the company before the clinic')
    user.find('Submit request').click()
    await user.should_see('Removal request sent to the state help desk: case VACHCP', retries=50)
    with session_scope() as session:
        assert session.exec(select(Case.recipient_id).where(Case.request_type == 'remove_recipient')).all() \
            == [target['id']]


async def test_recipient_tab_lists_every_location_for_state_admins(demo, user: User) -> None:
    await log_in(user, ADMIN)
    await user.open('/recipients')
    await user.should_see(f'Total number of records: {count_rows(Recipient)}', retries=50)
    table = user.find(marker='recipients-table').elements.pop()
    assert {row['location'] for row in table.rows} >= {'Clinic Location1'}


async def test_welcome_email_link_sets_the_password(demo, user: User, smtp_server) -> None:
    await open_bulk_registration(user)
    data = (HEADER + 'Jon,NewRecipient,4/5/1980,jon@example.com\n').encode()
    await upload(user, 'low-volume-upload', 'one.csv', data)
    await user.should_see('1 records: 1 ready, 0 failed', retries=100)
    user.find(marker='create-records').click()
    await user.should_see('Successful records: 1', retries=100)
    [welcome] = await smtp_server.wait_for('jon@example.com')
    assert welcome['Subject'].strip() == 'Welcome to the North Carolina Vaccine Management COVID-19 Vaccine Portal'
    body = body_of(welcome)
    assert 'username: jon@example.com' in body
    path = re.search(r'http://cvms\.test(/set-password/\S+)', body).group(1)
    user.find('Log out').click()
    await user.should_see('Log in', retries=50)
    await user.open(path)
    await user.should_see('Username: jon@example.com')
    user.find('New password').type('a long passphrase for jon')
    user.find('Repeat new password').type('a long passphrase for jon')
    user.find('Set password').click()
    await user.should_see('Your household', retries=100)
    await user.should_see('Jon NewRecipient')


async def test_uploads_past_the_size_limit_are_refused_and_nothing_stays_on_disk(demo, user: User,
                                                                               monkeypatch) -> None:
    """The limit is checked on the server while the file is copied (the browser's max_file_size is a hint)."""
    from services.core.settings import get_settings, reset_settings
    monkeypatch.setenv('CVMS_BULK_MAX_FILE_MB', '1')
    reset_settings()
    try:
        await open_bulk_registration(user)
        big = (HEADER + 'Ann,Lee,1/1/1980,ann@example.com\r\n' * 40_000).encode()
        await upload(user, 'low-volume-upload', 'big.csv', big)
        await user.should_see('This file is larger than 1 MB, the upload limit', retries=100)
        user.find('High Volume (100,000)').click()
        await upload(user, 'high-volume-upload', 'big.csv', big)
        await user.should_see('This file is larger than 1 MB, the upload limit', retries=100)
        unicode_text = b'\xff\xfe' + ('First name\tLast name\tDate of birth\tEmail\r\n'
                                      'Zoë\tLee\t1/1/1980\tzoe@example.com\r\n').encode('utf-16-le')
        await upload(user, 'low-volume-upload', 'unicode.txt', unicode_text)
        await user.should_see('1 records: 1 ready, 0 failed', retries=100)
        assert list((get_settings().data_dir / 'uploads').glob('*')) == []
    finally:
        reset_settings()


async def test_high_volume_banner_tells_about_the_job_when_the_person_comes_back(demo, user: User) -> None:
    await open_bulk_registration(user)
    user.find('High Volume (100,000)').click()
    rows = ''.join(f'Worker{i},Plant,1/{i % 28 + 1}/1980,w{i}@plant.example.com\r\n' for i in range(150))
    await upload(user, 'high-volume-upload', 'plant.csv', (HEADER + rows).encode())
    await user.should_see('File submitted for processing', retries=100)
    # The person leaves the page at once and comes back: the banner shows the job, not only the history row.
    await user.open('/bulk-registration')
    await user.should_see('plant.csv: processing finished. 150 records loaded, 0 failed.', retries=300)
    await user.open('/bulk-registration')
    await user.should_see('plant.csv: processing finished. 150 records loaded, 0 failed.', retries=100)


async def test_closing_the_page_while_it_polls_logs_no_error(demo, user: User, monkeypatch: pytest.MonkeyPatch,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """The history is read in a worker thread every second; a browser closed meanwhile deleted the page's
    elements, and writing the answer into them raised a TypeError in the server's log."""
    await open_bulk_registration(user)
    reading, closed = threading.Event(), threading.Event()
    real = bulk.upload_history

    def read_while_the_page_closes(**kwargs):  # noqa: ANN003, ANN202 - the real read, held until the page is gone
        reading.set()
        closed.wait(5)
        return real(**kwargs)

    monkeypatch.setattr(bulk, 'upload_history', read_while_the_page_closes)
    for _ in range(100):
        if reading.is_set():
            break
        await asyncio.sleep(0.05)
    assert reading.is_set()
    user.client.delete()  # what NiceGUI does when the browser's tab is closed (after its reconnect timeout)
    closed.set()
    await asyncio.sleep(0.5)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
