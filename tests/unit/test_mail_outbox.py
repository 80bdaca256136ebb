"""The outbox: messages written with the change that causes them, delivered over real SMTP (aiosmtpd),
kept and retried with back-off while the server is down, never sent twice."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from models import OutboxMessage, utcnow
from services.core import mail, outbox
from services.core.db import session_scope
from services.core.errors import NotAllowed
from services.principal import Principal
from tests.conftest import body_of


def queue(n: int, **extra) -> None:
    with session_scope() as session:
        for i in range(n):
            mail.enqueue(session, to=f'person{i}@example.org', subject=f'Message {i}', body_text=f'Body {i}', **extra)


def statuses() -> list[tuple[str, int]]:
    with session_scope() as session:
        return [(m.status, m.attempts) for m in session.exec(select(OutboxMessage).order_by(OutboxMessage.id))]


def make_due_now() -> None:
    with session_scope() as session:
        session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))


async def test_messages_wait_while_smtp_is_down_and_go_out_once_it_is_back(db, smtp_server) -> None:
    queue(3)
    smtp_server.stop()
    assert await mail.deliver_due() == 0
    assert statuses() == [('pending', 1)] * 3  # kept, with one failed attempt each
    with session_scope() as session:
        first = session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).first()
    assert 'SMTP unavailable' in first.last_error
    assert first.next_attempt_at > utcnow() + timedelta(seconds=3)  # backed off

    smtp_server.start()
    assert await mail.deliver_due() == 0  # not due yet: back-off is respected
    make_due_now()
    assert await mail.deliver_due() == 3
    assert statuses() == [('sent', 2)] * 3
    assert sorted(m['Subject'] for m in smtp_server.messages) == ['Message 0', 'Message 1', 'Message 2']

    make_due_now()
    assert await mail.deliver_due() == 0  # nothing is sent twice
    assert len(smtp_server.messages) == 3


async def test_body_and_attachment_arrive_intact(db, smtp_server) -> None:
    with session_scope() as session:
        mail.enqueue(session, to='lm@example.org', subject='Bulk Employee Upload - Failure', body_text='Ünïcode body',
                     attachments=[mail.Attachment('BulkError.csv', b'FirstName,Error\r\nA,Line 2: x\r\n')])
    assert await mail.deliver_due() == 1
    [message] = smtp_server.to('lm@example.org')
    assert body_of(message).strip() == 'Ünïcode body'
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == 'BulkError.csv'
    assert attachment.get_content() in ('FirstName,Error\r\nA,Line 2: x\r\n', b'FirstName,Error\r\nA,Line 2: x\r\n')


def test_a_dedupe_key_queues_a_message_only_once(db) -> None:
    queue(1, dedupe_key='welcome:recipient:1')
    queue(1, dedupe_key='welcome:recipient:1')
    assert len(statuses()) == 1


def test_a_rolled_back_change_sends_nothing(db) -> None:
    with pytest.raises(RuntimeError), session_scope() as session:
        mail.enqueue(session, to='x@example.org', subject='s', body_text='b')
        raise RuntimeError('the change failed')
    assert statuses() == []


async def test_only_claims_of_a_sender_that_went_silent_are_taken_over(db, smtp_server) -> None:
    """Nothing resets claims at start-up: a message another sender holds is left alone while its claim lasts
    (that sender renews it while alive), and taken over once the claim has expired (that sender died)."""
    queue(2)
    with session_scope() as session:
        session.execute(update(OutboxMessage).where(col(OutboxMessage.id) == 1).values(
            status='sending', claimed_by='other-instance:123', claimed_until=utcnow() + timedelta(seconds=30)))
    assert await mail.deliver_due() == 1
    assert [m['Subject'] for m in smtp_server.messages] == ['Message 1']
    with session_scope() as session:
        session.execute(update(OutboxMessage).where(col(OutboxMessage.id) == 1).values(
            claimed_until=utcnow() - timedelta(seconds=1)))
    assert await mail.deliver_due() == 1
    assert sorted(m['Subject'] for m in smtp_server.messages) == ['Message 0', 'Message 1']
    assert statuses() == [('sent', 1), ('sent', 1)]


async def test_a_message_keeps_its_message_id_on_every_attempt(db, smtp_server) -> None:
    """A receiving server can drop a resend only if it carries the same Message-ID."""
    queue(1)
    smtp_server.stop()
    assert await mail.deliver_due() == 0  # refused: back-off, tried again later
    smtp_server.start()
    make_due_now()
    assert await mail.deliver_due() == 1
    with session_scope() as session:
        message = session.exec(select(OutboxMessage)).one()
    [received] = smtp_server.messages
    assert statuses() == [('sent', 2)]
    # Built from the row alone, as any instance's sender builds it on any attempt.
    assert received['Message-ID'] == mail.message_id(message) and received['Message-ID'].startswith('<outbox-1.')


async def test_without_smtp_messages_stay_for_the_outbox_page(db) -> None:
    queue(2)
    assert await mail.deliver_due() == 0
    admin = Principal(user_id=1, email='a@example.org', role='state_admin')
    assert [m.subject for m in outbox.list_outbox(principal=admin).rows] == ['Message 1', 'Message 0']
    with pytest.raises(NotAllowed):
        outbox.list_outbox(principal=Principal(user_id=2, email='p@example.org', role='healthcare_provider'))


def test_backoff_grows_and_is_capped() -> None:
    assert [mail.backoff(n).total_seconds() for n in (1, 2, 3)] == [5, 10, 20]
    assert mail.backoff(30) == timedelta(hours=1)
