"""Dose reminders and no-shows run in several workers at once without doing anything twice or failing."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlmodel import select

from models import OutboxMessage
from models.clinic import DoseReminder, ReminderStatus
from services.clinic import reminders
from services.core.db import session_scope
from tests.factories import count_rows, due_reminders


def test_two_rounds_at_once_process_each_reminder_once(demo) -> None:
    ids = due_reminders(250)  # several batches
    with ThreadPoolExecutor(2) as pool:
        rounds = list(pool.map(lambda _: reminders.process_due_reminders(), range(2)))
    assert sum(r['sent'] for r in rounds) == 250  # a reminder processed twice would count twice
    assert count_rows(OutboxMessage, OutboxMessage.dedupe_key.like('dose-reminder:%')) == 250
    with session_scope(read_only=True) as session:
        statuses = set(session.exec(select(DoseReminder.status).where(DoseReminder.id.in_(ids))))
    assert statuses == {ReminderStatus.SENT}
