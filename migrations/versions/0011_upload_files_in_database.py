"""upload files in the database: bulkuploadfile, bulkupload.heartbeat_at, no stored_name

Revision ID: 0011_upload_files
Revises: 0010_folded_name_keys
Create Date: 2026-12-01

A High Volume file was written to the data folder of the instance that received it, while any instance's worker
could take its job. Its bytes now live in `bulkuploadfile` until the job is done. Files of uploads still waiting
or running are copied in from this process's data folder when they are there; on PostgreSQL each such upload gets
its job in the engine (as submit_file defers one now), so nothing waits for a runner that no longer looks.
"""
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0011_upload_files'
down_revision: str | Sequence[str] | None = '0010_folded_name_keys'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_when = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        'bulkuploadfile',
        sa.Column('upload_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['upload_id'], ['bulkupload.id']),
        sa.PrimaryKeyConstraint('upload_id'),
    )
    with op.batch_alter_table('bulkupload') as batch_op:
        batch_op.add_column(sa.Column('heartbeat_at', _when(), nullable=True))
    bind = op.get_bind()
    waiting = bind.execute(sa.text("SELECT id, stored_name FROM bulkupload WHERE status IN ('queued', 'running')")).all()
    from services.core.settings import get_settings
    uploads = get_settings().data_dir / 'uploads'
    for upload_id, stored_name in waiting:
        path = uploads / (stored_name or '')
        if stored_name and Path(path).is_file():
            bind.execute(sa.text('INSERT INTO bulkuploadfile (upload_id, data) VALUES (:id, :data)'),
                         {'id': upload_id, 'data': path.read_bytes()})
            if bind.dialect.name == 'postgresql':
                bind.execute(sa.text(
                    "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW('default', 'bulk.process_upload', 0, NULL, NULL, "
                    "jsonb_build_object('upload_id', :id), NULL)::procrastinate_job_to_defer_v1])"), {'id': upload_id})
        else:
            bind.execute(sa.text("UPDATE bulkupload SET status = 'failed', message = :message WHERE id = :id"),
                         {'id': upload_id, 'message': 'The uploaded file was not found when the system was upgraded. '
                                                      'The records loaded so far are kept; upload the file again.'})
    with op.batch_alter_table('bulkupload') as batch_op:
        batch_op.drop_column('stored_name')


def downgrade() -> None:
    with op.batch_alter_table('bulkupload') as batch_op:
        batch_op.add_column(sa.Column('stored_name', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True))
        batch_op.drop_column('heartbeat_at')
    op.drop_table('bulkuploadfile')
