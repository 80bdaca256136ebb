"""The admin CLI in main.py, run as a person would run it (a real process, its own SQLite data folder)."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_cli(data_dir: Path, *args: str, stdin: str = '') -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ('CVMS_DATABASE_URL', 'NICEGUI_USER_SIMULATION')}
    env['CVMS_DATA_DIR'] = str(data_dir)
    return subprocess.run([sys.executable, 'main.py', *args], cwd=ROOT, env=env, input=stdin, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / 'data'


# Runs main.py as `python main.py ARGS` would, then tells whether NiceGUI got imported and how long it took
# (processor time: the wall clock of a busy test machine says more about the other processes).
PROBE = """
import runpy, sys, time
start, wall = time.process_time(), time.perf_counter()
sys.argv = ['main.py', *sys.argv[1:]]
code = 0
try:
    runpy.run_path('main.py', run_name='__main__')
except SystemExit as done:
    code = done.code
print(f'nicegui imported: {"nicegui" in sys.modules}; {time.process_time() - start:.2f} s '
      f'({time.perf_counter() - wall:.2f} s wall)', file=sys.stderr)
sys.exit(code)
"""


def test_cli_commands_start_quickly_without_nicegui(data_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ('CVMS_DATABASE_URL', 'NICEGUI_USER_SIMULATION')}
    env['CVMS_DATA_DIR'] = str(data_dir)
    commands = [['init-db'], ['clinic-jobs'], ['import-recipients', '--help'], ['create-user', '--help'],
                ['seed-demo', '--help'], ['serve', '--help'], ['worker', '--help']]
    for command in commands:
        done = subprocess.run([sys.executable, '-c', PROBE, *command], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        report = done.stderr.strip().splitlines()[-1]
        print(' '.join(command), '->', report)  # the start time, for whoever runs with -s
        assert report.startswith('nicegui imported: False'), (command, report)
        seconds = float(report.split('; ')[1].split(' s ')[0])
        assert seconds < 3, (command, report)  # about 1 s on a quiet 2-core machine, mostly SQLAlchemy and models


def test_init_db_creates_the_schema_with_wal_and_is_repeatable(data_dir: Path) -> None:
    assert run_cli(data_dir, 'init-db').returncode == 0
    assert run_cli(data_dir, 'init-db').returncode == 0  # upgrading an up-to-date database changes nothing
    connection = sqlite3.connect(data_dir / 'cvms.sqlite3')
    assert connection.execute('PRAGMA journal_mode').fetchone()[0] == 'wal'
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {'user', 'recipient', 'location', 'organization', 'auditevent', 'outboxmessage',
            'alembic_version'} <= tables


def test_seed_demo_only_into_an_empty_database(data_dir: Path) -> None:
    first = run_cli(data_dir, 'seed-demo')
    assert first.returncode == 0 and 'manager@demo.cvms.example.org' in first.stdout
    second = run_cli(data_dir, 'seed-demo')
    assert second.returncode == 1 and 'only added to an empty database' in second.stderr


def test_create_user_with_a_password_from_stdin(data_dir: Path) -> None:
    assert run_cli(data_dir, 'seed-demo').returncode == 0
    done = run_cli(data_dir, 'create-user', '--email', 'New.Nurse@Example.org', '--role', 'healthcare_provider',
                   '--location', 'demo1', '--name', 'New Nurse', '--password-stdin', stdin='Lilacs after the rain\n')
    assert done.returncode == 0, done.stderr
    assert 'Created healthcare_provider new.nurse@example.org' in done.stdout
    row = sqlite3.connect(data_dir / 'cvms.sqlite3').execute(
        "SELECT password_hash, location_id IS NOT NULL FROM user WHERE email='new.nurse@example.org'").fetchone()
    assert row[0].startswith('$argon2') and row[1] == 1


BAD_INPUT = [
    (['--email', 'x@example.org', '--role', 'location_manager'], '', 'need a location'),
    (['--email', 'x@example.org', '--role', 'wizard'], '', "Unknown role 'wizard'"),
    (['--email', 'not-an-email', '--role', 'state_admin'], '', 'Email:'),
    (['--email', 'x@example.org', '--role', 'state_admin', '--password-stdin'], 'short\n', 'at least 12'),
    (['--email', 'x@example.org', '--role', 'healthcare_provider', '--location', 'NOPE'], '', 'No location has'),
]


def test_create_user_refuses_bad_input_with_a_reason(data_dir: Path) -> None:
    assert run_cli(data_dir, 'init-db').returncode == 0
    for args, stdin, message in BAD_INPUT:
        result = run_cli(data_dir, 'create-user', *args, stdin=stdin)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)
    users = sqlite3.connect(data_dir / 'cvms.sqlite3').execute('SELECT count(*) FROM user').fetchone()[0]
    assert users == 0  # nothing half-written


def test_an_employer_account_belongs_to_an_employer_organization_only(data_dir: Path) -> None:
    """An employer sees the people its organization invited: in a provider organization it would see nobody it
    invited, and must not be placed there at all."""
    assert run_cli(data_dir, 'seed-demo').returncode == 0
    db = sqlite3.connect(data_dir / 'cvms.sqlite3')
    provider, employer = (db.execute('SELECT id FROM organization WHERE kind = ?', (kind,)).fetchone()[0]
                          for kind in ('provider', 'employer'))
    refused = 'Demo Health System is a provider organization: an employer account can only belong to an employer ' \
              'organization.'
    for where in (['--organization-id', str(provider)], ['--location', 'DEMO1']):
        result = run_cli(data_dir, 'create-user', '--email', 'hr@example.org', '--role', 'employer', *where)
        assert result.returncode == 2 and refused in result.stderr, (where, result.stderr)
    result = run_cli(data_dir, 'create-user', '--email', 'hr@example.org', '--role', 'employer')
    assert result.returncode == 2 and 'Employer accounts need an organization' in result.stderr
    result = run_cli(data_dir, 'create-user', '--email', 'hr@example.org', '--role', 'employer',
                     '--organization-id', str(employer))
    assert result.returncode == 0, result.stderr
    assert db.execute("SELECT organization_id FROM user WHERE email = 'hr@example.org'").fetchone()[0] == employer


def test_create_user_without_password_queues_a_welcome_link(data_dir: Path) -> None:
    assert run_cli(data_dir, 'init-db').returncode == 0
    result = run_cli(data_dir, 'create-user', '--email', 'chief@example.org', '--role', 'state_admin')
    assert result.returncode == 0 and 'welcome email' in result.stdout
    body = sqlite3.connect(data_dir / 'cvms.sqlite3').execute(
        "SELECT body_text FROM outboxmessage WHERE to_addr='chief@example.org'").fetchone()[0]
    assert '/set-password/' in body and 'within 7 days' in body


def test_storage_secret_is_generated_once_and_kept(data_dir: Path) -> None:
    env_secret = os.environ.pop('CVMS_STORAGE_SECRET', None)
    try:
        from services.core.settings import Settings
        first = Settings(data_dir=data_dir, storage_secret='').resolved_storage_secret
        second = Settings(data_dir=data_dir, storage_secret='').resolved_storage_secret
    finally:
        if env_secret is not None:
            os.environ['CVMS_STORAGE_SECRET'] = env_secret
    assert first == second and len(first) >= 40
    assert (data_dir / 'storage_secret').stat().st_mode & 0o077 == 0  # readable by the owner only
