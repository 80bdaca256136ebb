"""The High Volume job is durable: killed partway (SIGKILL of the process running it) and resumed, it creates
every recipient exactly once and queues every welcome email exactly once. Also the result emails over real
SMTP and the import-recipients command line."""
from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func
from sqlmodel import select

from models import OutboxMessage, Recipient
from models.bulk import BulkUpload, BulkUploadError, BulkUploadFile
from services import background
from services.bulk import registration as bulk
from services.core import mail
from services.core.db import session_scope
from services.core.settings import reset_settings
from tests.conftest import body_of
from tests.factories import MANAGER, count_rows, principal

ROOT = Path(__file__).resolve().parents[2]
HEADER = 'First name,Last name,Date of birth,Email\n'


def big_file(rows: int) -> tuple[bytes, int]:
    """`rows` records; every 100th has a bad email; the last one repeats the first person. Returns (data, failed)."""
    lines = [HEADER]
    failed = 0
    for i in range(rows - 1):
        email = 'not-an-email' if i % 100 == 99 else f'worker{i}@plant{i % 7}.example.com'
        failed += i % 100 == 99
        lines.append(f'Worker{i},Plant{i % 7},{i % 12 + 1}/{i % 28 + 1}/{1950 + i % 50},{email}\n')
    lines.append('Worker0,Plant0,1/1/1950,again@example.com\n')  # in-file duplicate, thousands of lines later
    return ''.join(lines).encode(), failed + 1


def progress(upload_id: int) -> BulkUpload:
    # Read-only, as the page's poll: a writer in this process would wait for the lock of a job running in
    # another process, which takes it back chunk after chunk (SQLite's busy handler only polls).
    with session_scope(read_only=True) as session:
        return session.get(BulkUpload, upload_id)


def welcome_emails() -> int:
    return count_rows(OutboxMessage, OutboxMessage.dedupe_key.like('welcome:recipient:%'))


def test_job_killed_partway_resumes_without_duplicates_or_double_emails(demo, monkeypatch) -> None:
    """Killed with SIGKILL, the job keeps its claim for the lease (nobody resets it); then any runner takes it
    over and resumes after the last committed chunk."""
    monkeypatch.setenv('CVMS_JOB_LEASE_SECONDS', '2')  # also for the process that runs the job
    reset_settings()
    people_before, emails_before = count_rows(Recipient), welcome_emails()
    rows = 12_000
    data, expected_failed = big_file(rows)
    summary = bulk.submit_file(principal=principal(MANAGER), file_name='plant.csv', data=data)
    assert summary.total == rows and summary.status == 'queued'
    env = {k: v for k, v in os.environ.items() if k != 'PYTEST_CURRENT_TEST'}
    script = f'from services.bulk import registration as b; b.run_job({summary.id}, chunk=40)'
    process = subprocess.Popen([sys.executable, '-c', script], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 60
        while progress(summary.id).rows_done < 400:
            assert process.poll() is None, 'the job ended before it could be killed'
            assert time.monotonic() < deadline
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    stopped = progress(summary.id)
    assert stopped.status == 'running' and 0 < stopped.rows_done < rows
    # What was committed before the kill is exactly consistent: recipients and emails match the progress.
    assert count_rows(Recipient) - people_before == stopped.loaded
    assert welcome_emails() - emails_before == stopped.loaded

    assert bulk.run_job(summary.id) is None  # its runner's lease still holds: not taken over, nothing reset
    assert summary.id not in bulk.waiting_upload_ids()
    time.sleep(2.1)
    assert bulk.waiting_upload_ids() == [summary.id]  # silent for longer than the lease: any runner may take it
    done = bulk.run_job(summary.id)
    assert done is not None and done.status == 'done'
    assert (done.total, done.loaded, done.failed) == (rows, rows - expected_failed, expected_failed)
    assert count_rows(Recipient) - people_before == rows - expected_failed
    assert count_rows(BulkUploadError, BulkUploadError.upload_id == summary.id) == expected_failed
    assert welcome_emails() - emails_before == rows - expected_failed
    with session_scope() as session:
        duplicated = session.exec(select(OutboxMessage.to_addr).group_by(OutboxMessage.to_addr)
                                  .having(func.count() > 1)).all()
        assert duplicated == []
    failures = bulk.upload_failures(principal=principal(MANAGER), upload_id=summary.id)
    assert failures[-1][0] == rows + 1 and 'Duplicate recipient' in failures[-1][2]
    assert count_rows(BulkUploadFile) == 0  # the stored file is removed when done


def test_two_runners_of_one_upload_never_load_a_chunk_twice(demo) -> None:
    """The job engine decides who runs a job, but may misjudge a slow worker as dead: if two runners work on one
    upload at once, each chunk commits only where the progress still is, so the later runner stops."""
    from concurrent.futures import ThreadPoolExecutor
    people_before, emails_before = count_rows(Recipient), welcome_emails()
    rows = 2_000
    data, expected_failed = big_file(rows)
    summary = bulk.submit_file(principal=principal(MANAGER), file_name='plant.csv', data=data)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: bulk.run_job(summary.id, chunk=50, take_over=True), range(2)))
    finished = [r for r in results if r is not None]
    assert len(finished) >= 1 and finished[0].status == 'done'
    final = progress(summary.id)
    assert (final.status, final.rows_done, final.loaded, final.failed) == \
        ('done', rows, rows - expected_failed, expected_failed)
    assert count_rows(Recipient) - people_before == rows - expected_failed
    assert welcome_emails() - emails_before == rows - expected_failed
    assert count_rows(BulkUploadError, BulkUploadError.upload_id == summary.id) == expected_failed


def test_a_job_asked_to_stop_goes_back_to_the_queue_and_resumes(demo) -> None:
    rows = 500
    data, expected_failed = big_file(rows)
    summary = bulk.submit_file(principal=principal(MANAGER), file_name='plant.csv', data=data)
    paused = bulk.run_job(summary.id, chunk=100, should_stop=lambda: True)
    assert (paused.status, paused.done) == ('queued', 100)
    assert bulk.waiting_upload_ids() == [summary.id]
    done = bulk.run_job(summary.id, chunk=100)
    assert (done.status, done.done, done.loaded, done.failed) == ('done', rows, rows - expected_failed, expected_failed)


def test_the_same_file_in_two_jobs_at_once_loads_each_person_once(demo) -> None:
    """Two High Volume jobs of one file run side by side, chunk by chunk: every person is created and welcomed
    once, the other job reports them as duplicates, each reason once (on PostgreSQL the unique key makes the
    later chunk roll back and run again; it must not carry the first attempt's marks)."""
    from concurrent.futures import ThreadPoolExecutor
    people_before, emails_before = count_rows(Recipient), welcome_emails()
    rows = 1000
    data, bad = big_file(rows)
    unique = rows - bad
    jobs = [bulk.submit_file(principal=principal(MANAGER), file_name=f'twice-{n}.csv', data=data) for n in (1, 2)]
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda job: bulk.run_job(job.id, chunk=20), jobs))
    assert [d.status for d in done] == ['done', 'done']
    assert sum(d.loaded for d in done) == unique and sum(d.failed for d in done) == 2 * rows - unique
    assert count_rows(Recipient) - people_before == unique and welcome_emails() - emails_before == unique
    for job in jobs:
        for _line, _values, error in bulk.upload_failures(principal=principal(MANAGER), upload_id=job.id):
            assert error.count('Duplicate recipient') <= 1, error


def test_bulk_settings_leave_with_the_connection(demo) -> None:
    """A High Volume chunk's connection caches 96 MB and skips checkpoints (SQLite) or plans every look-up with
    its values (PostgreSQL); back in the pool it must be an ordinary connection again, or other people's commits
    would never checkpoint the WAL."""
    from services.core.db import is_postgres
    from services.core.fast_sql import bulk_pragmas
    if is_postgres():
        with session_scope() as session:
            bulk_pragmas(session)
            assert session.connection().exec_driver_sql('SHOW plan_cache_mode').scalar() == 'force_custom_plan'
        with session_scope() as session:
            assert session.connection().exec_driver_sql('SHOW plan_cache_mode').scalar() == 'auto'
        return
    with session_scope() as session:
        bulk_pragmas(session)
        raw = session.connection().connection.dbapi_connection
        assert raw.execute('PRAGMA wal_autocheckpoint').fetchone()[0] == 0
    assert raw.execute('PRAGMA wal_autocheckpoint').fetchone()[0] == 1000
    assert raw.execute('PRAGMA cache_size').fetchone()[0] == -2000


def test_relaxed_garbage_collection_ends_with_the_last_job() -> None:
    """Two jobs overlapping: collections stay relaxed until the second ends, then the old thresholds return."""
    import gc

    from services.core.jobs import fewer_collections
    before = gc.get_threshold()
    first, second = fewer_collections(), fewer_collections()
    first.__enter__()
    relaxed = gc.get_threshold()
    assert relaxed[0] > before[0]
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold() == relaxed  # the second job still runs
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before


def test_the_event_loop_keeps_turning_while_the_runner_loads_a_file(demo) -> None:
    """The app's job runner works off the event loop: a coroutine polling the progress as the page does sees
    the job part-way (if the job ran on the loop, or the poll waited for the job's write lock, it could only see
    it before it started or after it ended)."""
    import asyncio
    rows = 25_000  # three chunks
    person = principal(MANAGER)
    summary = bulk.submit_file(principal=person, file_name='staff.csv', data=big_file(rows)[0])

    async def scenario() -> list[int]:
        stop = asyncio.Event()
        runner = asyncio.create_task(background.run_background(stop))
        seen = []
        try:
            while (upload := await asyncio.to_thread(bulk.upload_status, principal=person,
                                                     upload_id=summary.id)).status != 'done':
                assert upload.status in ('queued', 'running'), upload.message
                seen.append(upload.done)
                await asyncio.sleep(0.01)
        finally:
            stop.set()
            await runner
        return seen

    seen = asyncio.run(scenario())
    assert any(0 < done < rows for done in seen), seen
    assert progress(summary.id).rows_done == rows


def test_a_writer_gets_in_between_the_chunks_of_a_running_job(demo) -> None:
    """A check-in, a log-in or a Create Records needs SQLite's write lock while a High Volume job takes it chunk
    after chunk: it must get in between two chunks, not wait for the whole file (or fail as locked)."""
    import threading

    from models.bulk import RemovalRequest
    rows = 40_000  # four chunks of the job's own size: about a second each, back to back
    summary = bulk.submit_file(principal=principal(MANAGER), file_name='plant.csv', data=big_file(rows)[0])
    job = threading.Thread(target=bulk.run_job, args=(summary.id,))
    job.start()
    try:
        while bulk.upload_status(principal=principal(MANAGER), upload_id=summary.id).done == 0:
            assert job.is_alive(), 'the job ended before the writer could try'
            time.sleep(0.005)
        with session_scope() as session:  # waits for the lock like any writer of the app
            session.add(RemovalRequest(recipient_id=1, reason='written during the job', requested_by_email=MANAGER))
        with session_scope(read_only=True) as session:
            done_when_written = session.get(BulkUpload, summary.id).rows_done
    finally:
        job.join(120)
    assert done_when_written < rows  # it got in while the job still had chunks to go
    assert progress(summary.id).status == 'done'


def test_result_emails_over_smtp_with_bulk_error_csv(demo, smtp_server) -> None:
    data = (HEADER + 'Ann,Lee,1/1/1980,ann@example.com\n' + 'Bo,,2/2/1990,bo@example.com\n'
            + 'Cy,Doe,3/3/1990,bademail\n').encode()
    summary = bulk.submit_file(principal=principal(MANAGER), file_name='MKTrocheWITHERRORS.csv', data=data)
    bulk.run_job(summary.id)
    ok = bulk.submit_file(principal=principal(MANAGER), file_name='clean.csv',
                          data=(HEADER + 'Di,Lee,1/1/1981,di@example.com\n').encode())
    bulk.run_job(ok.id)
    import asyncio
    pending = count_rows(OutboxMessage, OutboxMessage.status == 'pending')
    assert asyncio.run(mail.deliver_due()) == pending  # 2 welcome, 2 results, and the demo's own
    failure, success = [m for m in smtp_server.to(MANAGER)]
    assert failure['Subject'] == 'Bulk Employee Upload - Failure'
    body = body_of(failure)
    assert 'Filename: MKTrocheWITHERRORS.csv' in body and 'Number of Records In File: 3' in body
    assert 'Number of Records Successfully Loaded: 1' in body and 'Number of Records Failed: 2' in body
    attachment = next(failure.iter_attachments())
    assert attachment.get_filename() == 'BulkError.csv'
    rows = list(csv.reader(io.StringIO(attachment.get_payload(decode=True).decode('utf-8-sig'))))
    assert rows == [['First name', 'Last name', 'Date of birth', 'Email', 'Error'],
                    ['Bo', '', '2/2/1990', 'bo@example.com', 'Line 3: Required fields are missing: [LastName]'],
                    ['Cy', 'Doe', '3/3/1990', 'bademail',
                     'Line 4: Email: invalid email address: bademail (enter an address like name@example.org)']]
    assert success['Subject'] == 'Bulk Employee Upload - Success'
    assert 'Number of Records Successfully Loaded: 1' in body_of(success)
    assert len(smtp_server.to('ann@example.com')) == 1 and len(smtp_server.to('di@example.com')) == 1


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != 'PYTEST_CURRENT_TEST'}
    return subprocess.run([sys.executable, 'main.py', 'import-recipients', *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_import_recipients_command_line(demo, tmp_path: Path) -> None:
    source = tmp_path / 'help desk.csv'
    source.write_text(HEADER + 'Ann,Lee,1/1/1980,ann@example.com\n' + 'Bo,,2/2/1990,bo@example.com\n')
    result = run_cli(str(source), '--location', 'DEMO1', '--json')
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    report = tmp_path / 'help desk-BulkError.csv'
    assert payload == {'file': str(source), 'total': 2, 'loaded': 1, 'failed': 1,
                       'errors': [{'line': 3, 'error': 'Line 3: Required fields are missing: [LastName]'}],
                       'error_report': str(report)}
    assert 'Line 3: Required fields are missing' in report.read_text(encoding='utf-8-sig')

    again = run_cli(str(source), '--location', 'DEMO1', '--as', MANAGER, '--high-volume', '--json')
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)['failed'] == 2  # the same file twice: duplicates, nobody created twice
    assert count_rows(Recipient, Recipient.first_name == 'Ann') == 1

    big = tmp_path / 'big.csv'
    big.write_text(HEADER + ''.join(f'P{i},Q,1/1/1980,p{i}@x.org\n' for i in range(101)))
    refused = run_cli(str(big), '--location', 'DEMO1', '--json')
    assert refused.returncode == 2
    assert json.loads(refused.stdout) == {'rejected': True, 'message': json.loads(refused.stdout)['message']}
    assert 'High Volume' in json.loads(refused.stdout)['message']
    assert run_cli(str(big), '--location', 'NOPE', '--json').returncode == 1
    assert run_cli(str(tmp_path / 'missing.csv'), '--location', 'DEMO1').returncode == 1


def test_import_recipients_can_queue_a_job_without_waiting(demo, tmp_path: Path) -> None:
    source = tmp_path / 'plant.csv'
    source.write_text(HEADER + 'Ann,Lee,1/1/1980,ann@example.com\n' + 'Bo,,2/2/1990,bo@example.com\n')
    queued = run_cli(str(source), '--location', 'DEMO1', '--high-volume', '--no-wait', '--json')
    assert queued.returncode == 0, queued.stderr
    job = json.loads(queued.stdout)
    assert job == {'job_id': job['job_id'], 'status': 'queued'}
    assert progress(job['job_id']).status == 'queued' and count_rows(Recipient, Recipient.first_name == 'Ann') == 0

    env = {k: v for k, v in os.environ.items() if k != 'PYTEST_CURRENT_TEST'}
    listing = subprocess.run([sys.executable, 'main.py', 'jobs', '--json'], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=60)
    assert listing.returncode == 0, listing.stderr
    [row] = json.loads(listing.stdout)
    assert {k: row[k] for k in ('id', 'status', 'total', 'loaded', 'failed')} == \
        {'id': job['job_id'], 'status': 'queued', 'total': 2, 'loaded': 0, 'failed': 0}

    bulk.run_job(job['job_id'])  # what a worker does
    text = subprocess.run([sys.executable, 'main.py', 'jobs'], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60).stdout
    assert [line.split()[:6] for line in text.splitlines()[1:]] == [[str(job['job_id']), 'done', '2', '2', '1', '1']]
