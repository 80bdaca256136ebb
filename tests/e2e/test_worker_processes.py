"""Background work on several real `main.py worker` processes sharing one PostgreSQL database and one SMTP server
(aiosmtpd): a worker killed with SIGKILL in the middle of a High Volume upload has its job taken over by another
within 60 seconds and finished exactly; a worker starting mid-job re-runs nothing; emails go out with at most one
duplicate per SMTP connection, each with the same Message-ID on every attempt; two workers running clinic jobs
at once process each reminder once. The lease is 3 s here (CVMS_JOB_LEASE_SECONDS) to keep the test short."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from models import OutboxMessage, Recipient
from models.bulk import BulkUpload, BulkUploadError
from models.clinic import DoseReminder, ReminderStatus
from services.bulk import registration as bulk
from services.core import mail, queue
from services.core.db import session_scope
from tests.conftest import free_port
from tests.factories import MANAGER, count_rows, due_reminders, principal

ROOT = Path(__file__).resolve().parents[2]
HEADER = 'First name,Last name,Date of birth,Email\n'
LEASE = 3


class Smtp:
    """A real SMTP server that notes the connection (client address) each message came over."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller
        self.port = free_port()
        self.received: list[tuple[tuple[str, int], object]] = []
        self._controller = Controller(self, hostname='127.0.0.1', port=self.port)
        self._controller.start()

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802 - aiosmtpd's hook name
        self.received.append((session.peer, message_from_bytes(envelope.original_content or envelope.content,
                                                                 policy=policy.default)))
        return '250 OK'

    def stop(self) -> None:
        self._controller.stop()


class Workers:
    """`main.py worker` processes on the test's PostgreSQL database, each with its own data folder and log."""

    def __init__(self, tmp_path: Path, **settings: str) -> None:
        self.tmp_path = tmp_path
        self.env = {k: v for k, v in os.environ.items() if k not in ('PYTEST_CURRENT_TEST', 'NICEGUI_USER_SIMULATION')}
        self.env.update({'CVMS_JOB_LEASE_SECONDS': str(LEASE), 'CVMS_WORKER_CONCURRENCY': '2', **settings})
        self.processes: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        folder = self.tmp_path / f'worker{len(self.processes)}'
        folder.mkdir()
        log = open(folder / 'worker.log', 'wb')  # noqa: SIM115 - closed with the process
        process = subprocess.Popen([sys.executable, 'main.py', 'worker'], cwd=ROOT, stdout=log,
                                   stderr=subprocess.STDOUT, env={**self.env, 'CVMS_DATA_DIR': str(folder)})
        process.log_path = folder / 'worker.log'  # type: ignore[attr-defined]
        self.processes.append(process)
        return process

    def wait_until_registered(self, count: int, timeout: float = 60) -> None:
        until(lambda: engine_count('SELECT count(*) FROM procrastinate_workers') >= count, timeout,
              f'{count} workers to register', self)

    def logs(self) -> str:
        return '\n'.join(p.log_path.read_text(errors='replace') for p in self.processes)  # type: ignore[attr-defined]

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def until(condition, timeout: float, what: str, workers: Workers | None = None) -> float:  # noqa: ANN001
    """Wait until `condition()` holds; returns the seconds it took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f'waited {timeout} s for {what}' + (f'\n{workers.logs()[-5000:]}' if workers else ''))
        time.sleep(0.05)
    return time.monotonic() - started


def engine_count(sql: str) -> int:
    with session_scope(read_only=True) as session:
        return session.execute(text(sql)).scalar_one()


def upload(upload_id: int) -> BulkUpload:
    with session_scope(read_only=True) as session:
        return session.get(BulkUpload, upload_id)


@pytest.fixture
def postgres(db: str, request: pytest.FixtureRequest) -> None:
    """The demo data, on the PostgreSQL run only."""
    if db != 'postgres':
        pytest.skip('worker processes share work through the job engine on PostgreSQL')
    request.getfixturevalue('demo')


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    server = Smtp()
    yield server
    server.stop()


def test_a_killed_workers_upload_is_taken_over_and_loaded_exactly_once(postgres, smtp, tmp_path: Path) -> None:
    rows, chunk = 2_000, 100
    lines = [HEADER] + [f'Worker{i},Plant,{i % 12 + 1}/{i % 28 + 1}/{1950 + i % 50},'
                        + ('not-an-email' if i % 100 == 99 else f'w{i}@plant.example.com') + '\n'
                        for i in range(rows - 1)] + ['Worker0,Plant,1/1/1950,again@example.com\n']
    failing_lines = [i + 2 for i in range(rows - 1) if i % 100 == 99] + [rows + 1]  # bad emails, the duplicate
    loaded = rows - len(failing_lines)
    workers = Workers(tmp_path, CVMS_BULK_CHUNK_ROWS=str(chunk), CVMS_SMTP_HOST='127.0.0.1',
                      CVMS_SMTP_PORT=str(smtp.port), CVMS_SMTP_CONNECTIONS='2')
    try:
        for _ in range(2):
            workers.start()
        workers.wait_until_registered(2)
        people_before = count_rows(Recipient)
        job = bulk.submit_file(principal=principal(MANAGER), file_name='plant.csv', data=''.join(lines).encode())

        until(lambda: upload(job.id).rows_done >= 3 * chunk, 60, 'the job to get going', workers)
        runner = re.search(rf'upload {job.id}: processing on worker [^:]+:(\d+)', workers.logs())
        assert runner, workers.logs()
        killed = next(p for p in workers.processes if p.pid == int(runner.group(1)))
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=10)
        at_kill = upload(job.id)
        assert at_kill.status == 'running' and at_kill.rows_done < rows, 'the job ended before the kill'
        workers.start()  # a worker starting mid-job (a rolling deploy) resets nothing

        took = until(lambda: upload(job.id).status == 'done', 60, 'another worker to finish the job', workers)
        assert took < 60
        done = upload(job.id)
        assert (done.total_rows, done.rows_done, done.loaded, done.failed) == (rows, rows, loaded, len(failing_lines))
        assert count_rows(Recipient) - people_before == loaded
        failures = bulk.upload_failures(principal=principal(MANAGER), upload_id=job.id)
        assert [line for line, _values, _error in failures] == failing_lines  # BulkError.csv: each line once
        assert count_rows(BulkUploadError, BulkUploadError.upload_id == job.id) == len(failing_lines)
        assert 'Duplicate recipient' in failures[-1][2]

        # Every email is delivered: the killed worker's claimed ones once its claims expire.
        until(lambda: count_rows(OutboxMessage, OutboxMessage.status != 'sent') == 0, 60, 'the outbox to empty',
              workers)
        with session_scope(read_only=True) as session:
            outbox = {mail.message_id(m): m.to_addr for m in session.exec(select(OutboxMessage))}
        # Each message's Message-ID is the one its outbox row gives on every attempt, so a resend carries the
        # first attempt's: every welcome email and the result email arrived, a few perhaps twice.
        copies = Counter(str(message['Message-ID']) for _, message in smtp.received)
        assert set(copies) == set(outbox)
        assert all(outbox[str(m['Message-ID'])] == str(m['To']) for _, m in smtp.received)
        connections = len({peer for peer, _ in smtp.received})
        assert sum(copies.values()) - len(copies) <= connections  # duplicates: at most one per connection
        assert any(str(m['Subject']) == 'Bulk Employee Upload - Failure' and str(m['To']) == MANAGER
                   for _, m in smtp.received)

        assert engine_count("SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'bulk.process_upload' "
                            "AND status IN ('todo', 'doing', 'failed')") == 0
        health = queue.queue_health()
        assert health['ok'] and health['jobs_stuck'] == 0, health
    finally:
        workers.stop()
    assert 'Traceback' not in workers.logs() and ' ERROR ' not in workers.logs()


def test_two_workers_running_clinic_jobs_at_once_process_each_reminder_once(postgres, tmp_path: Path) -> None:
    """Reminders every 2 s in two workers: each period is deferred once across them, and a period still running
    when the next one starts (on the other worker) skips the reminders it holds."""
    workers = Workers(tmp_path, CVMS_CLINIC_JOBS_CRON='* * * * * */2', CVMS_SMTP_HOST='')
    try:
        for _ in range(2):
            workers.start()
        workers.wait_until_registered(2)
        ids = due_reminders(300)

        def pending() -> int:
            return count_rows(DoseReminder, DoseReminder.status == ReminderStatus.PENDING, DoseReminder.id.in_(ids))

        until(lambda: pending() == 0, 90, 'the reminders to be processed', workers)
        time.sleep(4)  # two more periods: nothing left to do, nothing done again
    finally:
        workers.stop()
    logs = workers.logs()
    assert 'Traceback' not in logs and ' ERROR ' not in logs, logs[-5000:]
    sent = sum(int(n) for n in re.findall(r"clinic jobs: \{'sent': (\d+)", logs))
    assert sent == len(ids)  # a reminder processed twice would count twice
    assert count_rows(OutboxMessage, OutboxMessage.dedupe_key.like('dose-reminder:%')) == len(ids)
    assert len({pid for pid in re.findall(r'worker [^:]+:(\d+) started', logs)}) == 2


def test_two_workers_send_each_registry_message_once(postgres, registry, tmp_path: Path) -> None:
    """Dose events defer their registry message to the engine; two workers (jobs and the periodic sweep) send each
    one to the registry simulator exactly once, and an update after its add."""
    from models.registry import RegistryMessage
    from services.clinic import administration
    from tests import factories as fx
    workers = Workers(tmp_path, CVMS_SMTP_HOST='', CVMS_IIS_SWEEP_SECONDS='1')
    try:
        for _ in range(2):
            workers.start()
        workers.wait_until_registered(2)
        doses = [fx.walk_in_dose(f'Sent{i}', 'Once') for i in range(10)]
        with session_scope(read_only=True) as session:
            lot_id = session.get(administration.Administration, doses[0]).lot_id
        administration.correct_administration(
            principal=principal(MANAGER), administration_id=doses[0], reason='Wrong arm',
            details=administration.DoseDetails(lot_id=lot_id, site='Right deltoid', screening={}, consent=True))

        def messages() -> list[RegistryMessage]:
            with session_scope(read_only=True) as session:
                return list(session.exec(select(RegistryMessage).order_by(RegistryMessage.id)))

        until(lambda: {m.status for m in messages()} == {'accepted'}, 90, 'every message accepted', workers)
        time.sleep(3)  # more sweeps: nothing is sent again
    finally:
        workers.stop()
    logs = workers.logs()
    assert 'Traceback' not in logs and ' ERROR ' not in logs, logs[-5000:]
    sent = Counter(registry.control_ids())
    assert sorted(sent) == sorted(m.control_id for m in messages()) and set(sent.values()) == {1}
    first = messages()[0]
    update = next(m for m in messages() if m.action == 'U')
    order = registry.control_ids()
    assert order.index(first.control_id) < order.index(update.control_id)
