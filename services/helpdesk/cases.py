"""Help desk cases: intake (request types routed to assignment groups), VACHCP numbers, the states from New to
Closed, assignment, the conversation (comments both ways with an email to the other side, internal notes agents
only see), resolution, attachments, and the agents' queue. Every change is audited.

Who: anyone with an account opens cases and follows their own (Action.OPEN_CASE); help desk agents and state admins
work every case (Action.WORK_CASES). The public recipient form opens a case without an account: its requester
follows it through the key in their emails' link (`view_key`)."""
from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import PurePath

from sqlalchemy import func, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from models import Location, Organization, Role, User, utcnow
from models.helpdesk import Case, CaseAttachment, CaseCounter, CaseEntry
from services.accounts.auth import link, normalize_email
from services.bulk import files
from services.bulk.files import FileRejected
from services.core import audit, mail
from services.core.db import session_scope
from services.core.errors import NotFound, ValidationFailed
from services.core.i18n import normalize_language, translator
from services.core.settings import get_settings
from services.permissions import Action, Kind, can, deny, fetch, require, scope
from services.principal import Principal
from services.recipients.fields import email_problem

NUMBER_PREFIX = 'VACHCP'
REOPEN_DAYS = 7  # a requester may re-open a resolved case within this many days
MAX_FILES = 5  # attachments per comment or intake
PUBLIC_QUESTIONS_PER_HOUR = 5  # Vaccine Recipient form cases per email address


class RequestType(StrEnum):
    BULK_UPLOAD = 'bulk_upload'
    REMOVE_RECIPIENT = 'remove_recipient'
    INVENTORY = 'inventory'
    TECHNICAL = 'technical'
    RECIPIENT_QUESTION = 'recipient_question'


class State(StrEnum):
    NEW = 'new'
    IN_PROGRESS = 'in_progress'
    AWAITING_REQUESTER = 'awaiting_requester'
    RESOLVED = 'resolved'
    CLOSED = 'closed'


# The request types people choose from, their labels and the assignment group each is routed to.
REQUEST_TYPES: dict[str, tuple[str, str]] = {
    RequestType.BULK_UPLOAD: ('HCP Onboarding & Recipient Bulk Upload', 'Provider Onboarding'),
    RequestType.REMOVE_RECIPIENT: ('Remove a recipient', 'Recipient Records'),
    RequestType.INVENTORY: ('Inventory or shipment', 'Inventory & Shipments'),
    RequestType.TECHNICAL: ('Technical problem', 'Technical Support'),
    RequestType.RECIPIENT_QUESTION: ('Recipient question', 'Recipient Support'),
}
GROUPS: list[str] = list(dict.fromkeys(group for _, group in REQUEST_TYPES.values()))
STATE_LABELS = {State.NEW: 'New', State.IN_PROGRESS: 'In Progress', State.AWAITING_REQUESTER: 'Awaiting Requester',
                State.RESOLVED: 'Resolved', State.CLOSED: 'Closed'}
OPEN_STATES = (State.NEW, State.IN_PROGRESS, State.AWAITING_REQUESTER)
PRIORITIES = {1: '1 - Critical', 2: '2 - High', 3: '3 - Moderate', 4: '4 - Low'}
DEFAULT_PRIORITY = 3
# The states an agent sets by hand; Resolved needs resolution notes (`resolve`), Closed follows Resolved (`close`).
AGENT_STATES = (State.NEW, State.IN_PROGRESS, State.AWAITING_REQUESTER)

# The guide's "HCP Onboarding & Recipient Bulk Upload" form: its fields, all required, and the file.
BULK_REQUEST_TYPE = 'Recipient Bulk Upload'
BULK_FIELDS = {'request_type': 'Request Type', 'vfc_pin': 'VFC Pin', 'organization': 'Organization',
               'requestor_name': 'Requestor Name', 'requestor_email': 'Requestor Email Address'}
BULK_FILE_FIELD = 'file'
BULK_FILE_LABEL = 'Recipient Bulk Upload file'

# What a case may carry, by extension, with the bytes the file must start with (csv/txt: checked as text).
ATTACHMENT_TYPES = {
    '.csv': 'text/csv', '.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    '.txt': 'text/plain', '.pdf': 'application/pdf', '.png': 'image/png', '.jpg': 'image/jpeg',
    '.jpeg': 'image/jpeg',
}
_MAGIC = {'.pdf': (b'%PDF-',), '.png': (b'\x89PNG\r\n\x1a\n',), '.jpg': (b'\xff\xd8\xff',),
          '.jpeg': (b'\xff\xd8\xff',)}


class FieldProblems(ValidationFailed):
    """A form refused: `problems` maps each field's name to what to fix there (shown beside the field)."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__(' '.join(problems.values()))
        self.problems = problems


@dataclass(frozen=True)
class NewFile:
    """A file a person attached, as read from their upload (its name is only shown, never used as a path)."""
    filename: str
    data: bytes


@dataclass(frozen=True)
class CaseSummary:
    id: int
    number: str
    subject: str
    request_type: str
    request_type_label: str
    assignment_group: str
    priority: int
    priority_label: str
    state: str
    state_label: str
    requester_name: str
    requester_email: str
    organization_name: str
    unregistered_provider: bool
    assigned_to: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class EntryView:
    id: int
    created_at: datetime
    kind: str  # comment | note | event
    author: str
    from_requester: bool
    body: str


@dataclass(frozen=True)
class AttachmentView:
    id: int
    filename: str
    size: int
    created_at: datetime
    uploaded_by: str
    internal: bool


@dataclass(frozen=True)
class CaseView:
    """What the case page shows: the summary, the request's own fields, the conversation and the files (internal
    notes and files only when the viewer works cases)."""
    summary: CaseSummary
    description: str
    fields: dict[str, str]
    entries: list[EntryView]
    attachments: list[AttachmentView]
    resolution_notes: str
    resolved_at: datetime | None
    closed_at: datetime | None
    recipient_id: int | None
    organization_id: int | None
    location_id: int | None
    bulk_upload_id: int | None
    assigned_user_id: int | None
    requester_user_id: int | None
    language: str
    may_work: bool  # the viewer is an agent (or state admin)
    may_close: bool
    may_reopen: bool


@dataclass(frozen=True)
class QueuePage:
    rows: list[CaseSummary]
    total: int
    counts_by_group: dict[str, int] = field(default_factory=dict)


# ---------------------------------------------------------------- intake


def open_case(*, principal: Principal, request_type: str, subject: str, description: str = '',
              fields: dict[str, str] | None = None, attachments: Sequence[NewFile] = ()) -> CaseSummary:
    """Open a case for the signed-in person; the confirmation email carries its number and a link to it.
    FieldProblems names every missing or wrong field (subject, description, the bulk upload's fields, the file)."""
    require(principal, Action.OPEN_CASE)
    if request_type not in REQUEST_TYPES:
        raise FieldProblems({'request_type': 'Choose what your request is about.'})
    fields = {key: (value or '').strip() for key, value in (fields or {}).items()}
    problems = _intake_problems(request_type, subject, description, fields, attachments)
    if problems:
        raise FieldProblems(problems)
    with session_scope() as session:
        user = session.get(User, principal.user_id)
        organization = session.get(Organization, principal.organization_id) if principal.organization_id else None
        if organization is None and principal.location_id:
            location = session.get(Location, principal.location_id)
            organization = session.get(Organization, location.organization_id) if location else None
        if request_type == RequestType.BULK_UPLOAD:
            organization = _organization_of_pin(session, fields.get('vfc_pin', '')) or organization
        case = _new_case(
            session, principal, request_type=request_type, subject=subject, description=description, fields=fields,
            requester_user_id=principal.user_id, requester_name=(user.full_name if user else '') or principal.email,
            requester_email=principal.email, organization=organization,
            typed_organization=fields.get('organization', ''), location_id=principal.location_id,
            unregistered=principal.role == Role.SUPPORT_USER and principal.organization_id is None,
            language=_language_of(session, principal))
        for new_file in attachments:
            _attach(session, case, new_file, uploaded_by=principal.email, from_requester=True)
        _confirm(session, case)
        return _summary(session, case)


def intake_defaults(*, principal: Principal) -> dict[str, str]:
    """The bulk upload form's fields filled from the person's account: their name, email, organization and PIN."""
    require(principal, Action.OPEN_CASE)
    with session_scope(read_only=True) as session:
        user = session.get(User, principal.user_id)
        organization = session.get(Organization, principal.organization_id) if principal.organization_id else None
        if organization is None and principal.location_id:
            location = session.get(Location, principal.location_id)
            organization = session.get(Organization, location.organization_id) if location else None
        return {'request_type': BULK_REQUEST_TYPE, 'vfc_pin': (organization.provider_pin or '') if organization else '',
                'organization': organization.name if organization else '',
                'requestor_name': (user.full_name if user else '') or '', 'requestor_email': principal.email}


def ask_as_recipient(*, name: str, date_of_birth: date | None, email: str, question: str, language: str = 'en',
                     principal: Principal | None = None) -> CaseSummary:
    """The public "Vaccine Recipient" form (signed in or not): a Recipient question case; the answer reaches the
    person by email. FieldProblems carries catalog message ids (translate them in the person's language)."""
    language = normalize_language(language)
    email = normalize_email(email)
    problems: dict[str, str] = {}
    if not name.strip():
        problems['name'] = 'Enter your name.'
    if date_of_birth is None:
        problems['date_of_birth'] = 'Enter your date of birth.'
    elif date_of_birth > date.today():
        problems['date_of_birth'] = 'Date of birth cannot be in the future.'
    if not email:
        problems['email'] = 'Enter your email address.'
    elif email_problem(email) is not None:
        problems['email'] = 'Enter a valid email address, like name@example.com.'
    if not question.strip():
        problems['question'] = 'Enter your question.'
    if problems:
        raise FieldProblems(problems)
    signed_in = principal if principal is not None and can(principal, Action.OPEN_CASE) else None
    with session_scope() as session:
        # The form is public and every case emails its address: a few questions an hour per address, so nobody
        # fills someone's mailbox through it.
        recent = session.exec(select(func.count()).select_from(Case).where(Case.requester_email == email)
                              .where(col(Case.created_at) >= utcnow() - timedelta(hours=1))).one()
        if recent >= PUBLIC_QUESTIONS_PER_HOUR:
            audit.record(session, action='case_throttled', actor_email=email, detail='recipient form')
            raise FieldProblems({'question': 'You sent several questions in the last hour. We answer them by email; '
                                             'please wait for our answer.'})
        first_line = question.strip().splitlines()[0]
        case = _new_case(
            session, signed_in, request_type=RequestType.RECIPIENT_QUESTION,
            subject=first_line[:120], description=question.strip(),
            fields={'date_of_birth': date_of_birth.isoformat() if date_of_birth else ''},
            requester_user_id=signed_in.user_id if signed_in else None, requester_name=name.strip(),
            requester_email=email, organization=None, typed_organization='', location_id=None, unregistered=False,
            language=language)
        _confirm(session, case)
        return _summary(session, case)


def open_removal_case(session: Session, *, principal: Principal, recipient_name: str, recipient: object,
                      reason: str) -> Case:
    """A "Remove a recipient" case for a loaded recipient (Bulk Registration's Request removal), in the caller's
    unit of work: the caller fetched the recipient through its scope. The confirmation email goes to the asker."""
    if not reason.strip():
        raise ValidationFailed('Give the reason for the removal.')
    recipient_id = getattr(recipient, 'id', None)
    open_case_id = session.exec(select(Case.id).where(Case.recipient_id == recipient_id)
                                .where(col(Case.request_type) == RequestType.REMOVE_RECIPIENT)
                                .where(col(Case.state).in_(OPEN_STATES))).first()
    if open_case_id is not None:
        raise ValidationFailed('A removal request for this recipient is already open.')
    location_id = getattr(recipient, 'location_id', None)
    location = session.get(Location, location_id) if location_id else None
    organization = session.get(Organization, location.organization_id) if location else None
    user = session.get(User, principal.user_id)
    case = _new_case(
        session, principal, request_type=RequestType.REMOVE_RECIPIENT, subject=f'Remove {recipient_name}'[:200],
        description=reason.strip(), fields={'recipient': recipient_name}, requester_user_id=principal.user_id,
        requester_name=(user.full_name if user else '') or principal.email, requester_email=principal.email,
        organization=organization, typed_organization='', location_id=location_id, unregistered=False,
        language='en', recipient_id=recipient_id)
    _confirm(session, case)
    return case


# ---------------------------------------------------------------- reading


def case_view(*, principal: Principal, case_id: int) -> CaseView:
    """One case as its requester or an agent sees it (NotAllowed, audited, for anyone else)."""
    require(principal, Action.OPEN_CASE)
    with session_scope(read_only=True) as session:
        case = fetch(session, Case, case_id, principal=principal, action='view_case')
        return _view(session, case, may_work=can(principal, Action.WORK_CASES), viewer=principal)


def case_id_of(*, principal: Principal | None, number: str, key: str | None = None) -> int:
    """The id of the case with this number, for its requester, an agent, or whoever holds the key of its links."""
    with session_scope(read_only=True) as session:
        case = _by_number(session, number)
        if not _may_read(principal, case, key):
            deny(principal, action='view_case', entity=f'case:{case.id}')
        return case.id or 0


def case_view_with_key(*, number: str, key: str) -> CaseView:
    """A case opened through its link's key (the public recipient form's requester, who has no account)."""
    with session_scope(read_only=True) as session:
        case = _by_number(session, number)
        if not key or not secrets.compare_digest(key, case.view_key):
            deny(None, action='view_case', entity=f'case:{case.id}')
        return _view(session, case, may_work=False, viewer=None)


def my_cases(*, principal: Principal) -> list[CaseSummary]:
    """The cases this person opened, newest first."""
    require(principal, Action.OPEN_CASE)
    with session_scope(read_only=True) as session:
        query = select(Case).where(Case.requester_user_id == principal.user_id).order_by(col(Case.id).desc())
        return [_summary(session, case) for case in session.exec(query).all()]


def queue(*, principal: Principal, group: str | None = None, state: str | None = None, priority: int | None = None,
          older_than_days: int | None = None, search: str = '', page: int = 0, page_size: int = 25) -> QueuePage:
    """The agents' queue: open cases (or those of `state`: 'all' for every state), oldest first, narrowed by
    group, priority, age and a search of the number, the requester (name or email) and the organization;
    `counts_by_group` counts the open cases of each group (the same filters but the group)."""
    require(principal, Action.WORK_CASES)
    conditions = []
    if state in (None, '', 'open'):
        conditions.append(col(Case.state).in_(OPEN_STATES))
    elif state != 'all':
        conditions.append(col(Case.state) == state)
    if priority:
        conditions.append(col(Case.priority) == int(priority))
    if older_than_days:
        conditions.append(col(Case.created_at) <= utcnow() - timedelta(days=int(older_than_days)))
    if search.strip():
        term = search.strip()
        like = f'%{term.lower()}%'
        conditions.append(or_(col(Case.number) == term.upper(), func.lower(Case.requester_name).like(like),
                              func.lower(Case.requester_email).like(like),
                              func.lower(Case.organization_name).like(like)))
    with session_scope(read_only=True) as session:
        counted = scope(select(Case.assignment_group, func.count()), principal=principal, kind=Kind.CASE) \
            .where(*conditions).group_by(col(Case.assignment_group))
        counts = {group_name: 0 for group_name in GROUPS} | dict(session.exec(counted).all())
        if group:
            conditions.append(col(Case.assignment_group) == group)
        base = scope(select(Case), principal=principal, kind=Kind.CASE).where(*conditions)
        total = session.exec(select(func.count()).select_from(base.subquery())).one()
        rows = session.exec(base.order_by(col(Case.created_at), col(Case.id))
                            .offset(max(page, 0) * page_size).limit(page_size)).all()
        return QueuePage(rows=[_summary(session, case) for case in rows], total=total, counts_by_group=counts)


def agents(*, principal: Principal) -> list[tuple[int, str]]:
    """(user id, name) of the people who work cases: help desk agents and state admins, for assignment."""
    require(principal, Action.WORK_CASES)
    with session_scope(read_only=True) as session:
        users = session.exec(select(User).where(col(User.role).in_([Role.HELP_DESK_AGENT, Role.STATE_ADMIN]))
                             .where(col(User.is_active)).order_by(col(User.full_name), col(User.email))).all()
        return [(user.id or 0, user.full_name or user.email) for user in users]


def attachment_file(*, principal: Principal | None, attachment_id: int,
                    key: str | None = None) -> tuple[str, str, bytes]:
    """(file name, content type, bytes) of a case's attachment, for the case's requester (their case's files that
    are not internal), an agent, or whoever holds the key of the case's links. Downloads are audited."""
    with session_scope(read_only=True) as session:
        attachment = session.get(CaseAttachment, attachment_id)
        if attachment is None:
            raise NotFound('This file does not exist.')
        case = session.get(Case, attachment.case_id)
        assert case is not None
        if not _may_read(principal, case, key) or (attachment.internal and not can(principal, Action.WORK_CASES)):
            deny(principal, action='download_case_attachment', entity=f'case:{case.id}')
        result = (attachment.filename, attachment.content_type, attachment.data)
    audit.record_now(action='case_attachment_downloaded', actor=principal, entity_type='case', entity_id=case.id,
                     detail=f'{attachment.filename}')
    return result


# ---------------------------------------------------------------- the conversation


def add_comment(*, principal: Principal, case_id: int, body: str, internal: bool = False,
                attachments: Sequence[NewFile] = ()) -> None:
    """A comment (the other side is emailed) or, for agents, an internal note no requester sees. A requester's
    comment on a case awaiting them puts it back In Progress."""
    require(principal, Action.WORK_CASES if internal else Action.OPEN_CASE)
    if not body.strip() and not attachments:
        raise FieldProblems({'body': 'Write your comment.'})
    for new_file in attachments:
        _check_file(new_file)
    with session_scope() as session:
        case = fetch(session, Case, case_id, principal=principal, action='comment_on_case')
        from_requester = case.requester_user_id == principal.user_id and not can(principal, Action.WORK_CASES)
        _comment(session, case, body=body, internal=internal, from_requester=from_requester, principal=principal,
                 author_name=principal.full_name or principal.email, attachments=attachments)


def add_comment_with_key(*, number: str, key: str, body: str) -> None:
    """The public form's requester (no account) answers through their link."""
    if not body.strip():
        raise FieldProblems({'body': 'Write your comment.'})
    with session_scope() as session:
        case = _keyed(session, number, key, action='comment_on_case')
        _comment(session, case, body=body, internal=False, from_requester=True, principal=None,
                 author_name=case.requester_name, attachments=())


def set_state(*, principal: Principal, case_id: int, state: str) -> None:
    """An agent moves an open case between New, In Progress and Awaiting Requester (a resolved one back to In
    Progress too). Resolved needs `resolve`, Closed `close_case`."""
    require(principal, Action.WORK_CASES)
    if state not in AGENT_STATES:
        raise ValidationFailed('Choose New, In Progress or Awaiting Requester; resolve a case with its notes.')
    with session_scope() as session:
        case = fetch(session, Case, case_id, principal=principal, action='change_case_state')
        if case.state == State.CLOSED:
            raise ValidationFailed('This case is closed.')
        if case.state == state:
            return
        _move(session, case, State(state), principal)


def set_priority(*, principal: Principal, case_id: int, priority: int) -> None:
    require(principal, Action.WORK_CASES)
    if priority not in PRIORITIES:
        raise ValidationFailed('Priority is 1 (Critical) to 4 (Low).')
    with session_scope() as session:
        case = fetch(session, Case, case_id, principal=principal, action='change_case_priority')
        if case.priority == priority:
            return
        _event(session, case, principal, f'Priority changed from {PRIORITIES[case.priority]} to '
                                         f'{PRIORITIES[priority]}.', action='case_priority_changed')
        case.priority = priority
        session.add(case)


def assign(*, principal: Principal, case_id: int, group: str, agent_user_id: int | None = None) -> None:
    """Assign a case to a group and, optionally, an agent (a help desk agent or state admin); the agent is emailed."""
    require(principal, Action.WORK_CASES)
    if group not in GROUPS:
        raise ValidationFailed(f'Choose one of the groups: {", ".join(GROUPS)}.')
    with session_scope() as session:
        case = fetch(session, Case, case_id, principal=principal, action='assign_case')
        agent = session.get(User, agent_user_id) if agent_user_id else None
        if agent_user_id and (agent is None or not agent.is_active or not can(
                Principal(user_id=agent.id or 0, email=agent.email, role=agent.role), Action.WORK_CASES)):
            raise ValidationFailed('Assign the case to a help desk agent.')
        if case.assignment_group == group and case.assigned_user_id == agent_user_id:
            return
        who = agent.full_name or agent.email if agent else 'nobody'
        _event(session, case, principal, f'Assigned to {group}, {who}.', action='case_assigned')
        case.assignment_group, case.assigned_user_id = group, agent_user_id
        if case.state == State.NEW and agent is not None:
            case.state = State.IN_PROGRESS
        session.add(case)
        if agent is not None and agent.id != principal.user_id:
            mail.enqueue(session, to=agent.email, subject=f'{case.number} assigned to you: {case.subject}',
                         body_text=f'{case.number} ({PRIORITIES[case.priority]}) is assigned to you.\n\n'
                                   f'{case.subject}\n\nOpen it: {link(f"/help-desk/cases/{case.id}")}\n')


def resolve(*, principal: Principal, case_id: int, notes: str) -> None:
    """Resolve a case with its resolution notes, which the requester receives by email."""
    require(principal, Action.WORK_CASES)
    if not notes.strip():
        raise FieldProblems({'resolution_notes': 'Write the resolution notes: the requester receives them.'})
    with session_scope() as session:
        case = fetch(session, Case, case_id, principal=principal, action='resolve_case')
        if case.state not in OPEN_STATES:
            raise ValidationFailed(f'This case is {STATE_LABELS[State(case.state)]}.')
        case.resolution_notes = notes.strip()
        case.resolved_at = utcnow()
        _move(session, case, State.RESOLVED, principal, note=notes.strip())
        t = translator(case.language)
        _email_requester(session, case, subject=t('{number} resolved: {subject}').format(
            number=case.number, subject=case.subject), body=t(
            'Your request {number} is resolved.\n\nResolution notes:\n{notes}\n\nIf this does not solve it, you can '
            're-open the case within {days} days: {link}\n').format(
            number=case.number, notes=case.resolution_notes, days=REOPEN_DAYS, link=_link(case)))


def close_case(*, principal: Principal, case_id: int) -> None:
    """The requester closes their own case (any time), or an agent closes a resolved one."""
    require(principal, Action.OPEN_CASE)
    with session_scope() as session:
        case = fetch(session, Case, case_id, principal=principal, action='close_case')
        _close(session, case, principal, own=case.requester_user_id == principal.user_id,
               may_work=can(principal, Action.WORK_CASES))


def close_case_with_key(*, number: str, key: str) -> None:
    """The public form's requester (no account) closes their case through their link: the same rule as `close_case`."""
    with session_scope() as session:
        case = _keyed(session, number, key, action='close_case')
        _close(session, case, None, own=True, may_work=False)


def reopen_case(*, principal: Principal, case_id: int, reason: str = '') -> None:
    """The requester re-opens their resolved case within REOPEN_DAYS days of its resolution."""
    require(principal, Action.OPEN_CASE)
    with session_scope() as session:
        case = fetch(session, Case, case_id, principal=principal, action='reopen_case')
        if case.requester_user_id != principal.user_id and not can(principal, Action.WORK_CASES):
            deny(principal, action='reopen_case', entity=f'case:{case.id}')
        _reopen(session, case, principal, reason=reason)


def reopen_case_with_key(*, number: str, key: str, reason: str = '') -> None:
    """The public form's requester (no account) re-opens their resolved case through their link, within
    REOPEN_DAYS days: the same rule as `reopen_case`."""
    with session_scope() as session:
        case = _keyed(session, number, key, action='reopen_case')
        _reopen(session, case, None, reason=reason)


def _close(session: Session, case: Case, principal: Principal | None, *, own: bool, may_work: bool) -> None:
    """Who may close a case, for account holders and key holders alike (principal None: the key's requester)."""
    if case.state == State.CLOSED:
        raise ValidationFailed('This case is already closed.')
    if not own and not (may_work and case.state == State.RESOLVED):
        raise ValidationFailed('Resolve the case first: a case is closed after its resolution.')
    case.closed_at = utcnow()
    _move(session, case, State.CLOSED, principal, author_name=None if principal else case.requester_name)


def _reopen(session: Session, case: Case, principal: Principal | None, *, reason: str) -> None:
    _check_reopenable(case)
    author = (principal.full_name or principal.email) if principal else case.requester_name
    if reason.strip():
        _comment(session, case, body=reason, internal=False, from_requester=True, principal=principal,
                 author_name=author, attachments=())
    case.resolved_at = None
    _move(session, case, State.IN_PROGRESS, principal, note='Re-opened by the requester.',
          author_name=None if principal else author)


def _keyed(session: Session, number: str, key: str, *, action: str) -> Case:
    """The case whose link holds this key (NotAllowed, audited, otherwise)."""
    case = _by_number(session, number)
    if not key or not secrets.compare_digest(key, case.view_key):
        deny(None, action=action, entity=f'case:{case.id}')
    return case


# ---------------------------------------------------------------- helpers


def _intake_problems(request_type: str, subject: str, description: str, fields: dict[str, str],
                     attachments: Sequence[NewFile]) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not subject.strip():
        problems['subject'] = 'Enter a subject: a few words saying what you need.'
    elif len(subject.strip()) > 200:
        problems['subject'] = 'Shorten the subject to 200 characters; put the details in the description.'
    if request_type == RequestType.BULK_UPLOAD:
        for key, label in BULK_FIELDS.items():
            if not fields.get(key):
                problems[key] = f'Enter the {label}.'
        if fields.get('request_type') and fields['request_type'] != BULK_REQUEST_TYPE:
            problems['request_type'] = f'Request Type is "{BULK_REQUEST_TYPE}".'
        if fields.get('requestor_email') and email_problem(normalize_email(fields['requestor_email'])) is not None:
            problems['requestor_email'] = 'Enter a valid Requestor Email Address, like name@example.com.'
        recipient_files = [f for f in attachments if PurePath(f.filename).suffix.lower() in ('.csv', '.xlsx')]
        if not recipient_files:
            problems[BULK_FILE_FIELD] = f'Attach the {BULK_FILE_LABEL} (.csv or .xlsx).'
        else:
            try:
                check_recipient_file(recipient_files[0])
            except ValidationFailed as refusal:
                problems[BULK_FILE_FIELD] = str(refusal)
    elif not description.strip():
        problems['description'] = 'Describe your request.'
    if len(attachments) > MAX_FILES:
        problems['attachments'] = f'Attach at most {MAX_FILES} files.'
    for new_file in attachments:
        try:
            _check_file(new_file)
        except ValidationFailed as refusal:
            problems.setdefault(BULK_FILE_FIELD if request_type == RequestType.BULK_UPLOAD else 'attachments',
                                str(refusal))
    return problems


def check_recipient_file(new_file: NewFile) -> None:
    """A Recipient Bulk Upload file, checked exactly as Bulk Registration checks one before loading it (its
    type, size, header and record count, within the same hard limits): refused at intake rather than on load."""
    from services.bulk.pipeline import scan  # local import: the bulk pipeline pulls in the recipient registry
    from services.bulk.registration import _too_many_high, max_file_bytes

    _check_file(new_file)
    if PurePath(new_file.filename).suffix.lower() not in ('.csv', '.xlsx'):
        raise ValidationFailed('The Recipient Bulk Upload file is a .csv or .xlsx file (the template).')
    if len(new_file.data) > max_file_bytes():
        raise ValidationFailed(str(files.too_large(max_file_bytes())))
    try:
        scan(new_file.data, max_rows=get_settings().bulk_max_rows, too_many=_too_many_high())
    except FileRejected as refusal:
        raise ValidationFailed(f'{new_file.filename}: {refusal}') from None


def _check_file(new_file: NewFile) -> None:
    """Any attachment: a known type whose bytes are that type, not empty, within Bulk Registration's size limit."""
    from services.bulk.registration import max_file_bytes

    name = _safe_name(new_file.filename)
    suffix = PurePath(name).suffix.lower()
    if suffix not in ATTACHMENT_TYPES:
        raise ValidationFailed(f'{name}: attach a {", ".join(sorted(ATTACHMENT_TYPES))} file.')
    if not new_file.data:
        raise ValidationFailed(f'{name} is empty.')
    if len(new_file.data) > max_file_bytes():
        raise ValidationFailed(f'{name}: {files.too_large(max_file_bytes())}')
    if suffix in _MAGIC:
        if not new_file.data.startswith(_MAGIC[suffix]):
            raise ValidationFailed(f'{name} is not a {suffix[1:].upper()} file.')
        return
    try:
        kind, encoding = files.sniff(new_file.data)
        if (kind == 'xlsx') != (suffix == '.xlsx'):
            raise ValidationFailed(f'{name}: its content is not a {suffix[1:].upper()} file.')
        for _row in files.rows(new_file.data, kind, encoding):  # the same hard limits as Bulk Registration
            pass
    except FileRejected as refusal:
        raise ValidationFailed(f'{name}: {refusal}') from None


def _safe_name(filename: str) -> str:
    name = PurePath(filename.replace('\\', '/')).name.strip() or 'attachment'
    return ''.join(ch for ch in name if ch.isprintable())[:200]


def _organization_of_pin(session: Session, pin: str) -> Organization | None:
    pin = pin.strip().upper()
    if not pin:
        return None
    return session.exec(select(Organization).where(Organization.provider_pin == pin)).first()


def _language_of(session: Session, principal: Principal) -> str:
    from models import PortalAccount

    if principal.portal_account_id:
        account = session.get(PortalAccount, principal.portal_account_id)
        return normalize_language(account.language if account else None)
    return 'en'


def _next_number(session: Session) -> str:
    """The next VACHCP number: the counter row is incremented in the case's unit of work (locked until it commits on
    PostgreSQL; SQLite's write lock is taken at BEGIN), so two cases never share a number and none is skipped."""
    insert = pg_insert if session.get_bind().dialect.name == 'postgresql' else sqlite_insert
    session.execute(insert(CaseCounter).values(id=1, last_number=0).on_conflict_do_nothing())
    number = session.execute(update(CaseCounter).where(col(CaseCounter.id) == 1)
                             .values(last_number=CaseCounter.last_number + 1)
                             .returning(CaseCounter.last_number)).scalar_one()
    return f'{NUMBER_PREFIX}{number:07d}'


def _new_case(session: Session, principal: Principal | None, *, request_type: str, subject: str, description: str,
              fields: dict[str, str], requester_user_id: int | None, requester_name: str, requester_email: str,
              organization: Organization | None, typed_organization: str, location_id: int | None,
              unregistered: bool, language: str, recipient_id: int | None = None) -> Case:
    case = Case(number=_next_number(session), request_type=request_type,
                assignment_group=REQUEST_TYPES[request_type][1], priority=DEFAULT_PRIORITY, state=State.NEW,
                subject=subject.strip()[:200], description=description.strip(), fields_json=json.dumps(fields),
                language=language, requester_user_id=requester_user_id, requester_name=requester_name[:200],
                requester_email=requester_email, organization_id=organization.id if organization else None,
                organization_name=(organization.name if organization else typed_organization)[:200],
                location_id=location_id, unregistered_provider=unregistered, recipient_id=recipient_id,
                view_key=secrets.token_urlsafe(24))
    session.add(case)
    session.flush()
    audit.record(session, action='case_opened', actor=principal, actor_email=None if principal else requester_email,
                 entity_type='case', entity_id=case.id,
                 detail=f'{case.number} {request_type} group={case.assignment_group}'
                        f'{" unregistered provider" if unregistered else ""}')
    return case


def _attach(session: Session, case: Case, new_file: NewFile, *, uploaded_by: str, from_requester: bool,
            internal: bool = False, content_type: str | None = None) -> CaseAttachment:
    name = _safe_name(new_file.filename)
    attachment = CaseAttachment(case_id=case.id or 0, filename=name,
                                content_type=content_type or ATTACHMENT_TYPES.get(PurePath(name).suffix.lower(),
                                                                                  'application/octet-stream'),
                                size=len(new_file.data), data=new_file.data, uploaded_by=uploaded_by,
                                from_requester=from_requester, internal=internal)
    session.add(attachment)
    session.flush()
    audit.record(session, action='case_file_attached', actor_email=uploaded_by, entity_type='case',
                 entity_id=case.id, detail=f'{name} ({len(new_file.data)} bytes){" internal" if internal else ""}')
    return attachment


def _link(case: Case) -> str:
    """The requester's link to the case's summary: the support portal's page for account holders; for a recipient's
    question (asked with or without an account) the recipients' page in their language, opened by the key."""
    if case.requester_user_id is not None and case.request_type != RequestType.RECIPIENT_QUESTION:
        return link(f'/support/cases/{case.number}')
    return link(f'/help/case/{case.number}?key={case.view_key}')


def _confirm(session: Session, case: Case) -> None:
    t = translator(case.language)
    _email_requester(session, case, subject=t('{number}: we received your request').format(
        number=case.number, subject=case.subject), body=t(
        'Hello {name},\n\nThe state help desk received your request.\n\nNumber: {number}\nSubject: {subject}\n'
        'State: New\n\nFollow it, add comments or files here: {link}\n').format(
        name=case.requester_name, number=case.number, subject=case.subject, link=_link(case)),
        key='opened')


def _email_requester(session: Session, case: Case, *, subject: str, body: str, key: str | None = None) -> None:
    if case.requester_email:
        mail.enqueue(session, to=case.requester_email, subject=subject, body_text=body,
                     dedupe_key=f'case:{case.id}:{key}' if key else None)


def _comment(session: Session, case: Case, *, body: str, internal: bool, from_requester: bool,
             principal: Principal | None, author_name: str, attachments: Sequence[NewFile]) -> None:
    if case.state == State.CLOSED:
        raise ValidationFailed('This case is closed. Open a new case if you need more help.')
    body = body.strip()
    entry = CaseEntry(case_id=case.id or 0, kind='note' if internal else 'comment',
                      author_user_id=principal.user_id if principal else None, author_name=author_name[:200],
                      from_requester=from_requester, body=body or '(files attached)')
    session.add(entry)
    for new_file in attachments:
        _attach(session, case, new_file, uploaded_by=principal.email if principal else case.requester_email,
                from_requester=from_requester, internal=internal)
    case.updated_at = utcnow()
    if from_requester and case.state == State.AWAITING_REQUESTER:
        case.state = State.IN_PROGRESS
    session.add(case)
    session.flush()
    audit.record(session, action='case_note_added' if internal else 'case_comment_added', actor=principal,
                 actor_email=None if principal else case.requester_email, entity_type='case', entity_id=case.id,
                 detail=f'{case.number} entry={entry.id}{" from requester" if from_requester else ""}')
    if internal:
        return
    names = ', '.join(_safe_name(f.filename) for f in attachments)
    files_line = f'\n\nFiles: {names}' if names else ''
    if from_requester:
        agent = session.get(User, case.assigned_user_id) if case.assigned_user_id else None
        # Nobody assigned (or the agent left): the assignment group hears it, so the comment does not wait unseen.
        # Groups have no members of their own, so that is every active help desk agent.
        to = [agent.email] if agent is not None and agent.is_active else _group_agents(session)
        for address in to:
            mail.enqueue(session, to=address, subject=f'{case.number}: new comment from the requester',
                         body_text=f'{author_name} wrote on {case.number} ({case.subject}):\n\n{body}{files_line}\n\n'
                                   + ('' if agent is not None and agent.is_active else
                                      f'No agent is assigned: this goes to the {case.assignment_group} group.\n\n')
                                   + f'Open it: {link(f"/help-desk/cases/{case.id}")}\n')
    else:
        t = translator(case.language)
        _email_requester(session, case, subject=t('{number}: the help desk answered').format(number=case.number),
                         body=t('The state help desk wrote on your request {number} ({subject}):\n\n{body}\n\n'
                                'Answer or follow it here: {link}\n').format(
                             number=case.number, subject=case.subject, body=body, link=_link(case)) + files_line)


def _group_agents(session: Session) -> list[str]:
    """Who works a group's cases: every active help desk agent (state admins, who may too, when there is none)."""
    for roles in ([Role.HELP_DESK_AGENT], [Role.STATE_ADMIN]):
        found = list(session.exec(select(User.email).where(col(User.role).in_(roles)).where(col(User.is_active))
                                  .order_by(col(User.email))).all())
        if found:
            return found
    return []


def _event(session: Session, case: Case, principal: Principal | None, text: str, *, action: str,
           author_name: str | None = None) -> None:
    """`author_name` without a principal: the key holder (the requester with no account) who did it."""
    session.add(CaseEntry(case_id=case.id or 0, kind='event', author_user_id=principal.user_id if principal else None,
                          author_name=(principal.full_name or principal.email) if principal
                          else author_name or 'System', body=text))
    case.updated_at = utcnow()
    audit.record(session, action=action, actor=principal, entity_type='case', entity_id=case.id,
                 actor_email=None if principal or not author_name else case.requester_email,
                 detail=f'{case.number}: {text}'[:1000])


def _move(session: Session, case: Case, state: State, principal: Principal | None, note: str = '',
          author_name: str | None = None) -> None:
    before = STATE_LABELS[State(case.state)]
    text = f'State changed from {before} to {STATE_LABELS[state]}.' + (f'\n{note}' if note else '')
    _event(session, case, principal, text, action='case_state_changed', author_name=author_name)
    case.state = state
    session.add(case)


def _check_reopenable(case: Case) -> None:
    if case.state != State.RESOLVED or case.resolved_at is None:
        raise ValidationFailed('Only a resolved case can be re-opened.')
    if utcnow() - _aware(case.resolved_at) > timedelta(days=REOPEN_DAYS):
        raise ValidationFailed(f'This case was resolved more than {REOPEN_DAYS} days ago: open a new case.')


def _aware(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _by_number(session: Session, number: str) -> Case:
    case = session.exec(select(Case).where(Case.number == number.strip().upper())).first()
    if case is None:
        raise NotFound(f'No case has the number {number}.')
    return case


def _may_read(principal: Principal | None, case: Case, key: str | None) -> bool:
    if key and case.view_key and secrets.compare_digest(key, case.view_key):
        return True
    if principal is None:
        return False
    return can(principal, Action.WORK_CASES) or (can(principal, Action.OPEN_CASE)
                                                  and case.requester_user_id == principal.user_id)


def _summary(session: Session, case: Case) -> CaseSummary:
    agent = session.get(User, case.assigned_user_id) if case.assigned_user_id else None
    return CaseSummary(
        id=case.id or 0, number=case.number, subject=case.subject, request_type=case.request_type,
        request_type_label=REQUEST_TYPES.get(case.request_type, (case.request_type, ''))[0],
        assignment_group=case.assignment_group, priority=case.priority,
        priority_label=PRIORITIES.get(case.priority, str(case.priority)), state=case.state,
        state_label=STATE_LABELS.get(State(case.state), case.state) if case.state in set(State) else case.state,
        requester_name=case.requester_name, requester_email=case.requester_email,
        organization_name=case.organization_name, unregistered_provider=case.unregistered_provider,
        assigned_to=(agent.full_name or agent.email) if agent else '', created_at=case.created_at,
        updated_at=case.updated_at)


def _view(session: Session, case: Case, *, may_work: bool, viewer: Principal | None) -> CaseView:
    entries = session.exec(select(CaseEntry).where(CaseEntry.case_id == case.id)
                           .order_by(col(CaseEntry.created_at), col(CaseEntry.id))).all()
    attachments = session.exec(select(CaseAttachment.id, CaseAttachment.filename, CaseAttachment.size,
                                      CaseAttachment.created_at, CaseAttachment.uploaded_by, CaseAttachment.internal)
                               .where(CaseAttachment.case_id == case.id).order_by(col(CaseAttachment.id))).all()
    own = viewer is None or case.requester_user_id == viewer.user_id  # a key holder is the requester
    reopenable = True
    try:
        _check_reopenable(case)
    except ValidationFailed:
        reopenable = False
    return CaseView(
        summary=_summary(session, case), description=case.description, fields=json.loads(case.fields_json or '{}'),
        entries=[EntryView(e.id or 0, e.created_at, e.kind, e.author_name, e.from_requester, e.body)
                 for e in entries if may_work or e.kind != 'note'],
        attachments=[AttachmentView(*row) for row in attachments if may_work or not row[5]],
        resolution_notes=case.resolution_notes, resolved_at=case.resolved_at, closed_at=case.closed_at,
        recipient_id=case.recipient_id, organization_id=case.organization_id, location_id=case.location_id,
        bulk_upload_id=case.bulk_upload_id, assigned_user_id=case.assigned_user_id,
        requester_user_id=case.requester_user_id, language=case.language, may_work=may_work,
        may_close=case.state != State.CLOSED and (own or (may_work and case.state == State.RESOLVED)),
        may_reopen=reopenable and own)


