"""Sending the queued registry messages (docs/adr/0016): workers claim one message at a time for a lease, send it
over the configured transport outside any transaction, and record the registry's answer only while they still
hold the claim. So two workers never send the same message, a worker that died has its claim expire and another
takes the message over, and a rejected message is final: it never holds back the others.

Order per dose: a message waits while an earlier message of the same dose (same ORC-3) is still to be sent, so
an update never reaches the registry before its add. A registry out of reach (no connection, a timeout) puts the
message in Retrying, with a back-off, and the next one is tried later.

On PostgreSQL each new message defers a job (`registry.send_message`) and a periodic sweep (`registry.sweep`)
picks up retries; on SQLite the in-process loop `run_sender` sweeps every few seconds."""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from models import utcnow
from models.registry import WAITING_STATUSES, RegistryMessage, RegistryStatus
from services.core import queue
from services.core.db import is_postgres, session_scope
from services.core.jobs import repeat
from services.core.settings import get_settings
from services.registry import ack, transport

log = logging.getLogger(__name__)

SEND_TASK = 'registry.send_message'
SWEEP_TASK = 'registry.sweep'
MAX_BACKOFF_SECONDS = 3600


@dataclass(frozen=True)
class Claimed:
    id: int
    filler_order_id: int
    control_id: str
    body: str


@dataclass
class SendCounts:
    sent: int = 0
    retrying: int = 0

    def add(self, outcome: str) -> None:
        if outcome == 'retrying':
            self.retrying += 1
        elif outcome == 'sent':
            self.sent += 1


def defer_send(session: Session, message: RegistryMessage) -> None:
    """Inside the unit of work that queued `message`: a worker sends it as soon as the event commits (PostgreSQL;
    on SQLite the sending loop finds it)."""
    if transport.configured() and is_postgres():
        queue.defer(session, SEND_TASK, message_id=message.id)


def send_message(message_id: int, *, owner: str | None = None) -> SendCounts:
    """The job of one new message: send it if it is due (no other worker holds it, no earlier message of its dose
    waits), then the messages of the same dose that were waiting behind it."""
    counts = SendCounts()
    if not transport.configured():  # the settings changed since the job was deferred: the file will carry it
        return counts
    owner = owner or new_owner()
    claimed = _claim(owner, message_id=message_id)
    while claimed is not None:
        outcome = _send_claimed(claimed, owner)
        counts.add(outcome)
        if outcome == 'retrying':
            break  # the registry is out of reach: the rest of this dose waits for the sweep
        claimed = _claim(owner, filler_order_id=claimed.filler_order_id)
    return counts


def send_due(*, limit: int | None = None, owner: str | None = None) -> SendCounts:
    """Send every due message (or at most `limit`), one claim at a time, oldest first. Stops early when the
    registry is out of reach: the others would only wait for the same timeout."""
    counts = SendCounts()
    if not transport.configured():
        return counts
    owner = owner or new_owner()
    while limit is None or counts.sent + counts.retrying < limit:
        claimed = _claim(owner)
        if claimed is None:
            break
        outcome = _send_claimed(claimed, owner)
        counts.add(outcome)
        if outcome == 'retrying':
            break
    return counts


async def run_sender(stop: asyncio.Event, *, interval: float = 2.0) -> None:
    """The in-process sending loop (SQLite): sweeps for due messages until `stop` is set."""
    async def sweep() -> None:
        if transport.configured():
            await asyncio.to_thread(send_due)
    await repeat(stop, sweep, interval=interval, name='registry sender')


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS))


def new_owner() -> str:
    return f'{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}'


# ---------------------------------------------------------------- claims and answers

def _lease() -> timedelta:
    """Longer than one exchange can take, so a live worker's claim never expires while it waits for an answer."""
    settings = get_settings()
    return timedelta(seconds=settings.job_lease_seconds + settings.iis_timeout_seconds)


def _claim(owner: str, *, message_id: int | None = None, filler_order_id: int | None = None) -> Claimed | None:
    """Claim the oldest due message (or that one, or the oldest due of that dose) for `owner`, in its own unit of
    work. Due: to be sent, not in a batch file, past its back-off, claimed by nobody (or by a worker whose lease
    ran out), and no earlier message of its dose still to be sent (over a connection: one already written to a batch
    file holds nothing back)."""
    now = utcnow()
    earlier = aliased(RegistryMessage)
    waiting_before = select(earlier.id).where(col(earlier.filler_order_id) == col(RegistryMessage.filler_order_id),
                                              col(earlier.id) < col(RegistryMessage.id),
                                              col(earlier.status).in_(WAITING_STATUSES),
                                              col(earlier.exported_at).is_(None)).exists()  # a file carried it
    query = (select(RegistryMessage).where(
        col(RegistryMessage.status).in_(WAITING_STATUSES), col(RegistryMessage.exported_at).is_(None),
        or_(col(RegistryMessage.next_attempt_at).is_(None), col(RegistryMessage.next_attempt_at) <= now),
        or_(col(RegistryMessage.claimed_until).is_(None), col(RegistryMessage.claimed_until) < now),
        ~waiting_before).order_by(col(RegistryMessage.id)).limit(1))
    if message_id is not None:
        query = query.where(col(RegistryMessage.id) == message_id)
    if filler_order_id is not None:
        query = query.where(col(RegistryMessage.filler_order_id) == filler_order_id)
    if is_postgres():
        query = query.with_for_update(skip_locked=True, of=RegistryMessage)  # several workers claim at once
    with session_scope() as session:
        message = session.exec(query).first()
        if message is None:
            return None
        message.claimed_by, message.claimed_until = owner, now + _lease()
        session.add(message)
        return Claimed(id=message.id or 0, filler_order_id=message.filler_order_id, control_id=message.control_id,
                       body=message.body)


def _send_claimed(claimed: Claimed, owner: str) -> str:
    """Exchange one claimed message with the registry and record the outcome: 'sent' (an answer, whatever it
    said), 'retrying' (not reached) or 'lost' (another worker holds it now: its answer counts)."""
    try:
        answer = transport.exchange(claimed.body)
    except transport.Refused as error:
        return _record(claimed.id, owner, status=RegistryStatus.REJECTED, text=str(error))
    except transport.Unreachable as error:
        return _record(claimed.id, owner, problem=str(error))
    try:
        reply = ack.parse_ack(answer, answering=claimed.control_id)
    except ack.AnswerUnreadable as error:
        return _record(claimed.id, owner, problem=str(error), body=answer)
    return _record(claimed.id, owner, status=reply.status, text=reply.plain, code=reply.code, body=answer)


def _record(message_id: int, owner: str, *, status: RegistryStatus | None = None, text: str = '',
            code: str | None = None, body: str | None = None, problem: str | None = None) -> str:
    now = utcnow()
    with session_scope() as session:
        message = session.exec(select(RegistryMessage).where(col(RegistryMessage.id) == message_id)
                               .where(col(RegistryMessage.claimed_by) == owner)).first()
        if message is None:
            log.warning('registry message %s: claim lost to another worker; its answer is not recorded', message_id)
            return 'lost'
        message.attempts += 1
        message.claimed_by = message.claimed_until = None
        if body is not None:
            message.ack_body = body
        if status is None:
            message.status = RegistryStatus.RETRYING
            message.last_error = (problem or 'The registry could not be reached.')[:500]
            message.next_attempt_at = now + backoff(message.attempts)
            log.info('registry message %s: %s; next try at %s', message_id, message.last_error,
                     message.next_attempt_at)
        else:
            message.status, message.ack_code, message.ack_text = status, code, (text or None) and text[:2000]
            message.answered_at, message.last_error, message.next_attempt_at = now, None, None
        session.add(message)
        return 'retrying' if status is None else 'sent'
