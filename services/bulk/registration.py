"""Bulk Registration for people: the Low Volume preview and Create Records, the High Volume durable job,
upload history, BulkError.csv, and the result emails. Pages, the CLI and the job runner all call these."""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from itertools import islice
from pathlib import Path
from typing import TypeVar

from sqlalchemy import delete, func, insert, update
from sqlmodel import Session, col, select

from models import Location, RecipientSource, Role, utcnow
from models.bulk import BulkUpload, BulkUploadError, BulkUploadFile
from services.bulk.files import too_large
from services.bulk.pipeline import (
    LOW_VOLUME_MAX,
    CheckedRow,
    FileLayout,
    FileRejected,
    Target,
    check_row,
    error_report,
    insert_ready,
    mark_duplicates,
    read_layout,
    records,
    scan,
)
from services.core import audit, localtime, mail, queue
from services.core.db import get_engine, is_postgres, let_waiting_writers_in, session_scope
from services.core.errors import NotAllowed, NotFound, ValidationFailed
from services.core.fast_sql import bulk_pragmas, checkpoint, integrity_errors
from services.core.jobs import fewer_collections, repeat
from services.core.settings import get_settings
from services.organizations import employers
from services.permissions import Action, Kind, fetch, require, scope
from services.principal import SYSTEM, Principal
from services.recipients import fields

log = logging.getLogger(__name__)
T = TypeVar('T')
ERROR_FILE_NAME = 'BulkError.csv'


@dataclass
class Preview:
    """A Low Volume file, checked but not loaded: what the preview table shows."""
    file_name: str
    file_size: int
    header: list[str]
    notices: list[str]
    rows: list[CheckedRow]
    location_code: str | None = None  # the command line names the location; screens use the person's own

    @property
    def ready_count(self) -> int:
        return sum(1 for r in self.rows if r.ready)


@dataclass
class Outcome:
    """What Create Records (or the command line) did."""
    upload_id: int
    file_name: str
    total: int
    loaded: int
    failed_rows: list[CheckedRow]
    header: list[str]
    notices: list[str]

    @property
    def failed(self) -> int:
        return len(self.failed_rows)

    def error_file(self) -> bytes | None:
        return error_report(self.header, [(r.values, r.error) for r in self.failed_rows]) if self.failed_rows \
            else None


@dataclass(frozen=True)
class UploadSummary:
    id: int
    created_at: object
    mode: str
    status: str
    file_name: str
    uploaded_by: str
    total: int
    done: int
    loaded: int
    failed: int
    message: str
    time_zone: str = ''  # where created_at is read: the uploader's location, else the state


# ---------------------------------------------------------------- who loads where


def is_system(principal: Principal) -> bool:
    return principal == SYSTEM


def upload_target(*, principal: Principal, session: Session, location_code: str | None = None) -> Target:
    """The location (or, for employers, the organization) this person loads recipients into."""
    if is_system(principal):  # help-desk staff on the server's command line
        if not location_code:
            raise ValidationFailed('Name the location with --location CODE.')
        location = _location_by_code(session, location_code)
        return Target(location.id, location.organization_id, RecipientSource.BULK_UPLOAD)
    require(principal, Action.BULK_UPLOAD)
    if principal.role == Role.EMPLOYER:
        if principal.organization_id is None:
            raise NotAllowed('Your employer account has no organization.')
        employers.check_may_invite(session, principal)  # only organizations the state approved
        return Target(None, principal.organization_id, RecipientSource.EMPLOYER_INVITATION)
    location = _location_by_code(session, location_code) if location_code else \
        session.get(Location, principal.location_id) if principal.location_id else None
    if location is None:
        raise NotAllowed('Your account has no location to load recipients into.')
    require(principal, Action.BULK_UPLOAD, location_id=location.id, check_location=True)
    return Target(location.id, location.organization_id, RecipientSource.BULK_UPLOAD)


def _location_by_code(session: Session, code: str) -> Location:
    location = session.exec(select(Location).where(Location.code == code.strip().upper())).first()
    if location is None:
        raise NotFound(f'No location has the code {code}.')
    return location


def _actor_id(principal: Principal) -> int | None:
    return None if is_system(principal) else principal.user_id


def _retrying(work: Callable[[Session], T], attempts: int = 3) -> T:
    """Run a unit of work; when a concurrent upload took an identity key (or email) first, run it again:
    the second run finds that person and reports a duplicate instead of failing."""
    for attempt in range(attempts):
        try:
            with session_scope() as session:
                return work(session)
        except integrity_errors():
            if attempt == attempts - 1:
                raise
            log.info('bulk upload unit of work met a concurrent insert; retrying')
    raise AssertionError('unreachable')


def _too_many_low(total_hint: str = '') -> str:
    return (f'This file has more than {LOW_VOLUME_MAX} records{total_hint}. The Low Volume tab takes at most '
            f'{LOW_VOLUME_MAX}: use the High Volume tab for bigger files. Nothing was loaded.')


def _too_many_high() -> str:
    limit = get_settings().bulk_max_rows
    return (f'This file has more than {limit:,} records, the High Volume limit. Split it into files of at most '
            f'{limit:,} records. Nothing was loaded.')


def max_file_bytes() -> int:
    """The upload limit of Bulk Registration (CVMS_BULK_MAX_FILE_MB)."""
    return get_settings().bulk_max_file_mb * 1024 * 1024


def _check_size(size: int) -> None:
    if size > max_file_bytes():
        raise too_large(max_file_bytes())


def _refused(principal: Principal, file_name: str, message: str, *, target: Target | None, mode: str) -> None:
    with session_scope() as session:
        upload = BulkUpload(mode=mode, status='rejected', file_name=file_name[:255], message=message,
                            location_id=target.location_id if target else None,
                            organization_id=target.organization_id if target else None,
                            uploaded_by_user_id=_actor_id(principal), uploaded_by_email=principal.email,
                            finished_at=utcnow())
        session.add(upload)
        session.flush()
        audit.record(session, action='bulk_upload_refused', actor=principal, entity_type='bulk_upload',
                     entity_id=upload.id, detail=f'file={file_name!r} mode={mode}: {message}')


# ---------------------------------------------------------------- Low Volume


def preview(*, principal: Principal, data: bytes | Path, file_name: str, location_code: str | None = None) -> Preview:
    """Read and check a Low Volume file (its bytes, or the file an upload was spooled to) without loading anything
    (duplicates are looked up too)."""
    with session_scope(read_only=True) as session:
        target = upload_target(principal=principal, session=session, location_code=location_code)
    size = len(data) if isinstance(data, bytes) else data.stat().st_size
    try:
        _check_size(size)
        layout = scan(data, max_rows=LOW_VOLUME_MAX, too_many=_too_many_low())
    except FileRejected as refusal:
        _refused(principal, file_name, str(refusal), target=target, mode='low')
        raise
    rows = _checked(data, layout)
    with session_scope(read_only=True) as session:
        mark_duplicates(session, rows, set())
    return Preview(file_name=file_name, file_size=size, header=layout.header, notices=layout.notices, rows=rows,
                   location_code=location_code)


def load_low_volume_file(*, principal: Principal, path: Path, location_code: str | None = None) -> Outcome:
    """The Low Volume tab's rules for a file on disk (the command line): check, then Create Records."""
    try:
        _check_size(path.stat().st_size)
    except FileRejected as refusal:
        with session_scope() as session:
            target = upload_target(principal=principal, session=session, location_code=location_code)
        _refused(principal, path.name, str(refusal), target=target, mode='cli')
        raise
    return create_records(principal=principal, previewed=preview(principal=principal, data=path, file_name=path.name,
                                                                location_code=location_code))


def _checked(source: bytes | Path, layout: FileLayout, *, after_line: int = 1) -> list[CheckedRow]:
    today = fields.today()
    return [check_row(line, values, layout.columns, today) for line, values in records(source, layout,
                                                                                       after_line=after_line)]


def create_records(*, principal: Principal, previewed: Preview) -> Outcome:
    """Create Records: every ready row in one transaction; the rules run again (the preview may be stale)."""
    header = previewed.header
    columns = read_layout(header, 'csv', 'utf-8').columns
    today = fields.today()

    def work(session: Session) -> Outcome:
        target = upload_target(principal=principal, session=session, location_code=previewed.location_code)
        rows = [check_row(r.line, r.values, columns, today) for r in previewed.rows]
        mark_duplicates(session, rows, set())
        loaded = insert_ready(session, rows, target, created_by_user_id=_actor_id(principal))
        failed = [r for r in rows if not r.ready]
        upload = _record_upload(session, principal, target, file_name=previewed.file_name, mode='low',
                                size=previewed.file_size, header=header, total=len(rows), loaded=loaded, failed=failed)
        return Outcome(upload_id=upload.id or 0, file_name=previewed.file_name, total=len(rows), loaded=loaded,
                       failed_rows=failed, header=header, notices=previewed.notices)

    return _retrying(work)


def _record_upload(session: Session, principal: Principal, target: Target, *, file_name: str, mode: str, size: int,
                   header: list[str], total: int, loaded: int, failed: list[CheckedRow]) -> BulkUpload:
    now = utcnow()
    upload = BulkUpload(mode=mode, status='done', file_name=file_name[:255], file_size=size,
                        location_id=target.location_id, organization_id=target.organization_id,
                        recipient_source=target.source, uploaded_by_user_id=_actor_id(principal),
                        uploaded_by_email=principal.email, header_json=json.dumps(header), total_rows=total,
                        rows_done=total, loaded=loaded, failed=len(failed), started_at=now, finished_at=now)
    session.add(upload)
    session.flush()
    _store_failures(session, upload.id or 0, failed)
    audit.record(session, action='bulk_upload_loaded', actor=principal, entity_type='bulk_upload',
                 entity_id=upload.id, detail=f'file={file_name!r} mode={mode} total={total} loaded={loaded} '
                                             f'failed={len(failed)}')
    if failed and not is_system(principal):
        _queue_result_email(session, upload, [(r.values, r.error) for r in failed])
    return upload


def _store_failures(session: Session, upload_id: int, failed: list[CheckedRow]) -> None:
    if failed:
        session.connection().execute(insert(BulkUploadError), [
            {'upload_id': upload_id, 'line': r.line, 'values_json': json.dumps(r.values, ensure_ascii=False),
             'error': r.error} for r in failed])


def resubmit_row(*, principal: Principal, upload_id: int, line: int, first_name: str, last_name: str,
                 date_of_birth: str, email: str) -> CheckedRow:
    """Correct one failed row in place and try it again. Returns the row: ready (and created) or with its errors."""
    def work(session: Session) -> CheckedRow:
        upload = fetch(session, BulkUpload, upload_id, principal=principal, action='resubmit_row')
        target = upload_target(principal=principal, session=session)
        failure = session.exec(select(BulkUploadError).where(BulkUploadError.upload_id == upload_id)
                               .where(BulkUploadError.line == line)).first()
        if failure is None:
            raise NotFound(f'Line {line} is not among the failed rows of this file.')
        header = json.loads(upload.header_json)
        columns = read_layout(header, 'csv', 'utf-8').columns
        values = list(json.loads(failure.values_json))
        values += [''] * (len(header) - len(values))
        for name, value in (('first_name', first_name), ('last_name', last_name),
                            ('date_of_birth', date_of_birth), ('email', email)):
            values[columns[name]] = value
        row = check_row(line, values, columns, fields.today())
        mark_duplicates(session, [row], set())
        if not row.ready:
            failure.values_json, failure.error = json.dumps(values, ensure_ascii=False), row.error
            session.add(failure)
            return row
        insert_ready(session, [row], target, created_by_user_id=_actor_id(principal))
        session.delete(failure)
        session.execute(update(BulkUpload).where(col(BulkUpload.id) == upload_id)
                        .values(loaded=BulkUpload.loaded + 1, failed=BulkUpload.failed - 1))
        audit.record(session, action='bulk_row_resubmitted', actor=principal, entity_type='bulk_upload',
                     entity_id=upload_id, detail=f'line={line} loaded')
        return row

    return _retrying(work)


# ---------------------------------------------------------------- High Volume (durable job)

UPLOAD_TASK = 'bulk.process_upload'  # the job engine's task for an upload (services/background.py)


def submit_file(*, principal: Principal, file_name: str, data: bytes | None = None, path: Path | None = None,
                mode: str = 'high', location_code: str | None = None) -> UploadSummary:
    """Store a High Volume file and queue its job; a refusal of the whole file raises FileRejected (nothing loaded).
    The file's bytes, the upload row and its job commit together, in the database: any worker can take the job."""
    with session_scope() as session:
        target = upload_target(principal=principal, session=session, location_code=location_code)
    try:
        if data is None:
            assert path is not None
            _check_size(path.stat().st_size)
            data = path.read_bytes()
        else:
            _check_size(len(data))
        layout = scan(data, max_rows=get_settings().bulk_max_rows, too_many=_too_many_high())
    except FileRejected as refusal:
        _refused(principal, file_name, str(refusal), target=target, mode=mode)
        raise
    with session_scope() as session:
        upload = BulkUpload(mode=mode, status='queued', file_name=file_name[:255], file_size=len(data),
                            location_id=target.location_id, organization_id=target.organization_id,
                            recipient_source=target.source, uploaded_by_user_id=_actor_id(principal),
                            uploaded_by_email=principal.email, header_json=json.dumps(layout.header),
                            encoding=layout.encoding or layout.kind, total_rows=layout.total,
                            message=' '.join(layout.notices))
        session.add(upload)
        session.flush()
        session.add(BulkUploadFile(upload_id=upload.id, data=data))
        audit.record(session, action='bulk_upload_submitted', actor=principal, entity_type='bulk_upload',
                     entity_id=upload.id, detail=f'file={file_name!r} mode={mode} records={layout.total}')
        queue.defer(session, UPLOAD_TASK, upload_id=upload.id)
        return _summary(upload)


def _layout_of(upload: BulkUpload) -> FileLayout:
    kind = 'xlsx' if upload.encoding == 'xlsx' else 'csv'
    layout = read_layout(json.loads(upload.header_json), kind, '' if kind == 'xlsx' else upload.encoding)
    layout.total = upload.total_rows
    return layout


class _NotOurs(Exception):
    """Another runner moved this upload on (it took the job over, or finished it): this one stops, and the chunk
    it was loading rolls back."""


class _Paused(Exception):
    """Asked to stop between chunks (the worker is shutting down): the upload went back to the queue."""


def run_job(upload_id: int, *, chunk: int | None = None, take_over: bool = False,
            should_stop: Callable[[], bool] = lambda: False) -> UploadSummary | None:
    """Process an upload to the end, one committed chunk at a time. Each chunk's recipients, emails, failed rows
    and the job's progress commit together, and only if the progress is still where this runner left it: after
    a crash the job resumes after its last committed line, and even two runners of one upload never load a chunk
    twice (the later one stops). Nothing is created twice or missed, no welcome email is queued twice.

    Takes a queued upload, or a running one whose runner has been silent for longer than the lease;
    `take_over=True` (the job engine, which decides who runs a job) also takes a running one.
    `should_stop` is asked between chunks: when it says so the upload goes back to the queue, returned with the
    status 'queued'. Returns None when the upload is not (or no longer) this runner's."""
    upload = _claim(upload_id, take_over=take_over)
    if upload is None:
        return None
    try:
        with fewer_collections():
            last_line = _process(upload, chunk or get_settings().bulk_chunk_rows, should_stop)
    except _NotOurs:
        log.info('bulk upload %s: another runner has it; this one stops', upload_id)
        return None
    except _Paused:
        log.info('bulk upload %s: stopped between chunks, back in the queue', upload_id)
        with session_scope(read_only=True) as session:
            return _summary(session.get(BulkUpload, upload_id))
    except Exception as error:
        log.exception('bulk upload %s stopped', upload_id)
        with session_scope() as session:
            stopped = session.execute(update(BulkUpload).where(col(BulkUpload.id) == upload_id)
                                      .where(col(BulkUpload.status) == 'running').values(
                status='failed', finished_at=utcnow(),
                message=f'Processing stopped: {error}. The records loaded so far are kept.'))
            if stopped.rowcount == 1:
                audit.record(session, action='bulk_upload_failed', actor_email=upload.uploaded_by_email,
                             entity_type='bulk_upload', entity_id=upload_id, detail=str(error)[:500])
                from services.helpdesk.bulk_loads import report_stopped  # a help desk load: its case is told
                report_stopped(session, upload_id)
        return None
    return _finish(upload_id, last_line)


def _claim(upload_id: int, *, take_over: bool) -> BulkUpload | None:
    cutoff = utcnow() - timedelta(seconds=get_settings().job_lease_seconds)
    running = col(BulkUpload.status) == 'running'
    if not take_over:
        running = running & (col(BulkUpload.heartbeat_at).is_(None) | (col(BulkUpload.heartbeat_at) < cutoff))
    with session_scope() as session:
        claimed = session.execute(update(BulkUpload).where(col(BulkUpload.id) == upload_id)
                                  .where((col(BulkUpload.status) == 'queued') | running)
                                  .values(status='running', heartbeat_at=utcnow(),
                                          started_at=func.coalesce(BulkUpload.started_at, utcnow())))
        if claimed.rowcount != 1:
            return None
        return session.get(BulkUpload, upload_id)


def _process(upload: BulkUpload, chunk: int, should_stop: Callable[[], bool]) -> int:
    """Load the rest of the file; returns the line of its last record."""
    with session_scope(read_only=True) as session:
        stored = session.get(BulkUploadFile, upload.id)
        if stored is None:  # the job was finished meanwhile
            raise _NotOurs
        source = stored.data
    layout = _layout_of(upload)
    target = Target(upload.location_id, upload.organization_id, upload.recipient_source)
    today = fields.today()
    lines = records(source, layout, after_line=upload.last_line)

    def next_chunk() -> list[CheckedRow]:
        """Read and check the next `chunk` records (no database: outside any write transaction)."""
        return [check_row(line, values, layout.columns, today) for line, values in islice(lines, chunk)]

    seen: set[str] = set()
    last_line = upload.last_line
    # One reader thread reads and checks the next chunk while this one commits: the commit (writing the chunk's
    # pages to the WAL) releases the GIL, so the rules' Python work runs beside it on the other core. Only one
    # chunk is ever read ahead, and only once its predecessor's statements are done, so the two never compete
    # for the GIL during the row-by-row inserts. The same thread then checkpoints the WAL (also without the
    # GIL) while the next chunk is inserted; the job's own commits skip it (bulk_pragmas).
    # PostgreSQL commits in milliseconds, so there the next chunk is read from the start of this one's unit of
    # work, beside the COPYs, whose time is the server's (about 1 s of a 100,000-row upload, ADR 0002 addendum 4).
    early = is_postgres()
    with ThreadPoolExecutor(1, thread_name_prefix='bulk-upload-reader') as reader:
        rows = next_chunk()
        while rows:
            ahead: list[Future[list[CheckedRow]]] = []

            def work(session: Session, rows: list[CheckedRow] = rows, seen: set[str] = seen,
                     ahead: list[Future[list[CheckedRow]]] = ahead, after: int = last_line) -> set[str]:
                if early and not ahead:
                    ahead.append(reader.submit(next_chunk))
                attempt_seen = _load_chunk(session, upload, target, rows, seen, after=after)
                if not ahead:  # all that is left of this unit of work is its commit
                    ahead.append(reader.submit(next_chunk))
                    reader.submit(checkpoint, get_engine()).add_done_callback(_log_failure)
                return attempt_seen

            seen = _retrying(work)
            last_line = rows[-1].line
            let_waiting_writers_in()  # a check-in or log-in waiting for SQLite's write lock goes first
            rows = ahead[0].result() if ahead else next_chunk()
            if rows and should_stop():
                _back_to_queue(upload.id or 0, last_line)
    checkpoint(get_engine())
    return last_line


def _log_failure(future: Future) -> None:
    if (error := future.exception()) is not None:
        log.warning('WAL checkpoint beside a bulk upload failed: %s', error)


def _load_chunk(session: Session, upload: BulkUpload, target: Target, rows: list[CheckedRow],
                seen: set[str], *, after: int) -> set[str]:
    """One chunk of a High Volume job: duplicates, inserts, failed rows and the job's progress, in the caller's
    unit of work, which first moves the progress on from `after` (the line this runner loaded up to) or raises
    _NotOurs when another runner has moved it. Returns the identity keys seen so far, this chunk's included."""
    bulk_pragmas(session)
    # First, so a second runner of this upload waits here (the row's lock) and then finds the line moved on.
    moved = session.execute(update(BulkUpload).where(col(BulkUpload.id) == upload.id)
                            .where(col(BulkUpload.status) == 'running').where(col(BulkUpload.last_line) == after)
                            .values(rows_done=BulkUpload.rows_done + len(rows), last_line=rows[-1].line,
                                    heartbeat_at=utcnow()))
    if moved.rowcount != 1:
        raise _NotOurs
    attempt_seen = set(seen)  # a retried unit of work starts again from the keys of the chunks before it
    mark_duplicates(session, rows, attempt_seen)
    loaded = insert_ready(session, rows, target, created_by_user_id=upload.uploaded_by_user_id)
    failed = [r for r in rows if not r.ready]
    _store_failures(session, upload.id or 0, failed)
    session.execute(update(BulkUpload).where(col(BulkUpload.id) == upload.id).values(
        loaded=BulkUpload.loaded + loaded, failed=BulkUpload.failed + len(failed)))
    return attempt_seen


def _back_to_queue(upload_id: int, last_line: int) -> None:
    with session_scope() as session:
        released = session.execute(update(BulkUpload).where(col(BulkUpload.id) == upload_id)
                                   .where(col(BulkUpload.status) == 'running')
                                   .where(col(BulkUpload.last_line) == last_line).values(status='queued'))
    raise _Paused if released.rowcount == 1 else _NotOurs


def _finish(upload_id: int, last_line: int) -> UploadSummary | None:
    with session_scope() as session:
        finished = session.execute(update(BulkUpload).where(col(BulkUpload.id) == upload_id)
                                   .where(col(BulkUpload.status) == 'running')
                                   .where(col(BulkUpload.last_line) == last_line)
                                   .values(status='done', finished_at=utcnow()))
        if finished.rowcount != 1:
            return None  # another runner finished it
        upload = session.get(BulkUpload, upload_id)
        assert upload is not None
        audit.record(session, action='bulk_upload_loaded', actor_email=upload.uploaded_by_email,
                     entity_type='bulk_upload', entity_id=upload_id,
                     detail=f'file={upload.file_name!r} mode={upload.mode} total={upload.total_rows} '
                            f'loaded={upload.loaded} failed={upload.failed}')
        if upload.uploaded_by_user_id is not None:
            _queue_result_email(session, upload, _failures(session, upload_id))
        from services.helpdesk.bulk_loads import report_load  # a load the help desk made for a provider's case
        report_load(session, upload)
        session.execute(delete(BulkUploadFile).where(col(BulkUploadFile.upload_id) == upload_id))
        return _summary(upload)  # only the failed rows are kept, in BulkUploadError


def _failures(session: Session, upload_id: int) -> list[tuple[list[str], str]]:
    rows = session.exec(select(BulkUploadError.values_json, BulkUploadError.error)
                        .where(BulkUploadError.upload_id == upload_id).order_by(col(BulkUploadError.line))).all()
    return [(json.loads(values), error) for values, error in rows]


def _queue_result_email(session: Session, upload: BulkUpload, failures: list[tuple[list[str], str]]) -> None:
    """The uploader's result email (the guide's "Bulk Employee Upload - Success / Failure")."""
    name = upload.file_name
    if not failures:
        subject = 'Bulk Employee Upload - Success'
        body = ('The Bulk Employee upload file has been successfully loaded with no rejected records. Details of the '
                f'file loaded are below:\n\nFilename: {name}\nNumber of Records Successfully Loaded: {upload.loaded}\n')
        attachments = None
    else:
        subject = 'Bulk Employee Upload - Failure'
        body = ('The Bulk Employee upload file has loaded with errors. Please review below for details of the file. '
                'Please review the attachment for the specific lines that failed:\n\n'
                f'Filename: {name}\nNumber of Records In File: {upload.total_rows}\n'
                f'Number of Records Successfully Loaded: {upload.loaded}\nNumber of Records Failed: {len(failures)}\n')
        header = json.loads(upload.header_json)
        attachments = [mail.Attachment(ERROR_FILE_NAME, error_report(header, failures))]
    mail.enqueue(session, to=upload.uploaded_by_email, subject=subject, body_text=body, attachments=attachments,
                 dedupe_key=f'bulk-result:{upload.id}')


def waiting_upload_ids() -> list[int]:
    """Uploads waiting for a runner: queued, or running with a runner silent for longer than the lease (its
    process died). What the in-process runner (SQLite) looks for; the job engine keeps its own queue."""
    cutoff = utcnow() - timedelta(seconds=get_settings().job_lease_seconds)
    stale = col(BulkUpload.heartbeat_at).is_(None) | (col(BulkUpload.heartbeat_at) < cutoff)
    with session_scope(read_only=True) as session:  # polled every second: no write lock for it
        return list(session.exec(select(BulkUpload.id).where(
            (col(BulkUpload.status) == 'queued') | ((col(BulkUpload.status) == 'running') & stale))
            .order_by(col(BulkUpload.id))))


async def run_worker(stop: asyncio.Event, *, interval: float = 1.0) -> None:
    """The in-process High Volume runner (SQLite; on PostgreSQL the job engine runs UPLOAD_TASK): processes
    waiting uploads off the event loop; when `stop` is set a job stops after its current chunk."""

    async def run_waiting() -> None:
        for upload_id in await asyncio.to_thread(waiting_upload_ids):
            if stop.is_set():
                break
            await asyncio.to_thread(run_job, upload_id, should_stop=stop.is_set)

    await repeat(stop, run_waiting, interval=interval, name='bulk upload runner')


# ---------------------------------------------------------------- history and error files


def _summary(upload: BulkUpload, *, time_zone: str = '') -> UploadSummary:
    return UploadSummary(id=upload.id or 0, created_at=upload.created_at, mode=upload.mode, status=upload.status,
                         file_name=upload.file_name, uploaded_by=upload.uploaded_by_email, total=upload.total_rows,
                         done=upload.rows_done, loaded=upload.loaded, failed=upload.failed, message=upload.message,
                         time_zone=time_zone)


def _require_upload_rights(principal: Principal) -> None:
    if not is_system(principal):
        require(principal, Action.BULK_UPLOAD)


def upload_history(*, principal: Principal, limit: int = 50) -> list[UploadSummary]:
    require(principal, Action.BULK_UPLOAD)
    with session_scope(read_only=True) as session:
        query = scope(select(BulkUpload), principal=principal, kind=Kind.UPLOAD).order_by(col(BulkUpload.id).desc()) \
            .limit(limit)
        zone = localtime.zone_name(session.get(Location, principal.location_id) if principal.location_id else None)
        return [_summary(u, time_zone=zone) for u in session.exec(query)]


RECENT_UPLOAD = timedelta(hours=12)  # a person back on Bulk Registration within this is told about their job


def recent_own_upload(uploads: list[UploadSummary], *, email: str) -> UploadSummary | None:
    """Of an upload history (newest first), the High Volume job this person submitted last, while it still runs
    or if it was submitted in the last RECENT_UPLOAD: what the page's banner follows when they come back."""
    for upload in uploads:
        if upload.mode != 'low' and upload.uploaded_by.lower() == email.lower():
            recent = upload.created_at >= utcnow() - RECENT_UPLOAD
            return upload if recent or upload.status in ('queued', 'running') else None
    return None


def upload_jobs(*, principal: Principal, limit: int = 50) -> list[UploadSummary]:
    """Every location's High Volume jobs, newest first (the server's command line, or state-wide staff)."""
    if not is_system(principal):
        require(principal, Action.VIEW_ALL_LOCATIONS)
    with session_scope(read_only=True) as session:
        query = scope(select(BulkUpload), principal=principal, kind=Kind.UPLOAD).where(BulkUpload.mode != 'low') \
            .where(BulkUpload.status != 'rejected').order_by(col(BulkUpload.id).desc()).limit(limit)
        return [_summary(u) for u in session.exec(query)]


def upload_status(*, principal: Principal, upload_id: int) -> UploadSummary:
    _require_upload_rights(principal)
    with session_scope(read_only=True) as session:
        return _summary(fetch(session, BulkUpload, upload_id, principal=principal, action='view_bulk_upload'))


def upload_error_file(*, principal: Principal, upload_id: int) -> bytes | None:
    """BulkError.csv of an upload (None when nothing failed)."""
    _require_upload_rights(principal)
    with session_scope(read_only=True) as session:
        upload = fetch(session, BulkUpload, upload_id, principal=principal, action='view_bulk_upload')
        failures = _failures(session, upload_id)
        data = error_report(json.loads(upload.header_json), failures) if failures else None
    if data is not None:
        audit.record_now(action='download_bulk_errors', actor=principal, entity_type='upload', entity_id=upload_id,
                         detail=f'{ERROR_FILE_NAME}, {len(failures)} rows')
    return data


def upload_failures(*, principal: Principal, upload_id: int) -> list[tuple[int, list[str], str]]:
    """(line, values, error) of an upload's failed rows."""
    _require_upload_rights(principal)
    with session_scope(read_only=True) as session:
        fetch(session, BulkUpload, upload_id, principal=principal, action='view_bulk_upload')
        rows = session.exec(select(BulkUploadError.line, BulkUploadError.values_json, BulkUploadError.error)
                            .where(BulkUploadError.upload_id == upload_id).order_by(col(BulkUploadError.line))).all()
        return [(line, json.loads(values), error) for line, values, error in rows]


def template_csv() -> bytes:
    from services.bulk.pipeline import TEMPLATE_HEADER
    from services.core.csv_safe import to_csv_bytes
    return to_csv_bytes(TEMPLATE_HEADER, [])


def template_xlsx() -> bytes:
    import io

    from openpyxl import Workbook

    from services.bulk.pipeline import TEMPLATE_HEADER
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = 'Recipients'
    sheet.append(TEMPLATE_HEADER)
    for position, column in enumerate('ABCD', start=1):
        sheet.column_dimensions[column].width = 24
        for line in range(2, 1002):
            sheet.cell(row=line, column=position).number_format = '@'  # text: Excel keeps 12/1/1955 as typed
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
