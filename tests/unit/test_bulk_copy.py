"""The bulk inserts' raw path (services.core.fast_sql.insert_rows: COPY on PostgreSQL, executemany on SQLite)
stores awkward text exactly as given: tabs, newlines, backslashes, COPY's own NULL and end markers as text,
empty text apart from NULL, unicode and formula-looking text, in every column and in the per-statement
constants. Then the same through a whole upload: names and emails round-trip into recipients and welcome emails."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlmodel import col, select

from models import OutboxMessage, Recipient, utcnow
from services.accounts.auth import normalize_email
from services.bulk import registration as bulk
from services.core.db import session_scope
from services.core.fast_sql import insert_rows
from tests.factories import MANAGER, principal

AWKWARD = ['tab\there', 'line\nbreak', 'carriage\rreturn\r\n', 'back\\slash\\', '\\N', '\\.', '\\t', 'NULL', '',
           ' lead and trail ', '=1+2', '+SUM(A1)', '-3', '@cmd', '"quoted", it\'s', 'Zoë Nguyễn 李 😀',
           'e\u0301 combining', ',;|\x0b\x0c', '\u2028separator\u00a0']
COLUMNS = ('to_addr', 'subject', 'body_text', 'body_html', 'dedupe_key')


def test_insert_rows_round_trips_awkward_text_and_nulls(db) -> None:
    now = utcnow()
    constant = 'it\'s\t\\N\n=1+2 😀'
    rows = []
    for n, value in enumerate(AWKWARD):
        rows.append((value, value, value, value, f'{n}:{value}'))  # the same text in every column
        rows.append((value, value[::-1], value * 2, None, f'null:{n}:{value}'))  # NULL beside it
    with session_scope() as session:
        insert_rows(session.connection(), OutboxMessage.__table__, COLUMNS, rows,
                    constants={'status': 'pending', 'attempts': 0, 'created_at': now, 'next_attempt_at': now,
                               'last_error': constant})
    with session_scope(read_only=True) as session:
        stored = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
    assert [(m.to_addr, m.subject, m.body_text, m.body_html, m.dedupe_key) for m in stored] == rows
    assert {m.last_error for m in stored} == {constant}
    assert all(abs(m.created_at.replace(tzinfo=now.tzinfo) - now) < timedelta(seconds=1) for m in stored)


def test_an_upload_keeps_names_and_emails_exactly(demo) -> None:
    people = [('Zoë', 'Nguyễn', 'zoe.nguyen@example.com'), ("D'Andre", "O'Neil-Smith", "d'andre+kids@example.com"),
              ('Mary Ann', 'St. John', 'MARY.ANN@Example.COM'), ('José1', 'García', 'jose@exämple.com'),
              ('Renée', 'Müller’s', 'renee@example.com')]
    data = io.StringIO()
    writer = csv.writer(data)
    writer.writerow(['First name', 'Last name', 'Date of birth', 'Email'])
    for first, last, email in people:
        writer.writerow([first, last, '1/2/1980', email])
    manager = principal(MANAGER)
    previewed = bulk.preview(principal=manager, data=data.getvalue().encode(), file_name='awkward.csv')
    assert [r.error for r in previewed.rows if not r.ready] == []
    outcome = bulk.create_records(principal=manager, previewed=previewed)
    assert outcome.loaded == len(people)
    with session_scope(read_only=True) as session:
        stored = {(r.first_name, r.last_name, r.email): r.id for r in session.exec(
            select(Recipient).where(col(Recipient.last_name).in_([p[1] for p in people])))}
        assert set(stored) == set(people)
        for (first, _last, email), recipient_id in stored.items():
            message = session.exec(select(OutboxMessage).where(
                OutboxMessage.dedupe_key == f'welcome:recipient:{recipient_id}')).one()
            assert f'Hello {first},' in message.body_text
            assert message.to_addr == normalize_email(email)


def test_allocated_ids_are_fresh_distinct_and_usable_beside_other_writers(demo) -> None:
    """fast_sql.allocate_ids (PostgreSQL: runs of a sequence's values) between ORM inserts of another unit of work:
    every id is new, none is handed out twice, and the rows go in under them."""
    from models import PortalAccount, Role, User
    from services.core.fast_sql import allocate_ids
    with session_scope() as session:
        first = allocate_ids(session.connection(), User.__table__, 1500)
        insert_rows(session.connection(), User.__table__, ('id', 'email', 'full_name', 'role', 'is_active'),
                    [(i, f'bulk{i}@example.org', 'Bulk', str(Role.RECIPIENT), True) for i in first],
                    constants={'created_at': utcnow()})
    with session_scope() as session:
        other = User(email='between@example.org', full_name='Between', role=Role.RECIPIENT)
        session.add(other)
        session.flush()
        second = allocate_ids(session.connection(), User.__table__, 700)
        assert allocate_ids(session.connection(), PortalAccount.__table__, 0) == []
    assert len(set(first)) == 1500 and len(set(second)) == 700 and first == sorted(first)
    assert not set(first) & set(second) and other.id not in set(first) | set(second)
    assert min(second) > max(first)


def test_bulk_look_ups_find_exactly_the_stored_values_past_one_statement(demo) -> None:
    """fast_sql.fetch_in over more values than one SQLite statement takes (PostgreSQL: one array)."""
    from services.core.fast_sql import fetch_in
    from services.recipients.registry import registered_keys
    with session_scope(read_only=True) as session:
        stored = list(session.exec(select(Recipient.identity_key)))
        asked = stored + [f'nobody|{n}|2000-01-01' for n in range(2500)]
        assert registered_keys(session, asked) == set(stored) and stored
        found = fetch_in(session.connection(), 'SELECT identity_key, id FROM recipient WHERE identity_key IN ({marks})',
                         asked[::-1])
        assert sorted(k for k, _ in found) == sorted(stored)
        assert fetch_in(session.connection(), 'SELECT id FROM recipient WHERE identity_key IN ({marks})', []) == []
