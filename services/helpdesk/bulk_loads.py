"""Bulk upload on behalf of a provider: from an HCP Onboarding & Recipient Bulk Upload case, an agent loads the
attached file into the provider's location through Bulk Registration's own High Volume job (the same checks, the
same durable job). When the job finishes, its counts and BulkError.csv are attached to the case and the requester
is emailed (`report_load`, called by the job in the unit of work that finishes the upload)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import PurePath

from sqlmodel import Session, col, select

from models import Location
from models.bulk import BulkUpload, BulkUploadError
from models.helpdesk import Case, CaseAttachment
from services.bulk import registration as bulk
from services.bulk.pipeline import FileRejected, error_report
from services.core import audit, mail
from services.core.db import session_scope
from services.core.errors import ValidationFailed
from services.helpdesk import cases
from services.helpdesk.cases import NewFile, RequestType
from services.permissions import Action, fetch, require
from services.principal import SYSTEM, Principal


@dataclass(frozen=True)
class LoadChoices:
    """What the agent chooses from: the case's recipient files and the locations to load into (the provider
    organization's, or every location when the case names none), and the load already made, if any."""
    files: list[tuple[int, str]]
    locations: list[tuple[int, str]]
    upload: bulk.UploadSummary | None


def load_choices(*, principal: Principal, case_id: int) -> LoadChoices:
    require(principal, Action.WORK_CASES)
    with session_scope(read_only=True) as session:
        case = fetch(session, Case, case_id, principal=principal, action='load_bulk_file')
        rows = session.exec(select(CaseAttachment.id, CaseAttachment.filename)
                            .where(CaseAttachment.case_id == case.id).order_by(col(CaseAttachment.id))).all()
        recipient_files = [(i, name) for i, name in rows
                           if PurePath(name).suffix.lower() in ('.csv', '.xlsx') and name != bulk.ERROR_FILE_NAME]
        query = select(Location).order_by(col(Location.name))
        if case.organization_id is not None:
            query = query.where(Location.organization_id == case.organization_id)
        locations = [(loc.id or 0, f'{loc.name} ({loc.code})') for loc in session.exec(query).all()]
        upload = session.get(BulkUpload, case.bulk_upload_id) if case.bulk_upload_id else None
        return LoadChoices(recipient_files, locations, bulk._summary(upload) if upload else None)


def load_on_behalf(*, principal: Principal, case_id: int, attachment_id: int, location_id: int) -> bulk.UploadSummary:
    """Queue the case's file as a High Volume job into the location; the case records it (one load per case)."""
    require(principal, Action.WORK_CASES)
    with session_scope(read_only=True) as session:
        case = fetch(session, Case, case_id, principal=principal, action='load_bulk_file')
        if case.request_type != RequestType.BULK_UPLOAD:
            raise ValidationFailed('Only an HCP Onboarding & Recipient Bulk Upload case loads a file.')
        if case.bulk_upload_id is not None:
            raise ValidationFailed('This case\'s file was loaded already: see its result below.')
        attachment = session.get(CaseAttachment, attachment_id)
        if attachment is None or attachment.case_id != case.id:
            raise ValidationFailed('Choose one of this case\'s files.')
        location = session.get(Location, location_id)
        if location is None or (case.organization_id is not None and location.organization_id != case.organization_id):
            raise ValidationFailed('Choose a location of the provider\'s organization.')
        file_name, data, code, number = attachment.filename, attachment.data, location.code, case.number
    try:
        # The server's own principal loads into the named location (as `main.py import-recipients` does): the
        # agent's right is WORK_CASES, checked above, not the location's Bulk Registration.
        upload = bulk.submit_file(principal=SYSTEM, file_name=file_name, data=data, location_code=code)
    except FileRejected as refusal:
        raise ValidationFailed(f'{file_name} was refused as a whole, nothing was loaded: {refusal}') from None
    with session_scope() as session:
        case = fetch(session, Case, case_id, principal=principal, action='load_bulk_file')
        stored = session.get(BulkUpload, upload.id)
        if stored is not None:  # who asked for it, in the location's upload history
            stored.uploaded_by_email = f'{principal.email} (help desk {number})'[:254]
            session.add(stored)
        case.bulk_upload_id = upload.id
        cases._event(session, case, principal, f'Loading {file_name} into {code} for the provider (upload '
                                               f'{upload.id}, {upload.total:,} records).', action='case_bulk_load')
        if case.state == cases.State.NEW:
            case.state = cases.State.IN_PROGRESS
        session.add(case)
    return upload


def report_load(session: Session, upload: BulkUpload) -> None:
    """In the unit of work that finishes an upload: if a case asked for it, its counts go into the conversation,
    BulkError.csv (when rows failed) onto the case, and an email with both to the requester."""
    case = session.exec(select(Case).where(Case.bulk_upload_id == upload.id)).first()
    if case is None:
        return
    failures = [(json.loads(values), error) for values, error in session.exec(
        select(BulkUploadError.values_json, BulkUploadError.error).where(BulkUploadError.upload_id == upload.id)
        .order_by(col(BulkUploadError.line))).all()]
    counts = (f'File: {upload.file_name}\nNumber of Records In File: {upload.total_rows:,}\n'
              f'Number of Records Successfully Loaded: {upload.loaded:,}\nNumber of Records Failed: {len(failures):,}')
    cases._event(session, case, None, f'The file was loaded.\n{counts}', action='case_bulk_load_finished')
    attachments = []
    if failures:
        report = error_report(json.loads(upload.header_json), failures)
        cases._attach(session, case, NewFile(bulk.ERROR_FILE_NAME, report), uploaded_by='help desk',
                      from_requester=False, content_type='text/csv')
        attachments = [mail.Attachment(bulk.ERROR_FILE_NAME, report)]
    session.add(case)
    if case.requester_email:
        mail.enqueue(session, to=case.requester_email, subject=f'{case.number}: your recipient file was loaded',
                     body_text=(f'The state help desk loaded your Recipient Bulk Upload file for {case.number}.\n\n'
                                f'{counts}\n\n'
                                + ('The attached BulkError.csv lists the lines that failed and why: correct them '
                                   'and send them again.\n\n' if failures else '')
                                + f'Your case: {cases._link(case)}\n'),
                     attachments=attachments or None, dedupe_key=f'case-load:{upload.id}')
    audit.record(session, action='case_bulk_load_reported', actor_email='system', entity_type='case',
                 entity_id=case.id, detail=f'upload={upload.id} loaded={upload.loaded} failed={len(failures)}')


def report_stopped(session: Session, upload_id: int) -> None:
    """In the unit of work that marks an upload failed (its job stopped): the case that asked for it says so to the
    agent, and the requester is emailed in the same unit of work (the records loaded so far are kept)."""
    case = session.exec(select(Case).where(Case.bulk_upload_id == upload_id)).first()
    upload = session.get(BulkUpload, upload_id)
    if case is None or upload is None:
        return
    cases._event(session, case, None, f'Loading {upload.file_name} stopped: {upload.message} '
                                      f'({upload.loaded:,} loaded, {upload.failed:,} failed so far).',
                 action='case_bulk_load_stopped')
    session.add(case)
    if case.requester_email:
        mail.enqueue(session, to=case.requester_email, subject=f'{case.number}: loading your recipient file stopped',
                     body_text=(f'The state help desk started loading your Recipient Bulk Upload file '
                                f'{upload.file_name} for {case.number}, but loading stopped before the end.\n\n'
                                f'Number of Records Successfully Loaded so far: {upload.loaded:,} (they are kept).\n'
                                'The help desk has been told and will follow up on your case; '
                                'you do not need to send the file again.\n\n'
                                f'Your case: {cases._link(case)}\n'),
                     dedupe_key=f'case-load-stopped:{upload.id}')
