"""The outbox's SMTP sender against a real aiosmtpd on 127.0.0.1 that notes which connection brought each message:
connections kept open across batches, one rate cap shared by several connections, deliveries recorded while
sending goes on, and nothing lost or sent twice when a connection breaks or the server refuses a message."""
from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, update
from sqlmodel import select

from models import MailPace, OutboxMessage, utcnow
from services.core import mail
from services.core.db import session_scope
from services.core.settings import Settings, get_settings
from tests.conftest import body_of, free_port

REDIS_URL = os.environ.get('CVMS_TEST_REDIS_URL', '')


class Server:
    """A real SMTP server that keeps each message with the connection (client address) it came over. It can drop
    the connection at the n-th MAIL command, refuse chosen recipients or subjects, and watch the outbox."""

    def __init__(self, **smtp_parameters: object) -> None:
        self.port = free_port()
        self.received: list[tuple[tuple[str, int], EmailMessage, float, list[str], str]] = []
        self.mail_commands = 0
        self.drop_at_mail: int | None = None
        self.refuse_recipients: set[str] = set()
        self.reject_subjects: set[str] = set()
        self.on_data = None  # called with the number of messages received before this one
        self._controller = Controller(self, hostname='127.0.0.1', port=self.port, **smtp_parameters)
        self._controller.start()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: ANN001, N802
        self.mail_commands += 1
        if self.mail_commands == self.drop_at_mail:
            server.transport.close()  # the connection breaks, as when a server or network goes away
            return '421 closing'
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return '250 OK'

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, N802
        if address in self.refuse_recipients:
            return '550 5.1.1 no such user'
        envelope.rcpt_tos.append(address)
        return '250 OK'

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        if str(message['Subject']) in self.reject_subjects:
            return '554 5.6.0 message content rejected'
        if self.on_data is not None:
            self.on_data(len(self.received))
        self.received.append((session.peer, message, time.monotonic(), envelope.rcpt_tos, envelope.mail_from))
        return '250 OK'

    def stop(self) -> None:
        self._controller.stop()

    @property
    def connections(self) -> int:
        return len({peer for peer, *_ in self.received})

    @property
    def subjects(self) -> list[str]:
        return [str(message['Subject']) for _, message, *_ in self.received]


@pytest.fixture
def server():  # noqa: ANN201
    server = Server()
    yield server
    server.stop()


def settings_for(server: Server, *, connections: int = 1, rate: float = 0.0) -> Settings:
    return get_settings().model_copy(update={'smtp_host': '127.0.0.1', 'smtp_port': server.port,
                                             'smtp_connections': connections, 'mail_rate_per_second': rate})


def queue(n: int, *, start: int = 0, to: str = 'person{i}@example.org') -> None:
    with session_scope() as session:
        for i in range(start, start + n):
            mail.enqueue(session, to=to.format(i=i), subject=f'Message {i}', body_text=f'Body {i}')


def outcomes() -> dict[str, tuple[str, int]]:
    with session_scope() as session:
        return {m.subject: (m.status, m.attempts) for m in session.exec(select(OutboxMessage))}


def make_due_now() -> None:
    with session_scope() as session:
        session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))


@pytest.mark.parametrize('connections', [1, 2])
async def test_connections_stay_open_across_batches_and_nothing_goes_twice(db, server, monkeypatch,
                                                                           connections) -> None:
    monkeypatch.setattr(mail, 'BATCH_SIZE', 10)
    queue(35)
    assert await mail.deliver_due(settings_for(server, connections=connections)) == 35
    assert server.connections == connections  # not one per batch of 10
    assert sorted(server.subjects) == sorted(f'Message {i}' for i in range(35))  # each exactly once
    assert set(outcomes().values()) == {('sent', 1)}
    assert await mail.deliver_due(settings_for(server, connections=connections)) == 0
    assert len(server.received) == 35


async def test_a_limit_claims_no_more_than_it_sends(db, server, monkeypatch) -> None:
    monkeypatch.setattr(mail, 'BATCH_SIZE', 10)
    queue(35)
    assert await mail.deliver_due(settings_for(server, connections=2), limit=25) == 25
    assert Counter(outcomes().values()) == {('sent', 1): 25, ('pending', 0): 10}  # the rest was never claimed


async def test_a_connection_broken_mid_batch_keeps_what_went_and_releases_the_rest(db, server, monkeypatch) -> None:
    monkeypatch.setattr(mail, 'BATCH_SIZE', 10)
    queue(30)
    server.drop_at_mail = 15
    assert await mail.deliver_due(settings_for(server)) == 14
    assert server.subjects == [f'Message {i}' for i in range(14)]
    after = outcomes()
    assert [after[f'Message {i}'] for i in range(14)] == [('sent', 1)] * 14  # recorded despite the break
    assert [after[f'Message {i}'] for i in range(14, 30)] == [('pending', 1)] * 16  # this batch and the one ahead
    with session_scope() as session:
        broken = session.exec(select(OutboxMessage).where(OutboxMessage.subject == 'Message 14')).one()
    assert broken.last_error.startswith('SMTP error')
    assert broken.next_attempt_at > utcnow()  # backed off

    server.drop_at_mail = None
    make_due_now()
    assert await mail.deliver_due(settings_for(server)) == 16
    assert sorted(server.subjects) == sorted(f'Message {i}' for i in range(30))  # none twice
    assert Counter(outcomes().values()) == {('sent', 1): 14, ('sent', 2): 16}


async def test_with_two_connections_a_break_loses_nothing_and_sends_nothing_twice(db, server, monkeypatch) -> None:
    monkeypatch.setattr(mail, 'BATCH_SIZE', 10)
    queue(40)
    server.drop_at_mail = 17
    sent = await mail.deliver_due(settings_for(server, connections=2))
    after = outcomes()
    delivered = {subject for subject, (status, _) in after.items() if status == 'sent'}
    assert sent == len(delivered) == len(server.received) and set(server.subjects) == delivered
    assert {status for status, _ in after.values()} <= {'sent', 'pending'}  # nothing left 'sending'

    server.drop_at_mail = None
    make_due_now()
    await mail.deliver_due(settings_for(server, connections=2))
    assert sorted(server.subjects) == sorted(f'Message {i}' for i in range(40))
    assert {status for status, _ in outcomes().values()} == {'sent'}


async def test_one_cap_is_shared_by_all_connections(db, server) -> None:
    queue(30)
    started = time.monotonic()
    assert await mail.deliver_due(settings_for(server, connections=3, rate=20)) == 30
    assert time.monotonic() - started >= 29 / 20 - 0.05  # 20/s in all, not 20/s per connection
    assert server.connections == 3
    arrivals = sorted(at for _, _, at, *_ in server.received)
    assert min(b - a for a, b in zip(arrivals, arrivals[20:], strict=False)) > 0.8  # no second has much over 20


async def test_a_sender_stopped_midway_leaves_nothing_claimed(db, server, monkeypatch) -> None:
    monkeypatch.setattr(mail, 'BATCH_SIZE', 10)
    queue(30)
    sending = asyncio.create_task(mail.deliver_due(settings_for(server, rate=40)))
    await asyncio.sleep(0.4)
    sending.cancel()  # as at the app's shutdown
    with pytest.raises(asyncio.CancelledError):
        await sending
    after = outcomes()
    delivered = {subject for subject, (status, _) in after.items() if status == 'sent'}
    assert 0 < len(delivered) < 30
    assert {status for status, _ in after.values()} == {'sent', 'pending'}  # none stuck in 'sending'
    assert delivered <= set(server.subjects) and len(set(server.subjects) - delivered) <= 1  # at most the one cut off


@pytest.mark.parametrize('connections', [1, 2])
async def test_each_delivery_is_recorded_before_its_connection_sends_the_next(db, server, connections) -> None:
    """A sender killed at any moment resends at most one message per connection: when a message arrives, every
    earlier one is recorded as sent except those still in flight on the other connections."""
    queue(80)
    gaps: list[int] = []

    def count_recorded(received_before: int) -> None:
        with session_scope() as session:
            recorded = session.exec(select(func.count()).where(OutboxMessage.status == 'sent')).one()
        gaps.append(received_before - recorded)

    server.on_data = count_recorded
    assert await mail.deliver_due(settings_for(server, connections=connections)) == 80
    assert max(gaps) < connections


async def test_one_cap_holds_for_several_senders_together(db, server, monkeypatch) -> None:
    """Two senders (as in two instances; nothing in this process is shared between them) keep one cap in all,
    through the database, or Redis when one is configured."""
    queue(30)
    started = time.monotonic()
    both = await asyncio.gather(*(mail.deliver_due(settings_for(server, rate=20), limit=15) for _ in range(2)))
    assert sum(both) == 30
    assert time.monotonic() - started >= 29 / 20 - 0.05  # 20/s in all, not 20/s each
    arrivals = sorted(at for _, _, at, *_ in server.received)
    assert min(b - a for a, b in zip(arrivals, arrivals[20:], strict=False)) > 0.8


async def test_one_cap_for_several_senders_through_redis(db, server, monkeypatch) -> None:
    if not REDIS_URL:
        pytest.skip('set CVMS_TEST_REDIS_URL (.ci/run does) to test the cap through Redis')
    import redis
    monkeypatch.setattr(mail, '_PACE_KEY', f'cvms-test-{uuid.uuid4().hex[:8]}:mail-pace')
    queue(30)
    settings = settings_for(server, rate=20).model_copy(update={'redis_url': REDIS_URL})
    started = time.monotonic()
    both = await asyncio.gather(*(mail.deliver_due(settings, limit=15) for _ in range(2)))
    assert sum(both) == 30 and time.monotonic() - started >= 29 / 20 - 0.05
    assert redis.Redis.from_url(REDIS_URL).get(mail._PACE_KEY) is not None  # the schedule was kept there
    with session_scope() as session:
        assert session.exec(select(func.count()).select_from(MailPace)).one() == 0  # not in the database


async def test_a_refused_message_waits_alone_and_the_connection_goes_on(db, server) -> None:
    queue(6)
    with session_scope() as session:
        mail.enqueue(session, to='nobody@example.org', subject='Unknown', body_text='x')
        mail.enqueue(session, to='p@example.org', subject='Rejected', body_text='x')
    queue(4, start=6)
    server.refuse_recipients = {'nobody@example.org'}
    server.reject_subjects = {'Rejected'}
    assert await mail.deliver_due(settings_for(server)) == 10
    assert server.connections == 1
    after = outcomes()
    assert after['Unknown'] == after['Rejected'] == ('pending', 1)
    assert Counter(after.values())[('sent', 1)] == 10


async def test_an_international_address_waits_when_the_server_cannot_take_it(db) -> None:
    server = Server(enable_SMTPUTF8=False)
    try:
        with session_scope() as session:
            mail.enqueue(session, to='zoë@example.org', subject='Accented', body_text='x')
            mail.enqueue(session, to='zoe@example.org', subject='Plain', body_text='x')
        assert await mail.deliver_due(settings_for(server)) == 1
        assert server.subjects == ['Plain']
        assert outcomes()['Accented'] == ('pending', 1)
    finally:
        server.stop()


SPANISH = ('Hola, Zoë:\n\nSu proveedor de vacunas le inscribió en el Portal de Vacunas COVID-19.\n'
           '.Una línea que empieza con punto y otra muy larga: ' + 'ñ' * 1200 + '\nFin con espacio \n')
ENGLISH = 'Hello Ashley,\r\nSet up your password here:\r\nhttp://cvms.test/set-password/abc=def\r\n'


@pytest.mark.parametrize(('to', 'envelope'), [('ashley@example.org', 'ashley@example.org'),
                                              ('zoë@ejemplo.es', 'zoë@ejemplo.es'),
                                              ('José Pérez <jose@example.org>', 'jose@example.org')])
async def test_emails_arrive_intact(db, server, to, envelope) -> None:
    subjects = ['Welcome to the COVID-19 Vaccine Portal', 'Confirme su correo electrónico para el Portal de Vacunas',
                'Bulk Employee Upload - Failure']
    with session_scope() as session:
        mail.enqueue(session, to=to, subject=subjects[0], body_text=ENGLISH)
        mail.enqueue(session, to=to, subject=subjects[1], body_text=SPANISH)
        mail.enqueue(session, to=to, subject=subjects[2], body_text=SPANISH, body_html='<p>Zoë</p>',
                     attachments=[mail.Attachment('BulkError.csv', 'Nombre,Error\r\nZoë,Línea 2\r\n'.encode())])
    assert await mail.deliver_due(settings_for(server)) == 3
    settings = get_settings()
    message_ids = set()
    for (_, message, _, rcpt_tos, mail_from), subject, text in zip(server.received, subjects,
                                                                  [ENGLISH, SPANISH, SPANISH], strict=True):
        assert (rcpt_tos, mail_from) == ([envelope], 'no-reply@cvms.example.org')
        assert str(message['From']) == settings.mail_from
        assert str(message['To']) == to
        assert str(message['Subject']) == subject
        assert parsedate_to_datetime(str(message['Date'])).tzinfo is not None
        assert message['Message-ID'].endswith('@cvms>')
        message_ids.add(str(message['Message-ID']))
        assert body_of(message).replace('\r\n', '\n') == '\n'.join(text.splitlines()) + '\n'  # CRLF: as on the wire
    assert len(message_ids) == 3
    [attachment] = server.received[2][1].iter_attachments()
    assert attachment.get_filename() == 'BulkError.csv'
    assert attachment.get_payload(decode=True) == 'Nombre,Error\r\nZoë,Línea 2\r\n'.encode()
    assert server.received[2][1].get_body(preferencelist=('html',)).get_content().strip() == '<p>Zoë</p>'
