"""The job engine's plumbing: jobs deferred in the caller's transaction (PostgreSQL), the queue's health for
/healthz, and a worker process that never loads NiceGUI."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from services.core import queue
from services.core.db import session_scope

ROOT = Path(__file__).resolve().parents[2]


def jobs() -> list[tuple[str, str]]:
    with session_scope(read_only=True) as session:
        return [tuple(r) for r in session.execute(text('SELECT task_name, status FROM procrastinate_jobs'))]


def test_a_job_exists_only_if_the_change_that_defers_it_commits(db) -> None:
    if db != 'postgres':
        with session_scope() as session:
            assert queue.defer(session, 'some.task', n=1) is None  # SQLite: the row itself is the record
        return
    with pytest.raises(RuntimeError), session_scope() as session:
        queue.defer(session, 'some.task', n=1)
        raise RuntimeError('the change failed')
    assert jobs() == []
    with session_scope() as session:
        assert queue.defer(session, 'some.task', n=2) is not None
    assert jobs() == [('some.task', 'todo')]


def test_queue_health_reports_waiting_jobs_nobody_takes(db) -> None:
    health = queue.queue_health()
    assert health['ok'] is True and health['mail_due'] == 0
    assert health['engine'] == ('procrastinate' if db == 'postgres' else 'in-process')
    if db == 'postgres':
        with session_scope() as session:
            queue.defer(session, 'some.task')
        health = queue.queue_health()
        assert (health['jobs_waiting'], health['workers_alive'], health['ok']) == (1, 0, False)


def test_the_worker_command_loads_no_nicegui() -> None:
    env = {k: v for k, v in os.environ.items() if k != 'PYTEST_CURRENT_TEST'}
    script = ('import sys; import main; from services import background; '
              'print(sorted(m for m in sys.modules if m.split(".")[0] == "nicegui"))')
    result = subprocess.run([sys.executable, '-c', script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '[]'
