#!/usr/bin/env python3
"""Outbox screen speed: the first page, an older page, and each filter (recipient, subject, status, days) with
1,000,000 emails, through services/core/outbox.list_outbox, against a bare SQL baseline measured in the same
run (the newest 26 ids by primary key).

    .venv/bin/python benchmarks/outbox_list.py [--emails 1000000] [--backend sqlite] [--backend postgres]

Like benchmarks/clinic_desk.py it works in a scratch database only (a temporary SQLite file, or a fresh
PostgreSQL database on 127.0.0.1:5432, CVMS_BENCH_POSTGRES_URL to change, dropped at the end). The emails are
what a year of the system writes: welcome emails of bulk uploads (most), appointment confirmations and
reminders with case numbers, password resets; mostly sent, some pending or failed, spread over 365 days in id
order. Target: every look-up under 200 ms (p95).
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.scratch import scratch_database, timed  # noqa: E402

CHUNK = 50_000
FIRST = ['ashley', 'nicholas', 'grace', 'matt', 'tej', 'renee', 'jose', 'mary', 'zoe', 'li', 'omar', 'fatima']
DOMAINS = ['gmail.com', 'plant.example.com', 'yahoo.com', 'companyemail2.com', 'outlook.com']
BODY = 'Hello,\n\n' + 'Your account for the COVID-19 Vaccine Portal is ready. ' * 12 + '\n'


def subject_of(i: int, rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.70:
        return 'Welcome to the North Carolina Vaccine Management COVID-19 Vaccine Portal'
    if kind < 0.85:
        return f'Your COVID-19 vaccine appointment is confirmed (confirmation number {10_000_000 + i})'
    if kind < 0.97:
        return f'Reminder: your COVID-19 vaccine dose 2 is due on {rng.randrange(1, 13)}/{rng.randrange(1, 29)}/2026'
    return 'Reset your Vaccine Management System password'


def prepare(url: str, emails: int, rng: random.Random) -> dict:
    os.environ['CVMS_DATABASE_URL'] = url
    from services.core.settings import reset_settings
    reset_settings()
    from sqlalchemy import insert

    from models import OutboxMessage
    from services.core import db

    db.migrate()
    engine = db.get_engine()
    start = datetime(2025, 12, 1, tzinfo=UTC)
    step = timedelta(days=365) / emails
    addresses = []
    started = time.perf_counter()
    for first in range(0, emails, CHUNK):
        rows = []
        for i in range(first, min(first + CHUNK, emails)):
            address = f'{rng.choice(FIRST)}.{i}@{rng.choice(DOMAINS)}'
            status = rng.choices(['sent', 'pending', 'failed'], [0.96, 0.03, 0.01])[0]
            written = start + step * i
            rows.append({'to_addr': address, 'subject': subject_of(i, rng), 'body_text': BODY, 'status': status,
                         'attempts': 1 if status != 'pending' else 0, 'created_at': written,
                         'next_attempt_at': written, 'sent_at': written if status == 'sent' else None})
            if i % 997 == 0:
                addresses.append(address)
        with engine.begin() as conn:
            conn.execute(insert(OutboxMessage.__table__), rows)  # type: ignore[attr-defined]
    return {'load_seconds': time.perf_counter() - started, 'addresses': addresses}


def run(url: str, emails: int) -> None:
    rng = random.Random(2021)
    data = prepare(url, emails, rng)
    from sqlalchemy import text

    from services.core import db, outbox
    from services.principal import Principal

    admin = Principal(user_id=1, email='admin@example.org', role='state_admin')
    engine = db.get_engine()
    with engine.connect() as conn:
        if engine.dialect.name == 'postgresql':
            conn.execute(text('ANALYZE outboxmessage'))
        newest = conn.execute(text('SELECT max(id) FROM outboxmessage')).scalar_one()

    def baseline(_sample: object) -> None:
        with engine.connect() as conn:
            conn.execute(text('SELECT id FROM outboxmessage ORDER BY id DESC LIMIT 26')).all()

    def listed(**filters: object):  # noqa: ANN202
        return lambda sample: outbox.list_outbox(principal=admin, **{k: (v(sample) if callable(v) else v)
                                                                    for k, v in filters.items()})

    few = list(range(20))
    addresses = data['addresses'][:20]
    days = [date(2025, 12, 2) + timedelta(days=rng.randrange(360)) for _ in few]
    cases = [
        ('first page, no filter', listed(), few),
        ('a page in the middle (cursor)', listed(before_id=lambda _s: newest // 2), few),
        ('recipient: full address', listed(recipient=lambda a: a), addresses),
        ('recipient: first 5 letters (broad)', listed(recipient=lambda a: a[:5]), addresses),
        ('recipient: "grace.12" (narrow)', listed(recipient='grace.12'), few),
        ('subject: "welcome" (70% of emails)', listed(subject='welcome'), few),
        ('subject: "Reset your" (3%)', listed(subject='Reset your'), few),
        ('subject: a confirmation number (1 email)',
         listed(subject=lambda s: f'Your COVID-19 vaccine appointment is confirmed (confirmation number '
                                   f'{10_000_000 + s * 7919}'), few),
        ('status: failed (1%)', listed(status='failed'), few),
        ('status: pending, page in the middle', listed(status='pending', before_id=lambda _s: newest // 2), few),
        ('one day', listed(sent_from=lambda s: days[s], sent_to=lambda s: days[s]), few),
        ('one day + failed', listed(sent_from=lambda s: days[s], sent_to=lambda s: days[s], status='failed'), few),
        ('recipient broad + subject "Reset" + failed',
         listed(recipient=lambda a: a[:4], subject='Reset', status='failed'), addresses),
        ('recipient + day range (a month)', listed(recipient=lambda a: a[:6], sent_from=date(2026, 3, 1),
                                                   sent_to=date(2026, 3, 31)), addresses),
    ]
    base_median, _ = timed(baseline, few)
    print(f'\n{engine.dialect.name}: {emails:,} emails (loaded in {data["load_seconds"]:.0f} s); {date.today()}, '
          f'load average {" ".join(f"{x:.2f}" for x in os.getloadavg())}')
    print(f'{"look-up (a page of 25)":<48} {"median ms":>10} {"p95 ms":>8} {"ratio":>6}  '
          f'baseline {base_median:.2f} ms, target p95 < 200 ms')
    for name, fn, samples in cases:
        fn(samples[0])  # warm the page cache for this shape, as a person's second look-up is
        median, p95 = timed(fn, samples)
        verdict = 'OK' if p95 < 200 else 'SLOW'
        print(f'{name:<48} {median:>10.2f} {p95:>8.2f} {median / base_median:>6.1f}  {verdict}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--emails', type=int, default=1_000_000)
    parser.add_argument('--backend', action='append', choices=['sqlite', 'postgres'])
    args = parser.parse_args()
    for backend in args.backend or ['sqlite']:
        with scratch_database(backend, 'cvms-bench-outbox') as url:
            run(url, args.emails)

if __name__ == '__main__':
    main()
