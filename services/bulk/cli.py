"""`main.py import-recipients PATH --location CODE [--as EMAIL] [--high-volume [--no-wait]] [--json]`: help-desk
staff load a provider's file for them (the guide's "Submit the File to the Help Desk" path) with the same rules and
limits as the matching tab. Exit codes: 0 processed or queued (even with failed rows), 2 refused as a whole, 1 any
other error. `main.py jobs [--json]`: the High Volume upload jobs and where they are."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sqlmodel import select

from models import User
from services.accounts.auth import normalize_email, principal_for
from services.bulk import registration as bulk
from services.bulk.pipeline import FileRejected
from services.core.db import session_scope
from services.core.errors import ServiceError
from services.core.settings import get_settings
from services.principal import SYSTEM, Principal


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser('import-recipients', help='load a Recipient Bulk Upload file (CSV or .xlsx)')
    parser.add_argument('path', type=Path)
    parser.add_argument('--location', required=True, help='location code, e.g. DEMO1')
    parser.add_argument('--as', dest='as_email', help='act as this user (they get the result email); '
                                                       'default: the help desk on the server')
    parser.add_argument('--high-volume', action='store_true',
                        help=f'High Volume rules (up to CVMS_BULK_MAX_ROWS records) instead of Low Volume '
                             f'({bulk.LOW_VOLUME_MAX})')
    parser.add_argument('--no-wait', action='store_true',
                        help='with --high-volume: queue the job for the workers and return at once')
    parser.add_argument('--json', action='store_true', help='print one JSON object')
    parser.set_defaults(handler=run)

    jobs = commands.add_parser('jobs', help='list High Volume upload jobs: id, status, total, loaded, failed')
    jobs.add_argument('--limit', type=int, default=50)
    jobs.add_argument('--json', action='store_true', help='print one JSON list')
    jobs.set_defaults(handler=list_jobs)


def list_jobs(args: argparse.Namespace) -> int:
    summaries = bulk.upload_jobs(principal=SYSTEM, limit=args.limit)
    if args.json:
        print(json.dumps([{'id': s.id, 'status': s.status, 'total': s.total, 'done': s.done, 'loaded': s.loaded,
                           'failed': s.failed, 'file': s.file_name, 'uploaded_by': s.uploaded_by} for s in summaries],
                         ensure_ascii=False))
        return 0
    print(f'{"id":>6}  {"status":<8}  {"total":>8}  {"done":>8}  {"loaded":>8}  {"failed":>8}  file')
    for s in summaries:
        print(f'{s.id:>6}  {s.status:<8}  {s.total:>8}  {s.done:>8}  {s.loaded:>8}  {s.failed:>8}  {s.file_name}')
    return 0


def _principal(as_email: str | None) -> Principal:
    if not as_email:
        return SYSTEM
    with session_scope(read_only=True) as session:
        user = session.exec(select(User).where(User.email == normalize_email(as_email))).first()
        if user is None or not user.is_active:
            raise ServiceError(f'No active account has the email {as_email}.')
        return principal_for(session, user)


def _error_report_path(source: Path, data: bytes) -> str:
    target = source.with_name(f'{source.stem}-BulkError.csv')
    try:
        target.write_bytes(data)
    except OSError:
        target = get_settings().data_dir / f'{source.stem}-BulkError.csv'
        target.write_bytes(data)
    return str(target.resolve())


def run(args: argparse.Namespace) -> int:
    def say(payload: dict, text: str, *, stream=sys.stdout) -> None:  # noqa: ANN001
        print(json.dumps(payload, ensure_ascii=False) if args.json else text, file=stream)

    try:
        principal = _principal(args.as_email)
        source: Path = args.path
        if not source.is_file():
            raise ServiceError(f'No such file: {source}')
        if args.no_wait and not args.high_volume:
            raise ServiceError('--no-wait queues a High Volume job: add --high-volume.')
        if args.high_volume:
            summary = bulk.submit_file(principal=principal, file_name=source.name, path=source, mode='cli',
                                       location_code=args.location)
            if args.no_wait:
                say({'job_id': summary.id, 'status': summary.status},
                    f'{source.name}: {summary.total} records queued as job {summary.id}; '
                    f'`main.py jobs` shows how far it is.')
                return 0
            from services import background
            background.finish_upload(summary.id)
            summary = bulk.upload_status(principal=principal, upload_id=summary.id)
            if summary.status != 'done':
                raise ServiceError(summary.message or f'The upload ended with status {summary.status}.')
            failures = bulk.upload_failures(principal=principal, upload_id=summary.id)
            total, loaded, upload_id = summary.total, summary.loaded, summary.id
            notices = [summary.message] if summary.message else []
        else:
            outcome = bulk.load_low_volume_file(principal=principal, path=source, location_code=args.location)
            failures = [(r.line, r.values, r.error) for r in outcome.failed_rows]
            total, loaded, upload_id, notices = outcome.total, outcome.loaded, outcome.upload_id, outcome.notices
    except FileRejected as refusal:
        say({'rejected': True, 'message': str(refusal)}, f'Refused: {refusal}', stream=sys.stdout if args.json
            else sys.stderr)
        return 2
    except (ServiceError, OSError) as error:
        say({'error': str(error)}, f'Error: {error}', stream=sys.stderr)
        return 1
    report = bulk.upload_error_file(principal=SYSTEM, upload_id=upload_id) if failures else None
    report_path = _error_report_path(source, report) if report else None
    payload = {'file': str(source), 'total': total, 'loaded': loaded, 'failed': len(failures),
               'errors': [{'line': line, 'error': error} for line, _values, error in failures],
               'error_report': report_path}
    lines = [f'{source.name}: {total} records, {loaded} loaded, {len(failures)} failed.', *notices]
    lines += [error for _line, _values, error in failures[:50]]
    if len(failures) > 50:
        lines.append(f'… and {len(failures) - 50} more')
    if report_path:
        lines.append(f'Failed rows: {report_path}')
    say(payload, '\n'.join(lines))
    return 0
