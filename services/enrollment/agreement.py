"""The Provider Agreement as its organization's enrollment contact fills it: the draft kept on Next and on Pause,
the officers' signatures, Submit (again after the state returned it, with an answer), and the signed PDF."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from models import EnrollmentStatus, Organization, utcnow
from models.enrollment import Enrollment, EnrollmentNote, EnrollmentSignature
from services.accounts.auth import link
from services.core import audit, mail
from services.core.db import session_scope
from services.core.errors import NotFound, ServiceError, ValidationFailed
from services.enrollment import form
from services.permissions import Action, Kind, fetch, require, scope
from services.principal import Principal

EDITABLE = (EnrollmentStatus.INVITED, EnrollmentStatus.IN_PROGRESS, EnrollmentStatus.RETURNED)


@dataclass(frozen=True)
class Signature:
    part: str
    signer_name: str
    signer_title: str
    attestations: list[str]
    signed_at: datetime


@dataclass(frozen=True)
class Note:
    kind: str
    text: str
    author: str
    created_at: datetime


@dataclass
class Agreement:
    """An organization's Provider Agreement as pages, the review and the PDF show it."""
    enrollment_id: int
    organization_id: int
    organization_name: str
    status: str
    contact_email: str
    priority_group: str
    step: int
    paused: bool
    draft: dict[str, Any]
    invited_at: datetime
    submitted_at: datetime | None
    provider_pin: str | None = None
    signatures: dict[str, Signature] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)

    @property
    def editable(self) -> bool:
        return self.status in EDITABLE

    @property
    def return_note(self) -> Note | None:
        """The state's latest note asking for changes, while the agreement is returned."""
        returned = [note for note in self.notes if note.kind == 'returned']
        return returned[-1] if returned and self.status == EnrollmentStatus.RETURNED else None


def my_agreement(*, principal: Principal) -> Agreement:
    """The enrollment contact's own organization's agreement."""
    require(principal, Action.ENROLL_ORGANIZATION)
    with session_scope(read_only=True) as session:
        return view(session, _own(session, principal))


def save_draft(*, principal: Principal, draft: dict[str, Any], step: int, pause: bool = False) -> None:
    """Keep what was entered (Next, Previous, Add or remove a location, Pause); nothing is checked here."""
    require(principal, Action.ENROLL_ORGANIZATION)
    with session_scope() as session:
        enrollment = _own(session, principal, for_update=True)
        organization = _editable(session, enrollment)
        enrollment.draft_json = json.dumps(form.normalized(draft))
        enrollment.step, enrollment.paused, enrollment.updated_at = max(0, min(step, len(form.STEPS) - 1)), pause, \
            utcnow()
        if organization.enrollment_status == EnrollmentStatus.INVITED:
            organization.enrollment_status = EnrollmentStatus.IN_PROGRESS
            session.add(organization)
            audit.record(session, action='enrollment_started', actor=principal, entity_type='organization',
                         entity_id=organization.id)
        session.add(enrollment)


def sign(*, principal: Principal, part: str, typed_name: str, attestations: list[str],
         draft: dict[str, Any] | None = None) -> Signature:
    """An officer signs: their name typed as the agreement names them and every attestation ticked. With `draft`,
    the form's current answers are kept first (the name to match is the one on the screen)."""
    require(principal, Action.ENROLL_ORGANIZATION)
    if part not in form.SIGNATURE_PARTS:
        raise ValidationFailed('Choose what to sign.')
    with session_scope() as session:
        enrollment = _own(session, principal, for_update=True)
        _editable(session, enrollment)
        if draft is not None:
            enrollment.draft_json = json.dumps(form.normalized(draft))
            session.add(enrollment)
        current = json.loads(enrollment.draft_json or '{}') or form.empty_draft()
        officer = current.get('ceo' if part == 'redistribution' else part) or {}
        problem = signature_problem(part, officer, typed_name, attestations)
        if problem:
            raise ValidationFailed(problem)
        row = session.exec(select(EnrollmentSignature).where(EnrollmentSignature.enrollment_id == enrollment.id)
                           .where(EnrollmentSignature.part == part)).first() \
            or EnrollmentSignature(enrollment_id=enrollment.id or 0, part=part, signer_name='')
        row.signer_name, row.signer_title = typed_name.strip(), officer.get('title', '')
        row.attestations, row.signed_at, row.signed_by_user_id = json.dumps(sorted(attestations)), utcnow(), \
            principal.user_id
        session.add(row)
        audit.record(session, action='agreement_signed', actor=principal, entity_type='organization',
                     entity_id=enrollment.organization_id, detail=f'{part}: {row.signer_name}')
        return _signature(row)


def signature_problem(part: str, officer: dict[str, str], typed_name: str, attestations: list[str]) -> str | None:
    """Why this signature cannot be taken, or None."""
    expected = (officer.get('name') or '').strip()
    who = 'chief executive officer' if part in ('ceo', 'redistribution') else 'chief medical officer'
    if not expected:
        return f'Enter the {who}\'s name in Section A before signing.'
    if _folded(typed_name) != _folded(expected):
        return f'Type the {who}\'s name exactly as in Section A: {expected}.'
    required = form.REDISTRIBUTION_ATTESTATIONS if part == 'redistribution' else form.ATTESTATIONS
    if set(required) - set(attestations):
        return 'Tick every requirement to sign: the agreement is accepted as a whole.'
    return None


def problems(agreement: Agreement) -> dict[str, str]:
    """Everything that stops this agreement from being submitted, by field path."""
    draft = agreement.draft
    found = {**form.organization_problems(draft), **form.location_problems(draft)}
    for part in ('cmo', 'ceo') + (('redistribution',) if draft.get('redistribution') else ()):
        signed = agreement.signatures.get(part)
        officer = draft.get('ceo' if part == 'redistribution' else part) or {}
        if signed is None:
            found[f'signature.{part}'] = f'{form.SIGNATURE_PARTS[part]}: sign the agreement.'
        elif _folded(signed.signer_name) != _folded(officer.get('name', '')):
            found[f'signature.{part}'] = (f'{form.SIGNATURE_PARTS[part]}: the name signed ({signed.signer_name}) is no '
                                          'longer the name in Section A: sign again.')
    return found


def submit(*, principal: Principal, answer: str = '') -> None:
    """Submit the agreement to the state (again, after a return: with an answer to the state's note)."""
    require(principal, Action.ENROLL_ORGANIZATION)
    with session_scope() as session:
        enrollment = _own(session, principal, for_update=True)
        organization = _editable(session, enrollment)
        agreement = view(session, enrollment)
        found = problems(agreement)
        if found:
            raise ValidationFailed(f'The agreement is not complete: {len(found)} '
                                   f'{"problem" if len(found) == 1 else "problems"} to fix. '
                                   + ' '.join(list(found.values())[:3]))
        returned = organization.enrollment_status == EnrollmentStatus.RETURNED
        if returned and not answer.strip():
            raise ValidationFailed("Answer the State's note: say what you changed.")
        _taken_emails(session, agreement.draft)
        if returned:
            session.add(EnrollmentNote(enrollment_id=enrollment.id or 0, kind='answer', text=answer.strip()[:4000],
                                       author_user_id=principal.user_id))
        session.add(EnrollmentNote(enrollment_id=enrollment.id or 0, kind='submitted',
                                   author_user_id=principal.user_id))
        organization.enrollment_status = EnrollmentStatus.SUBMITTED
        enrollment.submitted_at = enrollment.updated_at = utcnow()
        enrollment.paused = False
        session.add_all([organization, enrollment])
        mail.enqueue(session, to=enrollment.contact_email, subject='Provider Agreement received',
                     body_text=(f'Hello,\n\nThe State received the Provider Agreement of '
                                f'{agreement.draft["organization"]["legal_name"]}. You will get an email when it has '
                                f'been reviewed. Follow it at {link("/enrollment")}.\n'))
        audit.record(session, action='enrollment_submitted', actor=principal, entity_type='organization',
                     entity_id=organization.id, detail='again, after a return' if returned else '')


def agreement_pdf(*, principal: Principal, enrollment_id: int) -> bytes:
    """The agreement with its signatures as a printable PDF (the contact's own, or any for the state)."""
    with session_scope(read_only=True) as session:
        enrollment = fetch(session, Enrollment, enrollment_id, principal=principal, action='download_agreement_pdf')
        agreement = view(session, enrollment)
    audit.record_now(action='download_agreement_pdf', actor=principal, entity_type='organization',
                     entity_id=agreement.organization_id)
    from services.enrollment.pdf import render  # fpdf only when a PDF is asked for
    return render(agreement)


# ---------------------------------------------------------------- shared with the review

def view(session: Session, enrollment: Enrollment) -> Agreement:
    organization = session.get(Organization, enrollment.organization_id)
    assert organization is not None
    draft = json.loads(enrollment.draft_json or '{}') or form.empty_draft()
    draft = form.normalized(draft) if draft else form.empty_draft()
    if not draft['organization']['legal_name']:
        draft['organization']['legal_name'] = organization.name
    signatures = {row.part: _signature(row) for row in session.exec(
        select(EnrollmentSignature).where(EnrollmentSignature.enrollment_id == enrollment.id))}
    from models import User
    authors = {}
    notes = []
    for row in session.exec(select(EnrollmentNote).where(EnrollmentNote.enrollment_id == enrollment.id)
                            .order_by(col(EnrollmentNote.created_at), col(EnrollmentNote.id))):
        if row.author_user_id not in authors:
            user = session.get(User, row.author_user_id) if row.author_user_id else None
            authors[row.author_user_id] = (user.full_name or user.email) if user else 'System'
        notes.append(Note(row.kind, row.text, authors[row.author_user_id], row.created_at))
    return Agreement(enrollment_id=enrollment.id or 0, organization_id=organization.id or 0,
                     organization_name=organization.name, status=organization.enrollment_status,
                     contact_email=enrollment.contact_email, priority_group=enrollment.priority_group,
                     step=enrollment.step, paused=enrollment.paused, draft=draft, invited_at=enrollment.invited_at,
                     submitted_at=enrollment.submitted_at, provider_pin=organization.provider_pin,
                     signatures=signatures, notes=notes)


def _taken_emails(session: Session, draft: dict[str, Any]) -> None:
    """Each location's primary coordinator becomes its location manager: their email cannot have an account yet."""
    from models import User
    for index, location in enumerate(draft['locations']):
        email = location['primary_email'].strip().lower()
        if session.exec(select(User.id).where(User.email == email)).first() is not None:
            raise ValidationFailed(f'Location {index + 1} ({location["name"]}): {email} already has an account in the '
                                   'system; give another email for the primary coordinator, who becomes the '
                                   "location's manager.")


def _own(session: Session, principal: Principal, *, for_update: bool = False) -> Enrollment:
    query = scope(select(Enrollment), principal=principal, kind=Kind.ENROLLMENT) \
        .where(col(Enrollment.organization_id) == principal.organization_id)
    if for_update:
        query = query.with_for_update()
    enrollment = session.exec(query).first()
    if enrollment is None:
        raise NotFound('Your organization has no Provider Agreement to fill.')
    return enrollment


def _editable(session: Session, enrollment: Enrollment) -> Organization:
    organization = session.get(Organization, enrollment.organization_id)
    assert organization is not None
    if organization.enrollment_status not in EDITABLE:
        raise ServiceError(f'The agreement is {EnrollmentStatus(organization.enrollment_status).label.lower()}: it '
                           'can no longer be changed.')
    return organization


def _signature(row: EnrollmentSignature) -> Signature:
    return Signature(row.part, row.signer_name, row.signer_title, json.loads(row.attestations or '[]'), row.signed_at)


def _folded(name: str) -> str:
    return ' '.join((name or '').split()).casefold()
