"""End of day (no-shows), dose reminders, and the CLI command that runs them (services/background.py runs them
periodically: once per period across all workers)."""
from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import Session, col, select

from models import Location, Recipient, utcnow
from models.clinic import (
    Administration,
    Appointment,
    AppointmentStatus,
    DoseReminder,
    ReminderStatus,
)
from services.clinic.common import _changed
from services.clinic.scheduling import (
    _email,
    portal_language,
    to_public,
)
from services.core import audit, mail
from services.core.db import is_postgres, let_waiting_writers_in, session_scope
from services.core.i18n import translator
from services.core.localtime import local_today
from services.permissions import Action, deny, fetch, require
from services.principal import Principal


def mark_no_shows(*, principal: Principal, location_id: int | None = None, before: date | None = None) -> int:
    """Scheduled appointments nobody attended become No-show: at one location (the desk's End of day, which
    includes today) or, for the system job, every location's earlier days."""
    if location_id is not None:
        require(principal, Action.MANAGE_APPOINTMENTS, location_id=location_id, check_location=True)
    elif not principal.is_admin:
        deny(principal, action='mark_no_shows')
    touched: set[int] = set()
    with session_scope() as session:
        query = select(Appointment).where(Appointment.status == AppointmentStatus.SCHEDULED)
        if location_id is not None:
            location = fetch(session, Location, location_id, principal=principal)
            query = query.where(Appointment.location_id == location_id).where(
                Appointment.local_date <= (before or local_today(location)))
        else:
            query = query.where(Appointment.local_date < (before or utcnow().date() - timedelta(days=1)))
        if is_postgres():  # a desk's End of day and the system job at once: each appointment is marked once
            query = query.with_for_update(skip_locked=True)
        rows = session.exec(query).all()
        for row in rows:
            row.status = AppointmentStatus.NO_SHOW
            session.add(row)
            touched.add(row.location_id)
        if rows:
            audit.record(session, action='no_shows_marked', actor=principal, entity_type='location',
                         entity_id=location_id, detail=f'{len(rows)} appointment(s)')
    for touched_location in touched:
        _changed(touched_location)
    return len(rows)


# ---------------------------------------------------------------- dose reminders (background job)

REMINDER_BATCH = 100  # reminders per unit of work: a short hold on SQLite's write lock


def process_due_reminders(*, today: date | None = None) -> dict[str, int]:
    """Send the reminders due today (into the outbox) unless they became pointless: the dose was already
    recorded, or its appointment was cancelled. Safe to run repeatedly, and in several workers at once: each
    batch is claimed (on PostgreSQL, rows another run holds are skipped), so each reminder is processed once."""
    today = today or local_today()  # send_on is a day at the location; the state's day is a fair clock for all
    counts = {'sent': 0, 'suppressed': 0}
    while _process_batch(today, counts) == REMINDER_BATCH:
        let_waiting_writers_in()  # a check-in waiting for SQLite's write lock goes first
    return counts


def _process_batch(today: date, counts: dict[str, int]) -> int:
    with session_scope() as session:
        query = select(DoseReminder).where(DoseReminder.status == ReminderStatus.PENDING) \
            .where(DoseReminder.send_on <= today).order_by(col(DoseReminder.id)).limit(REMINDER_BATCH)
        if is_postgres():
            query = query.with_for_update(skip_locked=True)
        due = session.exec(query).all()
        for reminder in due:
            outcome = _reminder_outcome(session, reminder)
            reminder.processed_at = utcnow()
            if outcome is not None:
                reminder.status, reminder.outcome = ReminderStatus.SUPPRESSED, outcome
                counts['suppressed'] += 1
            else:
                _send_reminder(session, reminder)
                reminder.status, reminder.outcome = ReminderStatus.SENT, 'queued'
                counts['sent'] += 1
            session.add(reminder)
        return len(due)


def _reminder_outcome(session: Session, reminder: DoseReminder) -> str | None:
    given = session.exec(select(Administration.id).where(Administration.recipient_id == reminder.recipient_id)
                         .where(col(Administration.voided).is_(False))
                         .where(Administration.dose_number >= reminder.dose_number)).first()
    if given is not None:
        return 'dose already recorded'
    if reminder.appointment_id is not None:
        booked = session.get(Appointment, reminder.appointment_id)
        if booked is None or booked.status == AppointmentStatus.CANCELLED:
            return 'appointment cancelled'
    recipient = session.get(Recipient, reminder.recipient_id)
    if recipient is None or not recipient.email:
        return 'no email address'
    return None


def _send_reminder(session: Session, reminder: DoseReminder) -> None:
    recipient = session.get(Recipient, reminder.recipient_id)
    assert recipient is not None and recipient.email
    if reminder.appointment_id is not None:
        booked = session.get(Appointment, reminder.appointment_id)
        location = session.get(Location, booked.location_id) if booked else None
        if booked is not None and location is not None:
            _email(session, recipient, to_public(session, booked, recipient=recipient, location=location), location,
                   kind='reminder', dedupe_key=f'dose-reminder:{reminder.id}')
            return
    t = translator(portal_language(session, recipient))
    due = f'{reminder.due_date:%m/%d/%Y}'
    body = t('Hello {name},\n\nYour COVID-19 vaccine dose {dose} is due on {due}. Book an appointment in the '
             'COVID-19 Vaccine Portal or with your vaccine provider, and bring your vaccination card.\n').format(
        name=recipient.first_name, dose=reminder.dose_number, due=due)
    subject = t('Reminder: your COVID-19 vaccine dose {dose} is due on {due}').format(
        dose=reminder.dose_number, due=due)
    mail.enqueue(session, to=recipient.email, subject=subject, body_text=body,
                 dedupe_key=f'dose-reminder:{reminder.id}')


# ---------------------------------------------------------------- the background job and the CLI

def run_daily_jobs() -> dict[str, int]:
    """Reminders due today, and No-show for appointments of days that are over everywhere (yesterday and before
    in UTC, so every US time zone has finished its day)."""
    from services.principal import SYSTEM
    counts = process_due_reminders()
    counts['no_shows'] = mark_no_shows(principal=SYSTEM, before=utcnow().date() - timedelta(days=1))
    return counts


def register_cli(commands) -> None:  # noqa: ANN001 - argparse subparsers
    """`main.py clinic-jobs`: send due dose reminders and mark past unattended appointments No-show (for cron)."""
    parser = commands.add_parser('clinic-jobs', help='send due dose reminders and mark past no-shows')

    def handler(_args) -> int:  # noqa: ANN001
        counts = run_daily_jobs()
        print(f"Reminders sent: {counts['sent']}, suppressed: {counts['suppressed']}; "
              f"appointments marked No-show: {counts['no_shows']}.")
        return 0
    parser.set_defaults(handler=handler)
