"""Password links are not readable after delivery (issue 12 item 5): the outbox keeps a link's token apart from
the body and erases it once the email is sent, for single emails and bulk welcome emails alike."""
from __future__ import annotations

import re
from datetime import date

from sqlmodel import select

from models import OutboxMessage
from services.accounts import auth
from services.accounts.staff import create_user
from services.core import mail, outbox
from services.core.db import session_scope
from tests.conftest import body_of
from tests.factories import ADMIN, MANAGER, invited_by_employer, principal

TOKEN = re.compile(r'/set-password/([A-Za-z0-9_-]+)')


def rows() -> list[OutboxMessage]:
    with session_scope(read_only=True) as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)))


async def test_password_links_are_sent_and_then_kept_nowhere(demo, smtp_server) -> None:
    auth.request_password_reset(email=MANAGER)
    invited_by_employer([('Ana', 'Linkova', date(1990, 1, 2), 'ana.linkova@example.org')])  # a bulk welcome email
    with session_scope() as session:
        create_user(session, email='new.staff@example.org', role='state_admin')
    waiting = [m for m in rows() if m.secret]
    assert {m.to_addr for m in waiting} >= {MANAGER, 'ana.linkova@example.org', 'new.staff@example.org'}
    for message in waiting:  # before sending: the body already holds no token
        assert message.secret not in message.body_text and f'/set-password/{mail.SECRET_SLOT}' in message.body_text

    assert await mail.deliver_due() == len(rows())
    sent_tokens = []
    for message in waiting:
        [email] = [e for e in smtp_server.to(message.to_addr) if e['Message-ID'] == mail.message_id(message)]
        [token, *_] = TOKEN.findall(body_of(email))
        assert auth.check_token(token)[1] == message.to_addr  # the link that arrived works
        sent_tokens.append(token)

    admin = principal(ADMIN)
    shown = ' '.join(m.body_text for m in whole_outbox(admin))
    for message in rows():
        assert message.status == 'sent' and message.secret is None
        stored = ' '.join(str(v) for v in message.model_dump().values())
        assert not any(token in stored for token in sent_tokens)
    assert not any(token in shown for token in sent_tokens)  # the Outbox page's text
    assert f'/set-password/{mail.SECRET_SLOT}' in shown


def whole_outbox(admin):  # noqa: ANN001, ANN201 - every page of the Outbox screen's list
    rows, cursor = [], None
    while True:
        page = outbox.list_outbox(principal=admin, per_page=100, before_id=cursor)
        rows += page.rows
        if page.older is None:
            return rows
        cursor = page.older


def test_without_smtp_the_outbox_shows_the_link_until_it_is_sent(demo) -> None:
    auth.request_password_reset(email=MANAGER)
    [message] = [m for m in whole_outbox(principal(ADMIN)) if m.to_addr == MANAGER]
    token = TOKEN.search(message.body_text).group(1)
    assert auth.check_token(token)[0] == 'reset'  # the demo's only way to the link
