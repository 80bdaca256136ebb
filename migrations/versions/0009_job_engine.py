"""job engine: procrastinate's schema (PostgreSQL only)

Revision ID: 0009_job_engine
Revises: 0008_bulk_import_speed
Create Date: 2026-12-01

The job engine's tables, types, functions and triggers (docs/adr/0010), as procrastinate 3.10.0 ships them in
procrastinate/sql/schema.sql, copied to migrations/procrastinate/ so this revision always builds the same schema
whatever version is installed later. A later procrastinate release brings its own SQL migrations: copy them
into a new revision here. SQLite has no job engine (background work runs in-process), so nothing happens there.
"""
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = '0009_job_engine'
down_revision: str | Sequence[str] | None = '0008_bulk_import_speed'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = Path(__file__).resolve().parents[1] / 'procrastinate' / 'schema-3.10.0.sql'


def _raw():  # noqa: ANN202 - psycopg's connection: its execute() takes several statements and no placeholders
    return op.get_bind().connection.driver_connection


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    _raw().execute(SCHEMA.read_text())


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    raw = _raw()
    raw.execute('DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs, '
                'procrastinate_workers CASCADE')
    functions = raw.execute("SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n "
                            "ON n.oid = p.pronamespace WHERE p.proname LIKE 'procrastinate%' "
                            "AND n.nspname = current_schema()").fetchall()
    for (signature,) in functions:
        raw.execute(f'DROP FUNCTION IF EXISTS {signature} CASCADE')
    raw.execute('DROP TYPE IF EXISTS procrastinate_job_to_defer_v1, procrastinate_job_event_type, '
                'procrastinate_job_status CASCADE')
