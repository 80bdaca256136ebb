"""One mail service: messages go into the outbox table inside the caller's transaction, and a
background sender delivers them over SMTP (aiosmtplib), retrying with back-off while the server
is down. With no SMTP host configured they stay in the outbox, where state admins can read them."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib
from sqlalchemy import update
from sqlmodel import Session, col, select

from models import OutboxAttachment, OutboxMessage, OutboxMessagePublic, utcnow

from .db import is_postgres, session_scope
from .jobs import repeat
from .permissions import Action, require
from .principal import Principal
from .settings import Settings, get_settings

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 25  # about a day of back-off before a message is marked failed
BATCH_SIZE = 200
MARK_EVERY = 25  # deliveries recorded per commit


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes
    content_type: str = 'text/csv'


def enqueue(session: Session, *, to: str, subject: str, body_text: str, body_html: str | None = None,
            attachments: list[Attachment] | None = None, dedupe_key: str | None = None) -> OutboxMessage | None:
    """Queue a message in the caller's unit of work. With a dedupe_key already queued, nothing is added."""
    if dedupe_key is not None:
        existing = session.exec(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)).first()
        if existing is not None:
            return None
    message = OutboxMessage(to_addr=to, subject=subject, body_text=body_text, body_html=body_html,
                            dedupe_key=dedupe_key)
    session.add(message)
    if attachments:
        session.flush()
        for attachment in attachments:
            session.add(OutboxAttachment(message_id=message.id, filename=attachment.filename,
                                         content_type=attachment.content_type, data=attachment.data))
    return message


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 3600))


def recover_interrupted() -> int:
    """Messages claimed by a sender that stopped mid-send go back to pending (at start-up)."""
    with session_scope() as session:
        result = session.execute(update(OutboxMessage).where(col(OutboxMessage.status) == 'sending')
                                 .values(status='pending'))
        return result.rowcount or 0


def _claim_due(limit: int) -> list[int]:
    with session_scope() as session:
        query = (select(OutboxMessage.id).where(OutboxMessage.status == 'pending')
                 .where(OutboxMessage.next_attempt_at <= utcnow()).order_by(OutboxMessage.id).limit(limit))
        if is_postgres():
            query = query.with_for_update(skip_locked=True)  # several app instances may send at once
        ids = list(session.exec(query))
        if ids:
            session.execute(update(OutboxMessage).where(col(OutboxMessage.id).in_(ids)).values(status='sending'))
        return ids


def _load(ids: list[int]) -> list[tuple[OutboxMessage, list[OutboxAttachment]]]:
    with session_scope() as session:
        messages = session.exec(select(OutboxMessage).where(col(OutboxMessage.id).in_(ids))
                                .order_by(OutboxMessage.id)).all()
        attachments = session.exec(select(OutboxAttachment).where(col(OutboxAttachment.message_id).in_(ids))).all()
        by_message: dict[int, list[OutboxAttachment]] = {}
        for attachment in attachments:
            by_message.setdefault(attachment.message_id, []).append(attachment)
        return [(m, by_message.get(m.id or 0, [])) for m in messages]


def build_email(message: OutboxMessage, attachments: list[OutboxAttachment], settings: Settings) -> EmailMessage:
    email = EmailMessage()
    email['From'] = settings.mail_from
    email['To'] = message.to_addr
    email['Subject'] = message.subject
    email['Message-ID'] = make_msgid(idstring=f'outbox-{message.id}', domain='cvms')
    email.set_content(message.body_text)
    if message.body_html:
        email.add_alternative(message.body_html, subtype='html')
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition('/')
        email.add_attachment(attachment.data, maintype=maintype, subtype=subtype or 'octet-stream',
                             filename=attachment.filename)
    return email


def _mark(message_id: int, *, sent: bool, error: str | None = None) -> None:
    with session_scope() as session:
        message = session.get(OutboxMessage, message_id)
        if message is None:
            return
        message.attempts += 1
        if sent:
            message.status, message.sent_at, message.last_error = 'sent', utcnow(), None
        else:
            message.last_error = (error or 'unknown error')[:1000]
            if message.attempts >= MAX_ATTEMPTS:
                message.status = 'failed'
            else:
                message.status, message.next_attempt_at = 'pending', utcnow() + backoff(message.attempts)
        session.add(message)


def _release(message_ids: list[int], error: str) -> None:
    for message_id in message_ids:
        _mark(message_id, sent=False, error=error)


def _mark_sent(message_ids: list[int]) -> None:
    """Record a group of deliveries in one statement (one commit per group, not per message)."""
    if not message_ids:
        return
    with session_scope() as session:
        session.execute(update(OutboxMessage).where(col(OutboxMessage.id).in_(message_ids)).values(
            status='sent', sent_at=utcnow(), last_error=None, attempts=OutboxMessage.attempts + 1))


class _Pace:
    """The configured cap (messages per second) as a schedule, so time spent sending counts towards it."""

    def __init__(self, rate: float) -> None:
        self.interval = 1 / rate if rate > 0 else 0.0
        self.next_at = time.monotonic()

    async def wait(self) -> None:
        if not self.interval:
            return
        delay = self.next_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        self.next_at = max(self.next_at, time.monotonic() - self.interval) + self.interval


async def deliver_due(settings: Settings | None = None, *, limit: int | None = None) -> int:
    """Send every due message (or at most `limit`) over one reused SMTP connection. Returns how many were sent.
    Deliveries are recorded in groups of MARK_EVERY: a crash can resend at most that many (mail is at-least-once)."""
    settings = settings or get_settings()
    if not settings.smtp_configured:
        return 0
    sent = 0
    pace = _Pace(settings.mail_rate_per_second)
    while ids := await asyncio.to_thread(_claim_due, BATCH_SIZE if limit is None else min(BATCH_SIZE, limit - sent)):
        batch = await asyncio.to_thread(_load, ids)
        pending = [m.id for m, _ in batch]
        try:
            smtp = aiosmtplib.SMTP(hostname=settings.smtp_host, port=settings.smtp_port, timeout=30,
                                   use_tls=settings.smtp_tls and settings.smtp_port == 465,
                                   start_tls=settings.smtp_tls and settings.smtp_port != 465)
            await smtp.connect()
            if settings.smtp_username:
                await smtp.login(settings.smtp_username, settings.smtp_password)
        except (aiosmtplib.SMTPException, OSError) as error:
            log.warning('SMTP server unavailable: %s', error)
            await asyncio.to_thread(_release, [i for i in pending if i is not None], f'SMTP unavailable: {error}')
            return sent
        delivered: list[int] = []
        try:
            for message, attachments in batch:
                await pace.wait()
                try:
                    await smtp.send_message(build_email(message, attachments, settings))
                except aiosmtplib.SMTPRecipientsRefused as error:
                    await asyncio.to_thread(_mark, message.id, sent=False, error=str(error))
                except (aiosmtplib.SMTPException, OSError) as error:
                    # The connection broke: this message and the rest of the batch wait for the next round.
                    rest = pending[pending.index(message.id):]
                    await asyncio.to_thread(_release, rest, f'SMTP error: {error}')
                    return sent
                else:
                    delivered.append(message.id or 0)
                    sent += 1
                    if len(delivered) >= MARK_EVERY:
                        await asyncio.to_thread(_mark_sent, delivered)
                        delivered = []
        finally:
            await asyncio.to_thread(_mark_sent, delivered)
            try:
                await smtp.quit()
            except (aiosmtplib.SMTPException, OSError):
                pass
        if limit is not None and sent >= limit:
            break
    return sent


async def run_sender(stop: asyncio.Event, *, interval: float = 2.0) -> None:
    """The background sender: delivers due messages until `stop` is set."""
    await asyncio.to_thread(recover_interrupted)
    await repeat(stop, deliver_due, interval=interval, name='mail sender')


def list_outbox(principal: Principal | None, *, limit: int = 200, to: str | None = None) -> list[OutboxMessagePublic]:
    require(principal, Action.VIEW_OUTBOX)
    with session_scope() as session:
        query = select(OutboxMessage).order_by(col(OutboxMessage.id).desc()).limit(limit)
        if to:
            query = query.where(col(OutboxMessage.to_addr).contains(to.strip().lower()))
        messages = session.exec(query).all()
        ids = [m.id for m in messages]
        names: dict[int, list[str]] = {}
        if ids:
            for message_id, filename in session.exec(select(OutboxAttachment.message_id, OutboxAttachment.filename)
                                                     .where(col(OutboxAttachment.message_id).in_(ids))):
                names.setdefault(message_id, []).append(filename)
        return [OutboxMessagePublic(**m.model_dump(), attachment_names=names.get(m.id or 0, [])) for m in messages]
