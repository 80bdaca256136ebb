"""The help desk's changes to recipient records: remove, mark inactive, merge into another record of the same person.

Loaded recipients cannot be deleted by providers (the guide: "submit a request"); the help desk decides:
- a person with NO recorded dose is deleted, with their appointments, their pending welcome emails and unused
  links, and their portal login when nobody else of the household remains (`remove_recipient`);
- a person WITH recorded doses is never deleted (their doses are part of the immunization record): the record is
  marked inactive (`mark_inactive`: kept, gone from every list) or merged into another record of the same person
  (`merge_recipients`: doses, appointments and portal access move to the survivor, a RecipientMerge row keeps the
  merged-away record's fields and what moved, so the merge can be explained later: `merge_history`).
Every change is audited with its reason (and the help desk case it answers). `removal_preview` gathers the facts the
agent decides from. Lists and searches leave inactive records out: services.recipients.visibility.listed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import delete, update
from sqlmodel import Session, col, func, select

from models import Location, OutboxAttachment, OutboxMessage, PasswordToken, PortalAccount, Recipient, User
from models.auth import AuthSession
from models.bulk import RemovalRequest
from models.clinic import OPEN_STATUSES, Administration, Appointment, AppointmentStatus, DoseReminder, StandbyEntry
from models.inventory import Product
from models.portal import ProofCode, RegistrationProgress
from models.recipient_records import InactiveRecipient, RecipientMerge
from services.clinic import events
from services.clinic.scheduling import _cancel as cancel_appointment_in_unit_of_work
from services.clinic.scheduling import _release_slot_place
from services.core import audit
from services.core.db import session_scope
from services.core.errors import ServiceError, ValidationFailed
from services.permissions import Action, fetch, require
from services.principal import Principal
from services.recipients.search import SimilarRecipient, name_likeness, name_words, similar_recipients

MIN_REASON = 5


@dataclass(frozen=True)
class DoseFact:
    administration_id: int
    administered_at: datetime
    product_name: str
    dose_number: int
    location_name: str
    voided: bool


@dataclass(frozen=True)
class AppointmentFact:
    appointment_id: int
    case_number: str
    scheduled_at: datetime
    status: str
    location_name: str


@dataclass(frozen=True)
class MergeFact:
    """A record merged into this one: who it was and what moved (RecipientMerge, readable)."""
    merge_id: int
    at: datetime
    source_id: int
    source_name: str
    source_date_of_birth: str
    moved: dict[str, list[int]]
    same_person: str
    reason: str
    by_email: str
    case_id: int | None


@dataclass(frozen=True)
class RemovalPreview:
    """What the agent needs to decide on a removal request."""
    recipient_id: int
    first_name: str
    last_name: str
    date_of_birth: date
    email: str
    location_name: str
    source: str
    doses: list[DoseFact]
    appointments: list[AppointmentFact]
    portal_email: str | None  # the household's portal login, if any
    household_others: list[str]  # the other people of that login (it stays open for them)
    pending_emails: int  # welcome / registration emails not sent yet, dropped with the record
    inactive: bool
    inactive_reason: str
    merge_candidates: list[SimilarRecipient]  # other records born the same day with an alike name
    merged_here: list[MergeFact] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f'{self.first_name} {self.last_name}'

    @property
    def may_delete(self) -> bool:
        return not self.doses

    @property
    def why_not_delete(self) -> str:
        return '' if self.may_delete else _has_doses_message(self.name, len(self.doses))

    @property
    def login_closes(self) -> bool:
        return self.portal_email is not None and not self.household_others


@dataclass(frozen=True)
class RemovalOutcome:
    recipient_id: int
    name: str
    appointments_deleted: int
    emails_dropped: int
    links_dropped: int
    login_closed: bool


@dataclass(frozen=True)
class MergeOutcome:
    merge_id: int
    survivor_id: int
    moved: dict[str, list[int]]
    login_closed: bool


# ---------------------------------------------------------------- the agent's view

def removal_preview(*, principal: Principal, recipient_id: int) -> RemovalPreview:
    require(principal, Action.MANAGE_RECIPIENT_RECORDS)
    with session_scope(read_only=True) as session:
        recipient = fetch(session, Recipient, recipient_id, principal=principal, action='removal_preview',
                          health_data=True)
        location = session.get(Location, recipient.location_id) if recipient.location_id else None
        doses = [DoseFact(a.id or 0, a.administered_at, product, a.dose_number, place or '', a.voided)
                 for a, product, place in session.exec(
                     select(Administration, Product.name, Location.name)
                     .join(Product, col(Product.id) == col(Administration.product_id))
                     .outerjoin(Location, col(Location.id) == col(Administration.location_id))
                     .where(Administration.recipient_id == recipient_id)
                     .order_by(col(Administration.administered_at))).all()]
        appointments = [AppointmentFact(a.id or 0, a.case_number, a.scheduled_at, AppointmentStatus(a.status).label,
                                        place or '')
                        for a, place in session.exec(
                            select(Appointment, Location.name)
                            .outerjoin(Location, col(Location.id) == col(Appointment.location_id))
                            .where(Appointment.recipient_id == recipient_id)
                            .order_by(col(Appointment.scheduled_at))).all()]
        account = session.get(PortalAccount, recipient.portal_account_id) if recipient.portal_account_id else None
        others = [f'{r.first_name} {r.last_name}' for r in _household_others(session, recipient)]
        inactive = session.get(InactiveRecipient, recipient_id)
        candidates = [c for c in similar_recipients(session, name=f'{recipient.first_name} {recipient.last_name}',
                                                    date_of_birth=recipient.date_of_birth)
                      if c.recipient_id != recipient_id and session.get(InactiveRecipient, c.recipient_id) is None]
        preview = RemovalPreview(
            recipient_id=recipient_id, first_name=recipient.first_name, last_name=recipient.last_name,
            date_of_birth=recipient.date_of_birth, email=recipient.email or '',
            location_name=location.name if location else '', source=recipient.source, doses=doses,
            appointments=appointments, portal_email=account.email if account else None, household_others=others,
            pending_emails=len(_pending_emails(session, recipient_id)), inactive=inactive is not None,
            inactive_reason=inactive.reason if inactive else '', merge_candidates=candidates,
            merged_here=_merges_into(session, recipient_id))
    audit.record_now(action='view_removal_preview', actor=principal, entity_type='recipient', entity_id=recipient_id)
    return preview


def merge_history(*, principal: Principal, recipient_id: int) -> list[MergeFact]:
    """The records merged into this one, oldest first: how a survivor's doses and appointments came to it."""
    require(principal, Action.MANAGE_RECIPIENT_RECORDS)
    with session_scope(read_only=True) as session:
        fetch(session, Recipient, recipient_id, principal=principal, action='merge_history', health_data=True)
        return _merges_into(session, recipient_id)


# ---------------------------------------------------------------- remove

def remove_recipient(*, principal: Principal, recipient_id: int, reason: str,
                     case_id: int | None = None) -> RemovalOutcome:
    """Delete a person with no recorded dose: their appointments (freeing their slots), stand-by entries, portal
    registration, pending welcome emails and, when nobody else of the household remains, their portal login with
    its unused links. A person with any dose on record (voided ones too: the record shows them) is refused."""
    require(principal, Action.MANAGE_RECIPIENT_RECORDS)
    reason = _reason(reason, 'removed')
    with session_scope() as session:
        recipient = fetch(session, Recipient, recipient_id, principal=principal, action='remove_recipient',
                          health_data=True)
        name = f'{recipient.first_name} {recipient.last_name}'
        doses = session.exec(select(func.count()).select_from(Administration)
                             .where(Administration.recipient_id == recipient_id)).one()
        if doses:
            raise ServiceError(_has_doses_message(name, doses))
        locations = set()
        appointments = session.exec(select(Appointment).where(Appointment.recipient_id == recipient_id)).all()
        for appointment in appointments:
            if appointment.status in OPEN_STATUSES:
                _release_slot_place(session, appointment.slot_id)
            locations.add(appointment.location_id)
        session.execute(delete(DoseReminder).where(col(DoseReminder.recipient_id) == recipient_id))
        session.execute(delete(Appointment).where(col(Appointment.recipient_id) == recipient_id))
        for model in (StandbyEntry, RegistrationProgress, ProofCode, RemovalRequest):
            session.execute(delete(model).where(col(model.recipient_id) == recipient_id))
        session.execute(delete(InactiveRecipient).where(col(InactiveRecipient.recipient_id) == recipient_id))
        account_id = recipient.portal_account_id
        stays = bool(_household_others(session, recipient))
        emails = _drop_pending_emails(session, recipient_id, keep_links=stays)
        recipient.portal_account_id = None
        session.add(recipient)
        session.flush()
        links, closed = (0, False) if stays or account_id is None else (_close_login(session, account_id), True)
        audit.record(session, action='recipient_removed', actor=principal, entity_type='recipient',
                     entity_id=recipient_id, detail=_detail(
                         case_id, reason, f'{name}, born {recipient.date_of_birth.isoformat()}, location '
                         f'{recipient.location_id}; deleted {len(appointments)} appointment(s), {emails} pending '
                         f'email(s), {links} unused link(s){"; portal login closed" if closed else ""}'))
        session.delete(recipient)
    for location_id in locations:
        events.publish(location_id)
    return RemovalOutcome(recipient_id, name, len(appointments), emails, links, closed)


# ---------------------------------------------------------------- mark inactive

def mark_inactive(*, principal: Principal, recipient_id: int, reason: str, case_id: int | None = None) -> None:
    """Keep the record (and its doses) but take it off every list and search; its open appointments are cancelled
    (their slots and doses freed)."""
    require(principal, Action.MANAGE_RECIPIENT_RECORDS)
    reason = _reason(reason, 'marked inactive')
    locations = set()
    with session_scope() as session:
        recipient = fetch(session, Recipient, recipient_id, principal=principal, action='mark_recipient_inactive',
                          health_data=True)
        if session.get(InactiveRecipient, recipient_id) is not None:
            raise ServiceError(f'{recipient.first_name} {recipient.last_name} is already marked inactive.')
        session.add(InactiveRecipient(recipient_id=recipient_id, location_id=recipient.location_id, reason=reason,
                                      case_id=case_id, by_user_id=principal.user_id, by_email=principal.email))
        cancelled = []
        for appointment in session.exec(select(Appointment).where(Appointment.recipient_id == recipient_id)
                                        .where(col(Appointment.status).in_(OPEN_STATUSES))).all():
            cancel_appointment_in_unit_of_work(session, appointment, reason='Record marked inactive by the help desk')
            cancelled.append(appointment.id)
            locations.add(appointment.location_id)
        audit.record(session, action='recipient_marked_inactive', actor=principal, entity_type='recipient',
                     entity_id=recipient_id, detail=_detail(case_id, reason, 'cancelled appointments '
                                                            + (','.join(map(str, cancelled)) or 'none')))
    for location_id in locations:
        events.publish(location_id)


# ---------------------------------------------------------------- merge

def merge_recipients(*, principal: Principal, source_id: int, survivor_id: int, reason: str,
                     case_id: int | None = None) -> MergeOutcome:
    """Merge the record `source_id` into `survivor_id`, two records of one person: doses, appointments, reminders,
    stand-by entries, the portal registration and proof code (when the survivor has none) and the portal login
    (when the survivor has none) move to the survivor; the source is deleted and a RecipientMerge keeps it."""
    require(principal, Action.MANAGE_RECIPIENT_RECORDS)
    reason = _reason(reason, 'merged')
    if source_id == survivor_id:
        raise ValidationFailed('Choose another record to merge into: a record cannot be merged into itself.')
    locations = set()
    with session_scope() as session:
        source = fetch(session, Recipient, source_id, principal=principal, action='merge_recipients',
                       health_data=True)
        survivor = fetch(session, Recipient, survivor_id, principal=principal, action='merge_recipients',
                         health_data=True)
        if session.get(InactiveRecipient, survivor_id) is not None:
            raise ServiceError('The record to keep is marked inactive: merge into an active record of the person.')
        why = same_person(source, survivor)
        moved: dict[str, list[int]] = {}

        def move(model, key: str) -> list[int]:  # noqa: ANN001 - a table with a recipient_id column
            ids = list(session.exec(select(model.id).where(col(model.recipient_id) == source_id)))
            if ids:
                session.execute(update(model).where(col(model.id).in_(ids)).values(recipient_id=survivor_id))
                moved[key] = ids
            return ids

        survivor_open = session.exec(select(Appointment.id).where(Appointment.recipient_id == survivor_id)
                                     .where(col(Appointment.status).in_(OPEN_STATUSES))).first()
        if survivor_open is not None:  # one open appointment per person: the survivor's stays
            for appointment in session.exec(select(Appointment).where(Appointment.recipient_id == source_id)
                                            .where(col(Appointment.status).in_(OPEN_STATUSES))).all():
                cancel_appointment_in_unit_of_work(session, appointment,
                                                   reason=f'Merged into record {survivor_id}: it has an appointment')
                moved.setdefault('appointments_cancelled', []).append(appointment.id or 0)
        for appointment in session.exec(select(Appointment).where(Appointment.recipient_id == source_id)).all():
            locations.add(appointment.location_id)
        move(Administration, 'administrations')
        move(Appointment, 'appointments')
        move(DoseReminder, 'dose_reminders')
        move(StandbyEntry, 'standby_entries')
        for model, key in ((RegistrationProgress, 'registration'), (ProofCode, 'proof_code')):
            if session.exec(select(model.id).where(col(model.recipient_id) == survivor_id)).first() is None:
                move(model, key)
            else:
                session.execute(delete(model).where(col(model.recipient_id) == source_id))
        requests = list(session.exec(select(RemovalRequest.id).where(RemovalRequest.recipient_id == source_id)))
        if requests:
            session.execute(delete(RemovalRequest).where(col(RemovalRequest.id).in_(requests)))
            moved['removal_requests_closed'] = requests
        session.execute(delete(InactiveRecipient).where(col(InactiveRecipient.recipient_id) == source_id))
        account_id, closed = source.portal_account_id, False
        if account_id is not None and survivor.portal_account_id is None:
            survivor.portal_account_id = account_id  # the person's login now holds the survivor
            session.add(survivor)
            moved['portal_account'] = [account_id]
        source_fields = _fields(source)
        source.portal_account_id = None
        session.add(source)
        session.flush()
        stays = account_id is not None and (account_id == survivor.portal_account_id or bool(
            session.exec(select(Recipient.id).where(Recipient.portal_account_id == account_id)).first()))
        dropped = _drop_pending_emails(session, source_id, keep_links=stays)
        if account_id is not None and not stays:
            _close_login(session, account_id)
            closed = True
        merge = RecipientMerge(source_id=source_id, survivor_id=survivor_id, source_json=json.dumps(source_fields),
                               moved_json=json.dumps(moved), same_person=why, reason=reason, case_id=case_id,
                               by_user_id=principal.user_id, by_email=principal.email)
        session.add(merge)
        session.flush()
        audit.record(session, action='recipient_merged', actor=principal, entity_type='recipient',
                     entity_id=survivor_id, detail=_detail(
                         case_id, reason, f'merge {merge.id}: record {source_id} ({source.first_name} '
                         f'{source.last_name}, born {source.date_of_birth.isoformat()}) merged into {survivor_id}; '
                         f'{why}; moved {json.dumps(moved)}; {dropped} pending email(s) dropped'
                         f'{"; portal login closed" if closed else ""}'))
        session.delete(source)
        session.flush()
        merge_id = merge.id or 0
    for location_id in locations:
        events.publish(location_id)
    return MergeOutcome(merge_id, survivor_id, moved, closed)


def same_person(a: Recipient, b: Recipient) -> str:
    """Why two records are one person, or a ServiceError saying why they do not look it. The identity rules
    (services.recipients.identity.fold, search.name_likeness): the same date of birth and alike names (a typo,
    an initial, first and last name swapped, a second name), or the same names and a date of birth with one typo
    (one of day, month, year different, or day and month swapped)."""
    words_a, words_b = name_words(f'{a.first_name} {a.last_name}'), name_words(f'{b.first_name} {b.last_name}')
    alike = max(name_likeness(words_a, words_b), name_likeness(words_b, words_a))  # one name may hold more
    if a.date_of_birth == b.date_of_birth and alike >= 0.75:
        return f'same date of birth, names alike ({alike:.0%})'
    if sorted(words_a) == sorted(words_b) and _one_date_typo(a.date_of_birth, b.date_of_birth):
        return 'same names, one typo in the date of birth'
    raise ServiceError(
        f'{a.first_name} {a.last_name} (born {a.date_of_birth:%m/%d/%Y}) and {b.first_name} {b.last_name} '
        f'(born {b.date_of_birth:%m/%d/%Y}) do not look like the same person: a merge needs the same date of birth '
        'and alike names, or the same names and one typo in the date of birth.')


# ---------------------------------------------------------------- helpers

def _has_doses_message(name: str, doses: int) -> str:
    return (f'{name} has {doses} recorded dose{"s" if doses != 1 else ""}: a record with doses is never deleted. '
            'Mark it inactive, or merge it into another record of the same person.')


def _reason(reason: str, what: str) -> str:
    reason = (reason or '').strip()
    if len(reason) < MIN_REASON:
        raise ValidationFailed(f'Say why this record is {what} (at least a few words).')
    return reason[:2000]


def _detail(case_id: int | None, reason: str, facts: str) -> str:
    return f'{"case " + str(case_id) + "; " if case_id else ""}reason: {reason[:1000]}; {facts}'


def _household_others(session: Session, recipient: Recipient) -> list[Recipient]:
    if recipient.portal_account_id is None:
        return []
    return list(session.exec(select(Recipient).where(Recipient.portal_account_id == recipient.portal_account_id)
                             .where(col(Recipient.id) != recipient.id).order_by(col(Recipient.id))).all())


def _email_keys(recipient_id: int) -> list[str]:
    """The outbox's dedupe keys of the emails written for one person (services.portal.accounts, registration)."""
    return [f'welcome:recipient:{recipient_id}', f'portal:registered:{recipient_id}', f'portal:verify:{recipient_id}']


def _pending_emails(session: Session, recipient_id: int) -> list[OutboxMessage]:
    """Emails about this person not sent yet ('sending' ones belong to a sender now and are left to it)."""
    return list(session.exec(select(OutboxMessage).where(col(OutboxMessage.dedupe_key).in_(_email_keys(recipient_id)))
                             .where(col(OutboxMessage.status).in_(('pending', 'failed')))).all())


def _drop_pending_emails(session: Session, recipient_id: int, *, keep_links: bool) -> int:
    """Delete the person's pending emails. `keep_links`: the household's login stays for others, so a welcome
    email carrying its set-password link is kept (it is the household's way in)."""
    dropped = [m.id for m in _pending_emails(session, recipient_id) if not (keep_links and m.secret)]
    if dropped:
        session.execute(delete(OutboxAttachment).where(col(OutboxAttachment.message_id).in_(dropped)))
        session.execute(delete(OutboxMessage).where(col(OutboxMessage.id).in_(dropped)))
    return len(dropped)


def _close_login(session: Session, account_id: int) -> int:
    """Close a portal login nobody holds any more: its sessions end, its unused links (and emails carrying them)
    and the account go, and its user is deleted (the address is free again) unless other records still name it,
    then only disabled. Returns how many unused links were dropped."""
    account = session.get(PortalAccount, account_id)
    if account is None:
        return 0
    user_id = account.user_id
    # Password links to this login that wait in the outbox lead nowhere now (the household's welcome email).
    dead = list(session.exec(select(OutboxMessage.id).where(OutboxMessage.to_addr == account.email)
                             .where(col(OutboxMessage.secret).is_not(None))
                             .where(col(OutboxMessage.status).in_(('pending', 'failed')))))
    if dead:
        session.execute(delete(OutboxAttachment).where(col(OutboxAttachment.message_id).in_(dead)))
        session.execute(delete(OutboxMessage).where(col(OutboxMessage.id).in_(dead)))
    unused = session.exec(select(func.count()).select_from(PasswordToken).where(PasswordToken.user_id == user_id)
                          .where(col(PasswordToken.used_at).is_(None))).one()
    session.execute(delete(PasswordToken).where(col(PasswordToken.user_id) == user_id))
    session.execute(delete(AuthSession).where(col(AuthSession.user_id) == user_id))
    session.delete(account)
    session.flush()
    user = session.get(User, user_id)
    if user is not None:
        if _user_referenced(session, user_id):
            user.is_active = False
            session.add(user)
        else:
            session.delete(user)
    return int(unused)


def _user_referenced(session: Session, user_id: int) -> bool:
    """Whether any row still names this user by foreign key (a case they opened, an appointment they booked)."""
    for table in User.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == 'user' and fk.column.name == 'id' and table.name != 'user':
                if session.execute(select(fk.parent).where(fk.parent == user_id).limit(1)).first() is not None:
                    return True
    return False


def _fields(recipient: Recipient) -> dict[str, object]:
    keep = ('first_name', 'last_name', 'date_of_birth', 'email', 'phone', 'sex', 'address_line1', 'city', 'county',
            'state', 'zip_code', 'race', 'ethnicity', 'preferred_language', 'identity_key', 'location_id',
            'organization_id', 'source', 'portal_account_id', 'created_by_user_id', 'created_at')
    values = {name: getattr(recipient, name) for name in keep}
    return {k: v.isoformat() if isinstance(v, date | datetime) else v for k, v in values.items()}


def _merges_into(session: Session, recipient_id: int) -> list[MergeFact]:
    facts = []
    for merge in session.exec(select(RecipientMerge).where(RecipientMerge.survivor_id == recipient_id)
                              .order_by(col(RecipientMerge.id))).all():
        source = json.loads(merge.source_json)
        facts.append(MergeFact(merge.id or 0, merge.at, merge.source_id,
                               f'{source.get("first_name", "")} {source.get("last_name", "")}'.strip(),
                               source.get('date_of_birth', ''), json.loads(merge.moved_json), merge.same_person,
                               merge.reason, merge.by_email, merge.case_id))
    return facts


def _one_date_typo(a: date, b: date) -> bool:
    if a == b:
        return False
    if (a.year, a.month, a.day) == (b.year, b.day, b.month):
        return True
    return sum(x != y for x, y in ((a.year, b.year), (a.month, b.month), (a.day, b.day))) == 1


__all__ = ['removal_preview', 'remove_recipient', 'mark_inactive', 'merge_recipients', 'merge_history',
           'same_person', 'RemovalPreview', 'RemovalOutcome', 'MergeOutcome']
