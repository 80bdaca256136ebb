"""One mail service: messages go into the outbox table inside the caller's transaction, and a
background sender delivers them over SMTP (aiosmtplib), retrying with back-off while the server
is down. With no SMTP host configured they stay in the outbox, where state admins can read them.
Any number of senders (one per worker or app instance) share the outbox: each claims messages for a lease it
renews while it works, records each delivery before its connection sends the next message, and takes its turn
in one rate cap for all of them (Redis, or the database)."""
from __future__ import annotations

import asyncio
import binascii
import logging
import os
import re
import socket
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import formatdate
from functools import lru_cache
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, text, update
from sqlmodel import Session, col, select

from models import OutboxAttachment, OutboxMessage, utcnow
from services.core.db import is_postgres, session_scope
from services.core.jobs import repeat
from services.core.settings import Settings, get_settings

if TYPE_CHECKING:
    import aiosmtplib  # imported where mail is rendered or sent: it costs every command-line start 0.1 s

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 25  # about a day of back-off before a message is marked failed
BATCH_SIZE = 200  # claimed per transaction; the next batch is claimed while this one is sent


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes
    content_type: str = 'text/csv'


# A password link's token is kept apart from the body (OutboxMessage.secret) and put back only when the email is
# rendered for sending; it is erased when the message is sent or given up, so neither the Outbox page nor the
# database holds a usable link after delivery (issue 12). The body keeps the link with this in the token's place.
SECRET_SLOT = '[hidden]'
_SECRET_LINK = re.compile(r'(?<=/set-password/)[A-Za-z0-9_-]{16,}')


def without_secret(body: str) -> tuple[str, str | None]:
    """(the body with its password link's token replaced by SECRET_SLOT, the token or None)."""
    match = _SECRET_LINK.search(body)
    if match is None:
        return body, None
    return _SECRET_LINK.sub(SECRET_SLOT, body), match.group(0)


def body_as_sent(message: OutboxMessage) -> str:
    """The plain-text body the email carries: the stored body with its secret link put back while it is kept."""
    if not message.secret:
        return message.body_text
    return message.body_text.replace(SECRET_SLOT, message.secret)


def enqueue(session: Session, *, to: str, subject: str, body_text: str, body_html: str | None = None,
            attachments: list[Attachment] | None = None, dedupe_key: str | None = None) -> OutboxMessage | None:
    """Queue a message in the caller's unit of work. With a dedupe_key already queued, nothing is added.
    A set-password link in body_text is stored apart (see SECRET_SLOT); HTML bodies carry no secret links."""
    if dedupe_key is not None:
        existing = session.exec(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)).first()
        if existing is not None:
            return None
    body_text, secret = without_secret(body_text)
    message = OutboxMessage(to_addr=to, subject=subject, body_text=body_text, body_html=body_html,
                            dedupe_key=dedupe_key, secret=secret)
    session.add(message)
    if attachments:
        session.flush()
        for attachment in attachments:
            session.add(OutboxAttachment(message_id=message.id, filename=attachment.filename,
                                         content_type=attachment.content_type, data=attachment.data))
    return message


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 3600))


def _claim_due(limit: int, owner: str) -> list[tuple[OutboxMessage, list[OutboxAttachment]]]:
    """Claim up to `limit` due messages for `owner` (status 'sending', for the lease) and load them with their
    attachments. Due: pending and past their back-off, or claimed by a sender whose claim expired (it died)."""
    now = utcnow()
    with session_scope() as session:
        query = (select(OutboxMessage.id).where(
            ((col(OutboxMessage.status) == 'pending') & (col(OutboxMessage.next_attempt_at) <= now))
            | ((col(OutboxMessage.status) == 'sending') & (col(OutboxMessage.claimed_until) < now)))
            .order_by(OutboxMessage.id).limit(limit))
        if is_postgres():
            query = query.with_for_update(skip_locked=True)  # several senders claim at once
        ids = list(session.exec(query))
        if not ids:
            return []
        session.execute(update(OutboxMessage).where(col(OutboxMessage.id).in_(ids)).values(
            status='sending', claimed_by=owner, claimed_until=now + _lease()))
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
    email['Message-ID'] = message_id(message)
    email.set_content(body_as_sent(message))
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
    from aiosmtplib.email import parse_address

    to = message.to_addr
    bare = _BARE_ADDRESS.fullmatch(to) is not None
    recipient = to if bare else parse_address(to)
    utf8 = not recipient.isascii()
    if attachments or message.body_html:
        policy = (SMTPUTF8 if utf8 else SMTP).clone(cte_type='7bit')
        return recipient, build_email(message, attachments, settings).as_bytes(policy=policy)
    sender = _envelope_sender(settings.mail_from)
    cte, body = _text_body(body_as_sent(message))
    return recipient, b''.join((
        _folded('From', settings.mail_from, utf8=not sender.isascii()),
        f'To: {to}\r\n'.encode() if bare else _folded('To', to, utf8=utf8),
        _folded('Subject', message.subject),
        f'Date: {formatdate(usegmt=True)}\r\nMessage-ID: {message_id(message)}\r\nMIME-Version: 1.0\r\n'
        f'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n\r\n'.encode(),
        body))


# An addr-spec with nothing to quote or encode (ASCII or UTF-8), written into To as it is.
_BARE_ADDRESS = re.compile(r'[^\s"(),:;<>@\[\\\]\x00-\x1f\x7f]+@[^\s"(),:;<>@\[\\\]\x00-\x1f\x7f]+')


@lru_cache(maxsize=8)
def _envelope_sender(mail_from: str) -> str:
    """The address in mail_from."""
    from aiosmtplib.email import parse_address

    return parse_address(mail_from)


def message_id(message: OutboxMessage) -> str:
    """The Message-ID of an outbox row: the same on every attempt, so a receiving server can drop a resend (a
    sender killed between the server's acceptance and its record of it sends that one message again)."""
    created = message.created_at
    created = created.astimezone(UTC) if created.tzinfo else created  # SQLite gives it back naive, in UTC
    return f'<outbox-{message.id}.{created:%Y%m%d%H%M%S%f}@cvms>'


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


def _lease() -> timedelta:
    return timedelta(seconds=get_settings().job_lease_seconds)


def _record(sent: list[int], failed: list[tuple[int, str]], owner: str) -> None:
    """Deliveries (one statement) and failed attempts (back-off, or `failed` after MAX_ATTEMPTS), one commit.
    A failure is recorded only while this sender still holds the claim (else another sender has the message)."""
    with session_scope() as session:
        if is_postgres():
            # The commit returns without waiting for the disk: a killed sender loses nothing (the server has the
            # record); only a crash of the database server itself could forget the last few and resend them.
            session.execute(text('SET LOCAL synchronous_commit = off'))
        if sent:
            session.connection().execute(_MARK_SENT, {'ids': sent, 'now': utcnow()})
        errors = dict(failed)
        if not errors:
            return
        for message in session.exec(select(OutboxMessage).where(col(OutboxMessage.id).in_(errors))
                                    .where(OutboxMessage.claimed_by == owner)):
            message.attempts += 1
            message.last_error = errors[message.id or 0][:1000]
            if message.attempts >= MAX_ATTEMPTS:
                message.status, message.secret = 'failed', None  # given up: the link goes with it
            else:
                message.status, message.next_attempt_at = 'pending', utcnow() + backoff(message.attempts)
            message.claimed_by = message.claimed_until = None
            session.add(message)


# Built once: a delivery is recorded before its connection sends again, so this statement's cost is on the send path.
_OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
_MARK_SENT = update(_OUTBOX).where(_OUTBOX.c.id.in_(bindparam('ids', expanding=True))).values(
    status='sent', sent_at=bindparam('now'), last_error=None, attempts=_OUTBOX.c.attempts + 1, claimed_by=None,
    claimed_until=None, secret=None)  # the link is in the recipient's mailbox now, and nowhere here


def _renew(owner: str) -> None:
    """Extend this sender's claims: it is alive."""
    with session_scope() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.claimed_by == owner)
                        .where(OutboxMessage.status == 'sending').values(claimed_until=utcnow() + _lease()))


class _Recorder:
    """Writes outcomes from a thread while other connections go on sending. A delivery is committed before its
    connection sends the next message, so a sender killed at any moment resends at most one message per
    connection; deliveries that arrive while a write is under way go together in the next one."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.delivered = 0
        self.error: Exception | None = None  # a failed write: the round stops, deliver_due raises it
        self._sent: list[int] = []
        self._failed: list[tuple[int, str]] = []
        self._waiting: list[asyncio.Future[None]] = []
        self._writer: asyncio.Task[None] | None = None

    async def sent(self, message_id: int) -> None:
        """Record a delivery; returns once it is committed (or the write failed: see `error`)."""
        self.delivered += 1
        recorded = asyncio.get_running_loop().create_future()
        self._sent.append(message_id)
        self._waiting.append(recorded)
        self._start()
        await asyncio.shield(recorded)

    def failed(self, message_id: int, error: str) -> None:
        self._failed.append((message_id, error))
        self._start()

    async def flush(self) -> None:
        """Write everything left (the end of a round); raise a write that failed."""
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)
        if self.error is None and (self._sent or self._failed):
            await self._write()
        if self.error is not None:
            raise self.error

    def _start(self) -> None:
        if self.error is None and (self._writer is None or self._writer.done()):
            self._writer = asyncio.create_task(self._write())

    async def _write(self) -> None:
        while (self._sent or self._failed) and self.error is None:
            sent, failed, waiting = self._sent, self._failed, self._waiting
            self._sent, self._failed, self._waiting = [], [], []
            try:
                await asyncio.to_thread(_record, sent, failed, self.owner)
            except Exception as error:  # kept, and raised by flush() once the connections stop
                self.error = error
            for recorded in waiting:
                recorded.set_result(None)


class _Pace:
    """The configured cap (messages per second) as one schedule for every sender of every instance: each send
    takes the next free slot before it waits, so time spent sending counts towards the cap and neither
    connections nor instances add up. The schedule lives in Redis (CVMS_REDIS_URL) or the database."""

    def __init__(self, settings: Settings) -> None:
        rate = settings.mail_rate_per_second
        self.interval = 1 / rate if rate > 0 else 0.0
        self._redis = _redis_pace(settings.redis_url) if self.interval and settings.redis_url else None

    async def wait(self) -> None:
        if not self.interval:
            return
        if self._redis is not None:
            delay = float(await self._redis(keys=[_PACE_KEY], args=[self.interval]))
        else:
            delay = await asyncio.to_thread(_next_slot_in_database, self.interval)
        if delay > 0:
            await asyncio.sleep(delay)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.registered_client.aclose()


# Taken atomically on the Redis server, with its clock: the delay until this sender's slot.
_PACE_SCRIPT = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local slot = math.max(t, tonumber(redis.call('GET', KEYS[1]) or '0'))
redis.call('SET', KEYS[1], string.format('%.6f', slot + tonumber(ARGV[1])), 'PX', 60000)
return string.format('%.6f', slot - t)
"""
_PACE_KEY = os.environ.get('NICEGUI_REDIS_KEY_PREFIX', 'nicegui:') + 'cvms:mail-pace'


def _redis_pace(url: str):  # noqa: ANN202 - a redis Script
    import redis.asyncio
    return redis.asyncio.Redis.from_url(url).register_script(_PACE_SCRIPT)


def _next_slot_in_database(interval: float) -> float:
    """Take the next free slot from the mailpace row (locked for this short unit of work, by the database's
    clock); returns the delay until it."""
    with session_scope() as session:
        statement = _NEXT_SLOT['postgresql' if is_postgres() else 'sqlite']
        return float(session.execute(text(statement), {'interval': interval}).scalar_one())


_NEXT_SLOT = {
    'postgresql': 'INSERT INTO mailpace (id, next_at) VALUES (1, extract(epoch FROM clock_timestamp()) + :interval) '
                  'ON CONFLICT (id) DO UPDATE SET next_at = greatest(mailpace.next_at, '
                  'extract(epoch FROM clock_timestamp())) + :interval '
                  'RETURNING next_at - :interval - extract(epoch FROM clock_timestamp())',
    'sqlite': "INSERT INTO mailpace (id, next_at) VALUES (1, (julianday('now') - 2440587.5) * 86400.0 + :interval) "
              "ON CONFLICT (id) DO UPDATE SET next_at = max(mailpace.next_at, "
              "(julianday('now') - 2440587.5) * 86400.0) + :interval "
              "RETURNING next_at - :interval - (julianday('now') - 2440587.5) * 86400.0",
}


class _Claims:
    """Batches of due messages claimed in a thread, the next one while the current one is being sent, and never
    more in all than `limit`."""

    def __init__(self, limit: int | None, owner: str) -> None:
        self.left = limit
        self.owner = owner
        self._ahead: asyncio.Task[list[tuple[OutboxMessage, list[OutboxAttachment]]]] | None = None

    def claim_next(self) -> None:
        size = BATCH_SIZE if self.left is None else min(BATCH_SIZE, self.left)
        if self._ahead is None and size > 0:
            self._ahead = asyncio.create_task(asyncio.to_thread(_claim_due, size, self.owner))

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
    import aiosmtplib

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
            # Released with the rest (it may have gone: mail is at-least-once). Had it been delivered, its
            # delivery is recorded first and the release no longer applies (the claim is gone with it).
            work.queue.appendleft(item)
            raise


async def _send_one(smtp: aiosmtplib.SMTP, work: _Round, message: OutboxMessage,
                    attachments: list[OutboxAttachment]) -> None:
    message_id = message.id or 0
    try:
        recipient, data = render(message, attachments, work.settings)
    except Exception as error:  # data the email package refuses: this message fails alone
        work.recorder.failed(message_id, f'cannot build the email: {error}')
        return
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
    await work.recorder.sent(message_id)  # before this connection sends anything else
    if work.recorder.error is not None:
        work.broken = work.broken or 'the outbox could not be updated'


async def _connect(settings: Settings, count: int) -> tuple[list[aiosmtplib.SMTP], str | None]:
    """Open up to `count` connections; the ones that fail are logged. Returns them and the first error."""
    import aiosmtplib

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
    import aiosmtplib

    try:
        await smtp.quit()
    except (aiosmtplib.SMTPException, OSError):
        smtp.close()


async def deliver_due(settings: Settings | None = None, *, limit: int | None = None) -> int:
    """Send every due message (or at most `limit`) over `smtp_connections` connections kept open for the whole
    call, sharing the rate cap; the next batch is claimed, and deliveries recorded, while sending goes on.
    Returns how many were sent. Every claimed message ends sent, pending with back-off, or failed; a broken
    connection ends the call and the rest waits for the next one. The claims are renewed while the call runs:
    if this process dies they expire after CVMS_JOB_LEASE_SECONDS and another sender takes them."""
    settings = settings or get_settings()
    if not settings.smtp_configured:
        return 0
    owner = f'{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}'
    claims = _Claims(limit, owner)
    first = await claims.take()
    if not first:
        return 0
    work = _Round(settings=settings, sender=_envelope_sender(settings.mail_from), pace=_Pace(settings),
                  recorder=_Recorder(owner), queue=deque(first))
    connections: list[aiosmtplib.SMTP] = []
    renewing = asyncio.create_task(_keep_renewing(owner))
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
            renewing.cancel()
            await asyncio.gather(*(_quit(smtp) for smtp in connections), work.pace.close())
    return work.recorder.delivered


async def _keep_renewing(owner: str) -> None:
    every = get_settings().job_lease_seconds / 3
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(_renew, owner)
        except Exception:  # noqa: BLE001 - the next renewal tries again; the claims last a lease
            log.warning('could not renew the outbox claims of %s', owner, exc_info=True)


async def run_sender(stop: asyncio.Event, *, interval: float = 2.0) -> None:
    """The background sender: delivers due messages until `stop` is set. Nothing is reset when it starts: other
    senders may be at work; claims of a sender that died expire and are taken over by deliver_due."""
    await repeat(stop, deliver_due, interval=interval, name='mail sender')
