"""The Outbox screen's list (services/core/outbox.py): pages newest first by cursor, and each filter, on SQLite
and PostgreSQL."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert

from models import OutboxMessage
from services.core import outbox
from services.core.db import get_engine
from services.core.localtime import day_span
from services.principal import Principal

ADMIN = Principal(user_id=1, email='a@example.org', role='state_admin')


def seed() -> None:
    """60 emails over three days (20 a day, in time order as the app writes them): three addresses, two subjects,
    every tenth failed."""
    rows = []
    for i in range(60):
        day = date(2026, 11, 20) + timedelta(days=i // 20)
        written = day_span(day)[0] + timedelta(hours=1, minutes=i % 20)
        rows.append({'to_addr': ['grace@example.org', 'grant@example.org', 'jon@other.org'][i % 3],
                     'subject': 'Welcome to the portal' if i % 2 else f'Reminder: dose 2 is due ({i})',
                     'body_text': f'body {i}', 'status': 'failed' if i % 10 == 0 else 'sent',
                     'created_at': written.astimezone(UTC), 'next_attempt_at': datetime.now(UTC)})
    with get_engine().begin() as conn:
        conn.execute(insert(OutboxMessage.__table__), rows)  # type: ignore[attr-defined]


def bodies(page: outbox.OutboxPage) -> list[int]:
    return [int(m.body_text.split()[1]) for m in page.rows]


def test_outbox_pages_newest_first_by_cursor(db) -> None:
    seed()
    first = outbox.list_outbox(principal=ADMIN, per_page=25)
    assert bodies(first) == list(range(59, 34, -1)) and first.older is not None
    second = outbox.list_outbox(principal=ADMIN, per_page=25, before_id=first.older)
    third = outbox.list_outbox(principal=ADMIN, per_page=25, before_id=second.older)
    assert bodies(second) == list(range(34, 9, -1)) and bodies(third) == list(range(9, -1, -1))
    assert third.older is None


def test_outbox_filters_by_recipient_subject_status_and_days(db) -> None:
    seed()
    assert set(m.to_addr for m in outbox.list_outbox(principal=ADMIN, recipient=' GRA ', per_page=100).rows) == {
        'grace@example.org', 'grant@example.org'}
    assert bodies(outbox.list_outbox(principal=ADMIN, recipient='grace@example.org', per_page=100)) == list(
        range(57, -1, -3))
    # The subject from its start, typed in lower case too.
    assert bodies(outbox.list_outbox(principal=ADMIN, subject='welcome', per_page=100)) == list(range(59, 0, -2))
    assert bodies(outbox.list_outbox(principal=ADMIN, status='failed')) == [50, 40, 30, 20, 10, 0]
    assert bodies(outbox.list_outbox(principal=ADMIN, sent_from=date(2026, 11, 21), sent_to=date(2026, 11, 21),
                                     per_page=100)) == list(range(39, 19, -1))
    assert bodies(outbox.list_outbox(principal=ADMIN, sent_from=date(2026, 11, 22), per_page=100)) == list(
        range(59, 39, -1))
    assert outbox.list_outbox(principal=ADMIN, sent_from=date(2026, 12, 1)).rows == []
    assert bodies(outbox.list_outbox(principal=ADMIN, recipient='jon', subject='Reminder', status='failed',
                                     sent_to=date(2026, 11, 21))) == [20]


def test_outbox_broad_and_narrow_beginnings_find_the_same_emails(db, monkeypatch) -> None:  # noqa: ANN001
    """A beginning many emails share is read along the newest emails instead of its index: the same answer."""
    seed()
    narrow = outbox.list_outbox(principal=ADMIN, recipient='gra', subject='Rem', per_page=100)
    monkeypatch.setattr(outbox, 'WINDOW', 30)  # the newest 30 hold more than a page of 5
    broad = outbox.list_outbox(principal=ADMIN, recipient='gra', subject='Rem', per_page=5)
    monkeypatch.setattr(outbox, 'WINDOW', 4)  # too few among the newest: walked on, or the index ranges answer
    bunched = outbox.list_outbox(principal=ADMIN, recipient='gra', subject='Rem', per_page=5)
    expected = [i for i in range(59, -1, -1) if i % 3 != 2 and i % 2 == 0]
    assert bodies(narrow) == expected and bodies(broad) == bodies(bunched) == expected[:5]
    assert outbox.list_outbox(principal=ADMIN, recipient='gra', subject='Rem', per_page=5,
                              before_id=bunched.older).rows[0].body_text == f'body {expected[5]}'


# Which of 200 emails (oldest first) a beginning matches, seen by the cost choice with a window of the newest 10, a
# walk of 40 more and pages of 5 (6 ids read): the plans differ, the answers must not.
SPREADS = {
    'few': (lambda i: i in (3, 150, 199), ['index']),  # fewer than a page: its index range at once
    'common': (lambda i: i % 3 != 2, ['walk']),  # a page among the newest 10: the window answers
    'dense': (lambda i: i % 4 == 0, ['walk', 'walk']),  # 2 there, as dense further on: walked on through 40 more
    'bunched': (lambda i: i < 30, ['walk', 'index']),  # none there: the index range
    'rare': (lambda i: i % 50 == 41 or i < 8, ['walk', 'index']),  # 1 there, too sparse to walk on: the index range
    'topheavy': (lambda i: i in (191, 193, 197) or 5 <= i < 12, ['walk', 'walk', 'index']),  # none in the walk
}


def test_outbox_plans_chosen_by_cost_find_every_match_in_order(db, monkeypatch) -> None:  # noqa: ANN001
    """Each spread of a beginning's emails is read by the plan the cost choice gives it (the statements say which),
    and every plan gives all its emails newest first, page after page, alone and with a status."""
    from sqlalchemy import delete, event
    monkeypatch.setattr(outbox, 'WINDOW', 10)
    monkeypatch.setattr(outbox, 'WALK', 40)
    plans: list[str] = []

    def heard(conn, cursor, statement, *_args) -> None:  # noqa: ANN001
        if ' '.join(statement.split()).startswith('SELECT outboxmessage.id FROM outboxmessage WHERE'):
            plans.append('index' if 'ORDER BY outboxmessage.id +' in statement else 'walk')

    def every_page(**filters: str) -> tuple[list[int], list[str]]:
        found, older, first_plans = [], None, None
        while True:
            plans.clear()
            page = outbox.list_outbox(principal=ADMIN, per_page=5, before_id=older, **filters)
            found += bodies(page)
            first_plans = first_plans or list(plans)
            if page.older is None:
                return found, first_plans
            older = page.older

    engine = get_engine()
    event.listen(engine, 'before_cursor_execute', heard)
    try:
        for name, (matches, expected_plans) in SPREADS.items():
            with engine.begin() as conn:
                conn.execute(delete(OutboxMessage))
                conn.execute(insert(OutboxMessage.__table__), [  # type: ignore[attr-defined]
                    {'to_addr': f'{name if matches(i) else "other"}.{i}@example.org', 'subject': f'Message {i}',
                     'body_text': f'body {i}', 'status': 'failed' if i % 3 == 0 else 'sent',
                     'created_at': datetime.now(UTC), 'next_attempt_at': datetime.now(UTC)} for i in range(200)])
            expected = [i for i in range(199, -1, -1) if matches(i)]
            assert every_page(recipient=name) == (expected, expected_plans), name
            assert every_page(recipient=name, status='failed')[0] == [i for i in expected if i % 3 == 0], name
    finally:
        event.remove(engine, 'before_cursor_execute', heard)
