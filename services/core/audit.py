"""The audit trail: one AuditEvent row per security- or data-relevant action, reads of a person's record and
downloads included. Rows form a hash chain: each row's hash covers its own fields and the previous row's hash, and
a one-row head holds the last one, so `main.py verify-audit` finds the first changed, inserted or deleted row
(docs/adr/0014-audit-chain.md). On PostgreSQL a row is sealed into the chain just after its unit of work commits
(seal_pending), so writers never queue behind each other's commits; on SQLite, within it."""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from models import AuditChainHead, AuditEvent, AuditEventPublic
from models.audit import AuditSubject
from services.core import localtime
from services.core.db import session_scope
from services.principal import Principal

log = logging.getLogger(__name__)

GENESIS = '0' * 64  # the "previous hash" of the first row
CHAINED = ('id', 'at', 'actor_user_id', 'actor_email', 'action', 'entity_type', 'entity_id', 'detail', 'client_ip')


def record(session: Session, *, action: str, actor: Principal | None = None, actor_email: str | None = None,
           entity_type: str | None = None, entity_id: object = None, detail: str = '',
           client_ip: str | None = None, subjects: Iterable[int] = ()) -> None:
    """Add an audit row to the caller's unit of work (it commits or rolls back with the change itself).
    `subjects`: the recipients (ids) the row is about besides its entity, e.g. each person a list showed; name them
    in `detail` too, which the chain covers. They index the audit page's person filter."""
    event = AuditEvent(
        actor_user_id=actor.user_id if actor else None,
        actor_email=actor.email if actor else actor_email,
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        detail=detail[:4000],
        client_ip=client_ip or (actor.client_ip if actor else None),
    )
    session.add(event)
    session.flush()
    people = set(subjects)
    if entity_type == 'recipient' and str(entity_id).isdigit():
        people.add(int(str(entity_id)))
    session.add_all(AuditSubject(recipient_id=person, event_id=event.id or 0) for person in sorted(people))
    if session.get_bind().dialect.name == 'postgresql':
        # Sealed right after this unit of work commits, by whoever holds the sealing lock then: no writer waits for
        # another's commit (a lock on the head held until commit made audited reads queue, ADR 0014).
        if not session.info.get('audit_seal_after_commit'):
            session.info['audit_seal_after_commit'] = True
            sa_event.listen(session, 'after_commit', _seal_after_commit, once=True)
    else:
        # SQLite: this unit of work holds the database's write lock from BEGIN IMMEDIATE: seal the row now.
        _seal(session, [event], _head(session))


def record_now(*, action: str, actor: Principal | None = None, entity_type: str | None = None,
               entity_id: object = None, detail: str = '', subjects: Iterable[int] = ()) -> None:
    """An audit row in a unit of work of its own: for reads and downloads, which change nothing else."""
    with session_scope() as session:
        record(session, action=action, actor=actor, entity_type=entity_type, entity_id=entity_id, detail=detail,
               subjects=subjects)


def canonical(event: AuditEvent) -> bytes:
    """The bytes a row's hash covers: its CHAINED fields as compact JSON with sorted keys (UTF-8), `at` as UTC
    ISO 8601 with microseconds, absent values as null."""
    values = {name: getattr(event, name) for name in CHAINED}
    at = values['at']
    if isinstance(at, datetime):
        at = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite gives it back naive, in UTC
        values['at'] = at.strftime('%Y-%m-%dT%H:%M:%S.%fZ')
    return json.dumps(values, sort_keys=True, separators=(',', ':'), ensure_ascii=False).encode()


def row_hash(event: AuditEvent, prev_hash: str) -> str:
    return hashlib.sha256(prev_hash.encode() + b'\n' + canonical(event)).hexdigest()


@dataclass(frozen=True)
class ChainProblem:
    kind: str  # changed | inserted | deleted
    row_id: int | None
    message: str


def verify_chain(*, batch: int = 5000) -> ChainProblem | None:
    """The first break in the chain, or None when every sealed row is as it was written."""
    with session_scope(read_only=True) as session:
        head = session.get(AuditChainHead, 1)
        previous: AuditEvent | None = None
        before_previous_hash = GENESIS
        pending: AuditEvent | None = None  # a row whose own hash is wrong: changed, or inserted (seen at the next)
        for event in _rows(session, batch):
            expected_prev = previous.row_hash if previous is not None else GENESIS
            if pending is not None:
                if event.prev_hash == before_previous_hash:
                    return ChainProblem('inserted', pending.id, f'Audit row {pending.id} was inserted: the chain '
                                                                f'goes from the row before it to row {event.id}.')
                return ChainProblem('changed', pending.id, f'Audit row {pending.id} was changed after it was written.')
            if event.prev_hash != expected_prev:
                after = f'after row {previous.id}' if previous is not None else 'at the start'
                if previous is not None and event.prev_hash == before_previous_hash:
                    return ChainProblem('inserted', previous.id, f'Audit row {previous.id} was inserted.')
                return ChainProblem('deleted', event.id, f'Audit rows were deleted {after}, before row {event.id}.')
            if row_hash(event, event.prev_hash or '') != event.row_hash:
                pending = event
            before_previous_hash = expected_prev
            previous = event
        if pending is not None:  # the last row: the head tells which
            if head is not None and head.last_hash == pending.row_hash:
                return ChainProblem('changed', pending.id, f'Audit row {pending.id} was changed after it was written.')
            return ChainProblem('inserted', pending.id, f'Audit row {pending.id} was inserted.')
        last_id, last_hash = (previous.id, previous.row_hash) if previous is not None else (0, GENESIS)
        head_id, head_hash = (head.last_id, head.last_hash or GENESIS) if head is not None else (0, GENESIS)
        if (last_id, last_hash) != (head_id, head_hash):
            if last_id and head_hash == before_previous_hash:
                return ChainProblem('inserted', last_id, f'Audit row {last_id} was inserted at the end.')
            return ChainProblem('deleted', None, f'Audit rows were deleted at the end, after row {last_id} '
                                                 f'(the last row written was {head_id}).')
    return None


def _rows(session: Session, batch: int) -> Iterator[AuditEvent]:
    """The sealed rows in chain order (rows written a moment ago may not be sealed yet: unsealed_count)."""
    last = -1
    while True:
        rows = session.exec(select(AuditEvent).where(col(AuditEvent.chain_seq) > last)
                            .order_by(col(AuditEvent.chain_seq)).limit(batch)).all()
        yield from rows
        if len(rows) < batch:
            return
        last = rows[-1].chain_seq or 0


def seal_pending() -> int:
    """Chain the rows written but not sealed yet (PostgreSQL), in id order, after the last sealed one; returns how
    many. One sealer at a time (a transaction-scoped advisory lock); the others skip instead of waiting, and each
    sealer looks again once it has released the lock, so a row committed while the lock was held is not left
    behind. Writers call it after their commit; the background work too, once a minute, in case one could not."""
    sealed = 0
    while True:
        with session_scope() as session:
            postgres = session.get_bind().dialect.name == 'postgresql'
            if postgres and not session.execute(text('SELECT pg_try_advisory_xact_lock(:key)'),
                                                {'key': SEAL_LOCK_KEY}).scalar():
                return sealed  # the holder looks again after releasing it
            head = _head(session)
            while rows := list(session.exec(select(AuditEvent).where(col(AuditEvent.chain_seq).is_(None))
                                            .order_by(col(AuditEvent.id)).limit(1000))):
                _seal(session, rows, head)
                session.flush()
                sealed += len(rows)
        if not _pending_exists():  # committed while the lock was held, after this sealer's last look
            return sealed


def unsealed_count() -> int:
    with session_scope(read_only=True) as session:
        return len(session.exec(select(AuditEvent.id).where(col(AuditEvent.chain_seq).is_(None))).all())


SEAL_LOCK_KEY = 0x63766D73_61756474  # 'cvms' 'audt': a PostgreSQL advisory lock key, any fixed number


def _seal(session: Session, rows: list[AuditEvent], head: AuditChainHead) -> None:
    for row in rows:
        row.chain_seq = head.last_seq + 1
        row.prev_hash = head.last_hash or GENESIS
        row.row_hash = row_hash(row, row.prev_hash)
        head.last_id, head.last_seq, head.last_hash = row.id or 0, row.chain_seq, row.row_hash
    session.add_all([*rows, head])


def _pending_exists() -> bool:
    with session_scope(read_only=True) as session:
        return session.exec(select(AuditEvent.id).where(col(AuditEvent.chain_seq).is_(None)).limit(1)).first() \
            is not None


def _seal_after_commit(session: Session) -> None:
    session.info.pop('audit_seal_after_commit', None)
    try:
        seal_pending()
    except Exception:  # the change itself committed; the background work seals what is left within a minute
        log.exception('sealing audit rows failed')


def _head(session: Session) -> AuditChainHead:
    """The head row (locked on PostgreSQL: only the sealer, which holds the sealing lock, ever asks); created
    when missing."""
    query = select(AuditChainHead).where(AuditChainHead.id == 1)
    if session.get_bind().dialect.name == 'postgresql':
        query = query.with_for_update()
    head = session.exec(query).first()
    if head is None:
        session.execute(text("INSERT INTO auditchainhead (id, last_id, last_seq, last_hash) VALUES (1, 0, 0, '') "
                             'ON CONFLICT (id) DO NOTHING'))
        head = session.exec(query).one()
    return head


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditEventPublic]
    has_more: bool


def search(*, principal: Principal, person: int | None = None, user: str = '', action: str = '',
           start: date | None = None, end: date | None = None, page: int = 1, per_page: int = 50) -> AuditPage:
    """The audit log, newest first, filtered in the database: rows about one recipient (`person`, their id: their
    record, or a list or search that showed them; a range of auditsubject's key), by a user (part of the email),
    an action, and days (`start`..`end`, in the state's time zone)."""
    from services.permissions import Action, require  # permissions audits its refusals through this module

    require(principal, Action.VIEW_AUDIT)
    per_page, page = max(1, min(per_page, 200)), max(1, page)
    query = search_query(person=person, user=user, action=action, start=start, end=end)
    with session_scope(read_only=True) as session:
        rows = session.exec(query.offset((page - 1) * per_page).limit(per_page + 1)).all()
        public = [AuditEventPublic.model_validate(e, from_attributes=True) for e in rows[:per_page]]
    return AuditPage(rows=public, has_more=len(rows) > per_page)


def search_query(*, person: int | None = None, user: str = '', action: str = '', start: date | None = None,
                 end: date | None = None) -> Select:
    """search's query, newest first; a person's rows are a range of auditsubject's primary key read backwards,
    never a scan of the log."""
    query = select(AuditEvent)
    newest_first = col(AuditEvent.id).desc()
    if person is not None:
        query = query.join(AuditSubject, col(AuditSubject.event_id) == col(AuditEvent.id)) \
            .where(col(AuditSubject.recipient_id) == person)
        newest_first = col(AuditSubject.event_id).desc()  # read backwards along the key (recipient_id, event_id)
    if user.strip():
        query = query.where(col(AuditEvent.actor_email).contains(user.strip().lower()))
    if action.strip():
        query = query.where(col(AuditEvent.action) == action.strip())
    if start is not None:
        query = query.where(col(AuditEvent.at) >= localtime.day_span(start)[0])
    if end is not None:
        query = query.where(col(AuditEvent.at) < localtime.day_span(end)[1])
    return query.order_by(newest_first)


def actions() -> list[str]:
    """The actions the log holds, for the filter's choices."""
    with session_scope(read_only=True) as session:
        return list(session.exec(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


def recent(session: Session, *, limit: int = 200, action: str | None = None) -> list[AuditEventPublic]:
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)  # type: ignore[union-attr]
    if action:
        query = query.where(AuditEvent.action == action)
    return [AuditEventPublic.model_validate(e, from_attributes=True) for e in session.exec(query)]


def register_cli(commands) -> None:  # noqa: ANN001 - argparse's subparsers object
    verify = commands.add_parser('verify-audit', help='check the audit trail\'s hash chain; report the first changed, '
                                                      'inserted or deleted row')
    verify.set_defaults(handler=_verify_cli)


def _verify_cli(_args: object) -> int:
    problem = verify_chain()
    if problem is None:
        waiting = unsealed_count()
        print('The audit trail is intact.' + (f' {waiting} row(s) written a moment ago are not sealed yet.'
                                              if waiting else ''))
        return 0
    print(f'The audit trail was tampered with: {problem.message}')
    return 1
