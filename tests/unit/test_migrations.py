"""The Alembic migrations build exactly the schema the models describe, and upgrade a database in place."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

from services.core import db as db_module
from services.core.db import engine_object

ROOT = Path(__file__).resolve().parents[2]


def _ignorable(diff: tuple) -> bool:
    # SQLite cannot report some server defaults/comments the same way; only real schema drift matters.
    # The job engine's tables (PostgreSQL) are its own, not described by our models.
    return diff[0] in ('modify_default', 'modify_comment') or \
        (diff[0] in ('remove_table', 'remove_index') and engine_object(diff[1].name))


def test_migrated_schema_matches_the_models(db: str) -> None:
    engine = db_module.get_engine()
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={'compare_type': False})
        diffs = [d for d in compare_metadata(context, SQLModel.metadata) if not _ignorable(d)]
    assert diffs == [], f'models and migrations differ on {db}: {diffs}'


def test_one_head_after_merging() -> None:
    heads = ScriptDirectory.from_config(db_module.alembic_config()).get_heads()
    assert len(heads) == 1, f'several migration heads: {heads}; add a merge revision'


def test_an_existing_database_upgrades_in_place(tmp_path: Path) -> None:
    url = f'sqlite:///{tmp_path / "old.sqlite3"}'
    config = db_module.alembic_config(url)
    command.upgrade(config, '0001')  # a database from the first release
    with sqlite3.connect(tmp_path / 'old.sqlite3') as connection:
        connection.execute("INSERT INTO organization (name, kind, enrollment_status, redistribution_agreement, "
                           "created_at) VALUES ('Old Clinic', 'provider', 'approved', 0, '2021-01-05 10:00:00')")
    db_module.migrate(url)
    with sqlite3.connect(tmp_path / 'old.sqlite3') as connection:
        assert connection.execute('SELECT name FROM organization').fetchall() == [('Old Clinic',)]
        version = connection.execute('SELECT version_num FROM alembic_version').fetchall()
    heads = ScriptDirectory.from_config(config).get_heads()
    assert sorted(v for (v,) in version) == sorted(heads)


def test_instances_starting_at_once_migrate_a_fresh_postgres_database_once(fresh_postgres: str,
                                                                            tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ('PYTEST_CURRENT_TEST', 'NICEGUI_USER_SIMULATION')}
    env.update({'CVMS_DATABASE_URL': fresh_postgres, 'CVMS_DATA_DIR': str(tmp_path)})
    starting = [subprocess.Popen([sys.executable, 'main.py', 'init-db'], cwd=ROOT, env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(4)]
    outputs = [process.communicate(timeout=120)[0] for process in starting]
    assert [process.returncode for process in starting] == [0] * 4, '\n'.join(outputs)
    engine = db_module.make_engine(fresh_postgres)
    try:
        with engine.connect() as connection:
            versions = [v for (v,) in connection.exec_driver_sql('SELECT version_num FROM alembic_version')]
            context = MigrationContext.configure(connection, opts={'compare_type': False})
            diffs = [d for d in compare_metadata(context, SQLModel.metadata) if not _ignorable(d)]
    finally:
        engine.dispose()
    assert sorted(versions) == sorted(ScriptDirectory.from_config(db_module.alembic_config()).get_heads())
    assert diffs == []


def test_existing_audit_rows_get_their_people_indexed(tmp_path: Path) -> None:
    """0024_harden fills auditsubject from the rows already written: a recipient's record and each person a
    recipient-list page named, so the person filter finds old rows as well as new ones."""
    url = f'sqlite:///{tmp_path / "old.sqlite3"}'
    command.upgrade(db_module.alembic_config(url), '0023_helpdesk_records_kb')
    with sqlite3.connect(tmp_path / 'old.sqlite3') as connection:
        connection.executemany(
            'INSERT INTO auditevent (id, at, action, entity_type, entity_id, detail) '
            "VALUES (?, '2026-12-01', ?, ?, ?, ?)",
            [(1, 'view_vaccination_form', 'recipient', '42', ''),
             (2, 'view_recipient_list', 'location', '3', "search 'a, b', page 1: recipients 5,42,9"),
             (3, 'view_recipient_list', 'location', '3', 'search \'\', page 2: recipients '),
             (4, 'lot_saved', 'lot', '42', 'recipients 7')])
    db_module.migrate(url)
    with sqlite3.connect(tmp_path / 'old.sqlite3') as connection:
        indexed = connection.execute('SELECT recipient_id, event_id FROM auditsubject ORDER BY 1, 2').fetchall()
    assert indexed == [(5, 2), (9, 2), (42, 1), (42, 2)]


def test_open_removal_requests_become_remove_a_recipient_cases(tmp_path: Path) -> None:
    """0027_helpdesk_removals: each open RemovalRequest (the table before the help desk) becomes a "Remove a
    recipient" case numbered from the cases' counter, asked by the same user, with the recipient and reason kept."""
    url = f'sqlite:///{tmp_path / "old.sqlite3"}'
    command.upgrade(db_module.alembic_config(url), '0026_readiness')
    with sqlite3.connect(tmp_path / 'old.sqlite3') as connection:
        connection.execute('INSERT INTO "user" (id, email, full_name, role, is_active, created_at) '
                           "VALUES (7, 'mia@clinic.example.org', 'Mia Manager', 'location_manager', 1, '2026-11-01')")
        connection.execute('INSERT INTO recipient (id, first_name, last_name, date_of_birth, identity_key, '
                           'last_name_key, first_name_key, source, created_at) '
                           "VALUES (42, 'Ada', 'Loaded', '1980-01-02', 'k', 'loaded', 'ada', 'bulk', '2026-11-01')")
        connection.execute('INSERT INTO casecounter (id, last_number) VALUES (1, 3)')  # three cases so far
        connection.executemany(
            'INSERT INTO removalrequest (id, created_at, recipient_id, requested_by_user_id, requested_by_email, '
            'reason, status) VALUES (?, ?, ?, ?, ?, ?, ?)',
            [(1, '2026-11-20 10:00:00', 42, 7, 'mia@clinic.example.org', 'Loaded twice by mistake', 'open'),
             (2, '2026-11-21 10:00:00', 43, 7, 'mia@clinic.example.org', 'Already handled', 'done'),
             (3, '2026-11-22 10:00:00', 44, None, 'old@clinic.example.org', 'Moved away', 'open')])
    db_module.migrate(url)
    with sqlite3.connect(tmp_path / 'old.sqlite3') as connection:
        moved = connection.execute(
            'SELECT number, request_type, assignment_group, state, subject, description, requester_user_id, '
            'requester_name, requester_email, recipient_id FROM helpdesk_case ORDER BY number').fetchall()
        statuses = connection.execute('SELECT id, status FROM removalrequest ORDER BY id').fetchall()
        [counter] = connection.execute('SELECT last_number FROM casecounter').fetchone()
    assert moved == [
        ('VACHCP0000004', 'remove_recipient', 'Recipient Records', 'new', 'Remove Ada Loaded',
         'Loaded twice by mistake', 7, 'Mia Manager', 'mia@clinic.example.org', 42),
        ('VACHCP0000005', 'remove_recipient', 'Recipient Records', 'new', 'Remove recipient 44', 'Moved away', None,
         'old@clinic.example.org', 'old@clinic.example.org', 44)]
    assert statuses == [(1, 'moved'), (2, 'done'), (3, 'moved')] and counter == 5
