"""GET /healthz's report: the database, Redis when configured, the job queue and the upload jobs."""
from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

import pytest

from models import utcnow
from models.bulk import BulkUpload
from services.core import health, queue
from services.core.db import session_scope
from services.core.settings import reset_settings
from tests.conftest import free_port

REDIS_URL = os.environ.get('CVMS_TEST_REDIS_URL', '')


@pytest.fixture
def use_redis(monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """Configure CVMS_REDIS_URL for the rest of one test."""
    def configure(url: str) -> None:
        monkeypatch.setenv('CVMS_REDIS_URL', url)
        reset_settings()
    yield configure
    reset_settings()


def test_healthy_without_redis_and_with_nothing_queued(db: str) -> None:
    healthy, report = health.check(require_jobs=True)
    assert healthy and report['status'] == 'ok'
    assert (report['database'], report['redis']) == ('ok', 'not configured')
    assert report['jobs'] == queue.queue_health() and report['jobs']['ok']
    assert report['uploads'] == {'queued': 0, 'running': 0, 'oldest_queued_seconds': None}


def test_the_uploads_show_waiting_and_running_jobs_and_the_oldest_wait(db: str) -> None:
    with session_scope() as session:
        session.add(BulkUpload(file_name='a.csv', status='queued', created_at=utcnow() - timedelta(minutes=5)))
        session.add(BulkUpload(file_name='b.csv', status='queued'))
        session.add(BulkUpload(file_name='c.csv', status='running'))
        session.add(BulkUpload(file_name='d.csv', status='done', created_at=utcnow() - timedelta(days=1)))
    healthy, report = health.check()
    uploads = report['uploads']
    assert healthy and (uploads['queued'], uploads['running']) == (2, 1)
    assert 299 <= uploads['oldest_queued_seconds'] < 330


def test_jobs_nobody_takes_degrade_the_report_and_fail_only_when_required(db: str) -> None:
    if db != 'postgres':
        pytest.skip('the job engine runs on PostgreSQL')
    with session_scope() as session:
        queue.defer(session, 'some.task')  # no worker is running
    healthy, report = health.check()
    assert healthy and report['status'] == 'degraded' and report['jobs']['jobs_waiting'] == 1
    assert health.check(require_jobs=True)[0] is False


def test_unreachable_redis_makes_the_instance_unavailable(db: str, use_redis) -> None:  # noqa: ANN001
    use_redis(f'redis://127.0.0.1:{free_port()}/0')  # nobody listens there
    healthy, report = health.check()
    assert not healthy and report['status'] == 'unavailable' and report['redis'] == 'unreachable'
    assert report['database'] == 'ok'


def test_reachable_redis_is_reported(db: str, use_redis) -> None:  # noqa: ANN001
    if not REDIS_URL:
        pytest.skip('set CVMS_TEST_REDIS_URL (.ci/run does)')
    use_redis(REDIS_URL)
    healthy, report = health.check()
    assert healthy and report['redis'] == 'ok'
