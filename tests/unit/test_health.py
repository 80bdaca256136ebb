"""GET /healthz's report: the database, Redis when configured, and the upload job queue."""
from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

import pytest

from models import utcnow
from models.bulk import BulkUpload
from services.core import health
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


def test_healthy_without_redis_and_with_an_empty_queue(db: str) -> None:
    assert health.check() == (True, {'status': 'ok', 'database': 'ok', 'redis': 'not configured',
                                     'jobs': {'queued': 0, 'running': 0, 'oldest_queued_seconds': None}})


def test_the_queue_shows_waiting_and_running_uploads_and_the_oldest_wait(db: str) -> None:
    with session_scope() as session:
        session.add(BulkUpload(file_name='a.csv', status='queued', created_at=utcnow() - timedelta(minutes=5)))
        session.add(BulkUpload(file_name='b.csv', status='queued'))
        session.add(BulkUpload(file_name='c.csv', status='running'))
        session.add(BulkUpload(file_name='d.csv', status='done', created_at=utcnow() - timedelta(days=1)))
    healthy, report = health.check()
    jobs = report['jobs']
    assert healthy and (jobs['queued'], jobs['running']) == (2, 1)
    assert 299 <= jobs['oldest_queued_seconds'] < 330


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
