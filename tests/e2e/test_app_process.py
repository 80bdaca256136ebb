"""The app as a running process: health check, cookie flags, and two instances sharing Redis storage."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.e2e.conftest import ROOT, log_in, start_app, stop_app
from tests.factories import MANAGER


def test_healthz_answers_200_with_the_database_reachable(live_app: str) -> None:
    response = httpx.get(f'{live_app}/healthz')
    assert response.status_code == 200
    report = response.json()
    assert {k: report[k] for k in ('status', 'database', 'redis', 'live_updates')} == {
        'status': 'ok', 'database': 'ok', 'redis': 'not configured', 'live_updates': 'in-process'}
    assert report['jobs']['ok'] and report['jobs']['engine'] == 'in-process'  # SQLite: jobs run in this process
    assert report['uploads'] == {'queued': 0, 'running': 0, 'oldest_queued_seconds': None}


def test_serve_with_redis_refuses_to_start_without_a_storage_secret(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ('PYTEST_CURRENT_TEST', 'NICEGUI_USER_SIMULATION',
                                                            'CVMS_DATABASE_URL', 'CVMS_STORAGE_SECRET')}
    env.update({'CVMS_DATA_DIR': str(tmp_path), 'CVMS_REDIS_URL': 'redis://127.0.0.1:6379/0',
                'CVMS_PORT': str(free_port()), 'CVMS_HOST': '127.0.0.1'})
    done = subprocess.run([sys.executable, 'main.py', 'serve'], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2
    assert 'CVMS_STORAGE_SECRET must be set when CVMS_REDIS_URL is set' in done.stderr
    assert not (tmp_path / 'cvms.sqlite3').exists()  # refused before touching the database


def test_session_cookie_is_httponly_and_samesite(live_app: str) -> None:
    response = httpx.get(f'{live_app}/login')
    cookie = response.headers['set-cookie'].lower()
    assert 'httponly' in cookie and 'samesite=lax' in cookie
    assert 'secure' not in cookie  # plain http here; CVMS_BASE_URL=https://… turns Secure on


def test_unknown_page_redirects_strangers_to_login(live_app: str) -> None:
    response = httpx.get(f'{live_app}/outbox', follow_redirects=False)
    assert response.status_code in (302, 307) and response.headers['location'].startswith('/login?next=/outbox')


REDIS_URL = os.environ.get('CVMS_TEST_REDIS_URL', '')


@pytest.fixture
def two_instances(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """Two app processes on one database, sharing NiceGUI storage in the real Redis."""
    if not REDIS_URL:
        pytest.skip('set CVMS_TEST_REDIS_URL (.ci/run does) to test Redis-backed storage')
    prefix = f'cvms-test-{uuid.uuid4().hex[:8]}:'
    shared = {'CVMS_REDIS_URL': REDIS_URL, 'NICEGUI_REDIS_KEY_PREFIX': prefix,
              'CVMS_DATABASE_URL': f'sqlite:///{tmp_path / "shared.sqlite3"}'}
    (tmp_path / 'a').mkdir()
    (tmp_path / 'b').mkdir()
    first, url_a = start_app(tmp_path / 'a', extra_env=shared)
    try:
        second, url_b = start_app(tmp_path / 'b', extra_env=shared)
    except Exception:
        stop_app(first)
        raise
    yield url_a, url_b, prefix
    stop_app(first)
    stop_app(second)
    import redis
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f'{prefix}*'):
        client.delete(key)


def test_a_login_on_one_instance_is_valid_on_another(two_instances, page) -> None:  # noqa: ANN001
    url_a, url_b, _ = two_instances
    log_in(page, url_a, MANAGER)
    # The second instance (another port, same host: the browser sends the same cookie) knows the session: it lives
    # in the shared database (docs/adr/0006); NiceGUI's storage, in Redis, holds no session token.
    page.goto(f'{url_b}/')
    page.get_by_text("Today's Appointments").wait_for()
    assert page.get_by_text('Maria Manager').is_visible()


def test_serve_on_postgres_stops_cleanly_on_sigterm(tmp_path: Path, fresh_postgres: str) -> None:
    """An instance that runs jobs stops its engine worker when told to (a deploy's rolling restart): it leaves
    the engine's worker list and exits, instead of hanging in shutdown with the engine's pool half-closed."""
    import time

    from sqlalchemy import create_engine, text
    url = fresh_postgres.replace('postgresql://', 'postgresql+psycopg://', 1)
    engine = create_engine(url)

    def workers() -> int:
        with engine.connect() as conn:
            return conn.execute(text('SELECT count(*) FROM procrastinate_workers')).scalar_one()

    try:
        for _ in range(2):  # a hang showed in about one shutdown of two
            process, _ = start_app(tmp_path, extra_env={'CVMS_DATABASE_URL': fresh_postgres})
            deadline = time.monotonic() + 30
            while workers() < 1 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert workers() == 1
            process.terminate()
            # uvicorn shuts down, then re-raises the signal it caught: -15 is a clean exit too
            assert process.wait(timeout=20) in (0, -signal.SIGTERM), (tmp_path / 'server.log').read_text()[-3000:]
            assert workers() == 0  # unregistered: nobody waits a lease to take over its jobs
    finally:
        engine.dispose()


def test_serve_tunes_the_garbage_collector_after_start_up(tmp_path: Path) -> None:
    """README "Capacity": what start-up built is frozen out of later collections and young collections are rarer;
    GET /_debug/stats (for benchmarks/load.py) says so, and only when switched on."""
    from services.core.runtime import TUNED_THRESHOLDS
    process, url = start_app(tmp_path, extra_env={'CVMS_DEBUG_STATS': 'true'})
    try:
        stats = httpx.get(f'{url}/_debug/stats').json()
    finally:
        stop_app(process)
    assert stats['thresholds'] == list(TUNED_THRESHOLDS)
    assert stats['frozen_objects'] > 100_000  # the imports and the pages: far more than any one page creates
    assert stats['full_collections'] >= 0 and stats['rss_mb'] > 0 and stats['clients'] >= 0


def test_debug_stats_are_not_served_unless_switched_on(live_app: str) -> None:
    assert httpx.get(f'{live_app}/_debug/stats').status_code == 404
