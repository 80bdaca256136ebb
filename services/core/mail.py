"""One mail service: messages go into the outbox table inside the caller's transaction, and a
background sender delivers them over SMTP (aiosmtplib), retrying with back-off while the server
is down. With no SMTP host configured they stay in the outbox, where state admins can read them."""
from __future__ import annotations

import asyncio
import binascii
import logging
import re
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import formatdate, make_msgid
from functools import lru_cache

import aiosmtplib
from aiosmtplib.email import parse_address
from sqlalchemy import update
from sqlmodel import Session, col, select

from models import OutboxAttachment, OutboxMessage, OutboxMessagePublic, utcnow
from services.core.db import is_postgres, session_scope
from services.core.jobs import repeat
from services.core.settings import Settings, get_settings
from services.permissions import Action, require
from services.principal import Principal

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 25  # about a day of back-off before a message is marked failed
BATCH_SIZE = 200  # claimed per transaction; the next batch is claimed while this one is sent
MARK_EVERY = 25  # the most deliveries sent and not yet recorded: all a crash can resend


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


def _claim_due(limit: int) -> list[tuple[OutboxMessage, list[OutboxAttachment]]]:
    """Claim up to `limit` due messages (status 'sending') and load them with their attachments."""
    with session_scope() as session:
        query = (select(OutboxMessage.id).where(OutboxMessage.status == 'pending')
                 .where(OutboxMessage.next_attempt_at <= utcnow()).order_by(OutboxMessage.id).limit(limit))
        if is_postgres():
            query = query.with_for_update(skip_locked=True)  # several app instances may send at once
        ids = list(session.exec(query))
        if not ids:
            return []
        session.execute(update(OutboxMessage).where(col(OutboxMessage.id).in_(ids)).values(status='sending'))
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
    email['Date'] = formatdate(usegmt=True)
    email['Message-ID'] = _message_id(message)
    email.set_content(message.body_text)
    if message.body_html:
        email.add_alternative(message.body_html, subtype='html')
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition('/')
        email.add_attachment(attachment.data, maintype=maintype, subtype=subtype or 'octet-stream',
                             filename=attachment.filename)
    return email


def render(message: OutboxMessage, attachments: list[OutboxAttachment], settings: Settings) -> tuple[str, bytes]:
    """The envelope recipient and the bytes sent after DATA. A plain-text message (nearly every one) is written
    here, with From and Subject folded once per distinct value: through EmailMessage, parsing and refolding every
    header took 0.7 ms a message, a third of the sending time. Anything else goes through build_email.
    Bodies are 7-bit (as is, or quoted-printable), so no server needs 8BITMIME; a non-ASCII address needs SMTPUTF8
    and then appears raw in To, as the email package writes it."""
    to = message.to_addr
    bare = _BARE_ADDRESS.fullmatch(to) is not None
    recipient = to if bare else parse_address(to)
    utf8 = not recipient.isascii()
    if attachments or message.body_html:
        policy = (SMTPUTF8 if utf8 else SMTP).clone(cte_type='7bit')
        return recipient, build_email(message, attachments, settings).as_bytes(policy=policy)
    sender = _envelope_sender(settings.mail_from)
    cte, body = _text_body(message.body_text)
    return recipient, b''.join((
        _folded('From', settings.mail_from, utf8=not sender.isascii()),
        f'To: {to}\r\n'.encode() if bare else _folded('To', to, utf8=utf8),
        _folded('Subject', message.subject),
        f'Date: {formatdate(usegmt=True)}\r\nMessage-ID: {_message_id(message)}\r\nMIME-Version: 1.0\r\n'
        f'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n\r\n'.encode(),
        body))


# An addr-spec with nothing to quote or encode (ASCII or UTF-8), written into To as it is.
_BARE_ADDRESS = re.compile(r'[^\s"(),:;<>@\[\\\]\x00-\x1f\x7f]+@[^\s"(),:;<>@\[\\\]\x00-\x1f\x7f]+')


_envelope_sender = lru_cache(maxsize=8)(parse_address)  # the address in mail_from


def _message_id(message: OutboxMessage) -> str:
    return make_msgid(idstring=f'outbox-{message.id}', domain='cvms')


@lru_cache(maxsize=256)
def _folded(name: str, value: str, *, utf8: bool = False) -> bytes:
    """One header line as the email package writes it (RFC 2047 words for non-ASCII text unless `utf8`)."""
    if len(value.splitlines()) > 1:
        raise ValueError(f'{name} may not contain line breaks')  # as EmailMessage refuses them
    policy = SMTPUTF8 if utf8 else SMTP
    return policy.header_factory(name, value).fold(policy=policy).encode()


def _text_body(text: str) -> tuple[str, bytes]:
    """A UTF-8 body: as is when it is ASCII in lines SMTP allows, else quoted-printable (binascii's, in C)."""
    lines = text.encode().splitlines()
    data = b'\r\n'.join(lines) + b'\r\n'
    if data.isascii() and max(map(len, lines), default=0) <= 998:
        return '7bit', data
    return 'quoted-printable', binascii.b2a_qp(data, istext=True)


def _record(sent: list[int], failed: list[tuple[int, str]]) -> None:
    """Deliveries (one statement) and failed attempts (back-off, or `failed` after MAX_ATTEMPTS), one commit."""
    with session_scope() as session:
        if sent:
            session.execute(update(OutboxMessage).where(col(OutboxMessage.id).in_(sent)).values(
                status='sent', sent_at=utcnow(), last_error=None, attempts=OutboxMessage.attempts + 1))
        errors = dict(failed)
        if not errors:
            return
        for message in session.exec(select(OutboxMessage).where(col(OutboxMessage.id).in_(errors))):
            message.attempts += 1
            message.last_error = errors[message.id or 0][:1000]
            if message.attempts >= MAX_ATTEMPTS:
                message.status = 'failed'
            else:
                message.status, message.next_attempt_at = 'pending', utcnow() + backoff(message.attempts)
            session.add(message)


class _Recorder:
    """Writes outcomes from a thread while the sending goes on. Deliveries are written in groups of half of
    MARK_EVERY, and the sending waits rather than let MARK_EVERY go unrecorded: a crash resends at most that many."""

    def __init__(self) -> None:
        self.delivered = 0
        self.error: Exception | None = None  # a failed write: the round stops, deliver_due raises it
        self._sent: list[int] = []
        self._failed: list[tuple[int, str]] = []
        self._unrecorded = 0  # delivered and not committed yet, including the group being written
        self._writer: asyncio.Task[None] | None = None

    def sent(self, message_id: int) -> None:
        self.delivered += 1
        self._unrecorded += 1
        self._sent.append(message_id)
        if len(self._sent) >= MARK_EVERY // 2:
            self._start()

    def failed(self, message_id: int, error: str) -> None:
        self._failed.append((message_id, error))
        self._start()

    async def room(self) -> None:
        """Wait while MARK_EVERY deliveries are unrecorded (only when the database falls behind)."""
        while self._unrecorded >= MARK_EVERY and self.error is None:
            if self._writer is None or self._writer.done():
                self._writer = asyncio.create_task(self._write(1))
            await asyncio.shield(self._writer)

    async def flush(self) -> None:
        """Write everything left (the end of a round); raise a write that failed."""
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)
        if self.error is None:
            await self._write(1)
        if self.error is not None:
            raise self.error

    def _start(self) -> None:
        if self.error is None and (self._writer is None or self._writer.done()):
            self._writer = asyncio.create_task(self._write(MARK_EVERY // 2))

    async def _write(self, group: int) -> None:
        while len(self._sent) >= group or self._failed:
            sent, failed = self._sent, self._failed
            self._sent, self._failed = [], []
            try:
                await asyncio.to_thread(_record, sent, failed)
            except Exception as error:  # kept, and raised by flush() once the connections stop
                self.error = error
                return
            self._unrecorded -= len(sent)


class _Pace:
    """The configured cap (messages per second) as a schedule shared by every connection: each send takes the
    next free slot before it waits, so time spent sending counts towards the cap and connections never add up."""

    def __init__(self, rate: float) -> None:
        self.interval = 1 / rate if rate > 0 else 0.0
        self.next_at = time.monotonic()

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        slot = max(self.next_at, now)
        self.next_at = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


class _Claims:
    """Batches of due messages claimed in a thread, the next one while the current one is being sent, and never
    more in all than `limit`."""

    def __init__(self, limit: int | None) -> None:
        self.left = limit
        self._ahead: asyncio.Task[list[tuple[OutboxMessage, list[OutboxAttachment]]]] | None = None

    def claim_next(self) -> None:
        size = BATCH_SIZE if self.left is None else min(BATCH_SIZE, self.left)
        if self._ahead is None and size > 0:
            self._ahead = asyncio.create_task(asyncio.to_thread(_claim_due, size))

    async def take(self) -> list[tuple[OutboxMessage, list[OutboxAttachment]]]:
        """The batch claimed ahead (claimed now if none was), or [] when nothing more is due."""
        self.claim_next()
        if self._ahead is None:
            return []
        batch = await asyncio.shield(self._ahead)  # if this wait is cancelled, drop() still gets the batch
        self._ahead = None
        if self.left is not None:
            self.left -= len(batch)
        return batch

    async def drop(self) -> list[tuple[OutboxMessage, list[OutboxAttachment]]]:
        """The batch claimed ahead that this round will not send (the caller releases it)."""
        if self._ahead is None:
            return []
        try:
            return await self.take()
        except Exception:  # the claim failed and rolled back: nothing was claimed
            return []


@dataclass
class _Round:
    """What the connections of one deliver_due call share."""
    settings: Settings
    sender: str  # envelope sender, from mail_from
    pace: _Pace
    recorder: _Recorder
    queue: deque[tuple[OutboxMessage, list[OutboxAttachment]]] = field(default_factory=deque)
    broken: str | None = None  # why the round stops early: the rest is released with this error


def _refused(error: Exception) -> bool:
    """The server (or the address) refused this one message: it waits alone, the connection goes on. A temporary
    (4xx) or lost conversation stops the round instead, as the server is then likely to refuse the rest too."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused | aiosmtplib.SMTPNotSupported | ValueError):
        return True  # a refused recipient, an SMTPUTF8 address this server cannot take, an unsafe address
    return isinstance(error, aiosmtplib.SMTPResponseException) and error.code >= 500


async def _send_from(smtp: aiosmtplib.SMTP, work: _Round) -> None:
    """Send queued messages over one connection until the queue is empty or the round stops."""
    while work.queue and work.broken is None:
        item = work.queue.popleft()
        try:
            await _send_one(smtp, work, *item)
        except asyncio.CancelledError:
            work.queue.appendleft(item)  # released with the rest (it may have gone: mail is at-least-once)
            raise


async def _send_one(smtp: aiosmtplib.SMTP, work: _Round, message: OutboxMessage,
                    attachments: list[OutboxAttachment]) -> None:
    message_id = message.id or 0
    try:
        recipient, data = render(message, attachments, work.settings)
    except Exception as error:  # data the email package refuses: this message fails alone
        work.recorder.failed(message_id, f'cannot build the email: {error}')
        return
    await work.recorder.room()
    await work.pace.wait()
    # UTF-8 headers need SMTPUTF8 (a server offering it takes 8BITMIME too); bodies are 7-bit anyway.
    options = [] if (work.sender + recipient).isascii() else ['SMTPUTF8', 'BODY=8BITMIME']
    try:
        await smtp.sendmail(work.sender, [recipient], data, mail_options=options)
    except Exception as error:  # whatever broke, the message is recorded, never lost
        if _refused(error):
            work.recorder.failed(message_id, str(error))
        else:
            work.broken = work.broken or f'SMTP error: {error}'
            work.recorder.failed(message_id, work.broken)
        return
    work.recorder.sent(message_id)
    if work.recorder.error is not None:
        work.broken = work.broken or 'the outbox could not be updated'


async def _connect(settings: Settings, count: int) -> tuple[list[aiosmtplib.SMTP], str | None]:
    """Open up to `count` connections; the ones that fail are logged. Returns them and the first error."""
    async def connect() -> aiosmtplib.SMTP:
        smtp = aiosmtplib.SMTP(hostname=settings.smtp_host, port=settings.smtp_port, timeout=30,
                               use_tls=settings.smtp_tls and settings.smtp_port == 465,
                               start_tls=settings.smtp_tls and settings.smtp_port != 465)
        try:
            await smtp.connect()
            if settings.smtp_username:
                await smtp.login(settings.smtp_username, settings.smtp_password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    results = await asyncio.gather(*(connect() for _ in range(count)), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    for error in errors:
        if not isinstance(error, Exception):
            raise error
        log.warning('SMTP server unavailable: %s', error)
    return [r for r in results if isinstance(r, aiosmtplib.SMTP)], str(errors[0]) if errors else None


async def _quit(smtp: aiosmtplib.SMTP) -> None:
    try:
        await smtp.quit()
    except (aiosmtplib.SMTPException, OSError):
        smtp.close()


async def deliver_due(settings: Settings | None = None, *, limit: int | None = None) -> int:
    """Send every due message (or at most `limit`) over `smtp_connections` connections kept open for the whole
    call, sharing the rate cap; the next batch is claimed, and deliveries recorded, while sending goes on.
    Returns how many were sent. Every claimed message ends sent, pending with back-off, or failed; a broken
    connection ends the call and the rest waits for the next one."""
    settings = settings or get_settings()
    if not settings.smtp_configured:
        return 0
    work = _Round(settings=settings, sender=_envelope_sender(settings.mail_from),
                  pace=_Pace(settings.mail_rate_per_second), recorder=_Recorder())
    claims = _Claims(limit)
    work.queue.extend(await claims.take())
    if not work.queue:
        return 0
    connections: list[aiosmtplib.SMTP] = []
    try:
        connections, error = await _connect(settings, min(settings.smtp_connections, len(work.queue)))
        if not connections:
            work.broken = f'SMTP unavailable: {error}'
        while work.queue and work.broken is None:
            claims.claim_next()  # read while this batch goes out
            await asyncio.gather(*(_send_from(smtp, work) for smtp in connections))
            if work.broken is None:
                work.queue.extend(await claims.take())
    finally:
        # Claimed and not sent (a broken connection, or the call cancelled): back to pending with back-off.
        rest = [*work.queue, *await claims.drop()]
        work.queue.clear()
        for message, _ in rest:
            work.recorder.failed(message.id or 0, work.broken or 'sending stopped')
        try:
            await work.recorder.flush()
        finally:
            await asyncio.gather(*(_quit(smtp) for smtp in connections))
    return work.recorder.delivered


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
