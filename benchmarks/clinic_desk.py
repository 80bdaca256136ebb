#!/usr/bin/env python3
"""Clinic desk speed: Recipient Check-In (confirmation number look-up), Appointment Walk-In search (partial
last name + date of birth, plus the exact match across the system; names typed without accents or in another
split), the people alike shown before a registration at the point of care, and the loaded-recipients list's
searches, with 1,000,000 recipients and 10,000 appointments today, through the real services, against a bare SQL
baseline of the same index look-ups.

    .venv/bin/python benchmarks/clinic_desk.py [--recipients 1000000] [--appointments 10000] [--backend sqlite]
                                               [--backend postgres]

Everything happens in a scratch database (a temporary SQLite file, or a fresh PostgreSQL database on
127.0.0.1:5432 that is dropped at the end). Target: each desk look-up under 100 ms (p95).
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

LAST = ['Learn', 'Wilms', 'Smith', "O'Neil", 'García', 'Nguyen', 'Johnson', 'Brown', 'Müller', 'Par', 'Lee',
        'Kowalski', 'Okafor', 'Dubois', 'Rossi', 'Khan', 'Silva', 'Ivanova', 'Tanaka', 'Mendes-Cruz', 'Walker',
        'Walsh', 'Walton', 'Williams', 'Wilson', 'Moore', 'Taylor', 'Anderson', 'Thomas', 'Ñúñez']
FIRST = ['Ashley', 'Nicholas', 'Grace', 'Matt', 'Tej', 'Renée', 'José', 'Mary', 'Zoë', 'Li', 'Omar', 'Fatima',
         'Grace Mid', 'Mary Ann']
CHUNK = 50_000


def prepare(url: str, recipients: int, appointments: int, rng: random.Random) -> dict:
    os.environ['CVMS_DATABASE_URL'] = url
    from services.core.settings import reset_settings
    reset_settings()
    from sqlalchemy import insert
    from sqlmodel import select

    from models import Location, Recipient
    from models.clinic import Appointment
    from services import demo
    from services.core import db
    from services.core.localtime import local_today
    from services.recipients.identity import fold, identity_key

    db.migrate()
    demo.seed_demo()
    engine = db.get_engine()
    with db.session_scope() as session:
        here = session.exec(select(Location).where(Location.code == 'DEMO1')).one()
        there = session.exec(select(Location).where(Location.code == 'DEMO2')).one()
        today = local_today(here)
    people = []
    started = time.perf_counter()
    for start in range(0, recipients, CHUNK):
        rows = []
        for i in range(start, min(start + CHUNK, recipients)):
            first, last = f'{rng.choice(FIRST)}{i}', rng.choice(LAST)
            born = date(1930, 1, 1) + timedelta(days=rng.randrange(85 * 365))
            rows.append({'first_name': first, 'last_name': last, 'date_of_birth': born,
                         'identity_key': identity_key(first, last, born), 'first_name_key': fold(first),
                         'last_name_key': fold(last), 'location_id': here.id if i % 4 else there.id,
                         'source': 'bulk_upload', 'created_at': datetime.now(UTC)})
        with engine.begin() as conn:
            conn.execute(insert(Recipient.__table__), rows)
        people.extend((r['first_name'], r['last_name'], r['date_of_birth'], r['location_id']) for r in rows[::50])
    loaded = time.perf_counter() - started
    with engine.begin() as conn:
        ids = [row[0] for row in conn.execute(select(Recipient.id).where(Recipient.location_id == here.id)
                                              .limit(appointments))]
        numbers = rng.sample(range(10_000_000, 100_000_000), len(ids))
        midnight = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
        conn.execute(insert(Appointment.__table__), [
            {'case_number': str(n), 'recipient_id': rid, 'location_id': here.id, 'dose_number': 1,
             'scheduled_at': midnight + timedelta(seconds=30 * k), 'local_date': today, 'status': 'scheduled',
             'walk_in': False, 'created_at': datetime.now(UTC)} for k, (n, rid) in enumerate(zip(numbers, ids,
                                                                                               strict=True))])
    return {'people': people, 'numbers': [str(n) for n in numbers], 'load_seconds': loaded, 'location': here.id}


def run(url: str, recipients: int, appointments: int) -> None:
    rng = random.Random(2021)
    data = prepare(url, recipients, appointments, rng)
    from sqlalchemy import text
    from sqlmodel import select

    from models import User
    from services.accounts.auth import principal_for
    from services.clinic import checkin, walkin
    from services.core import db
    from services.recipients.identity import fold
    from services.recipients.listing import list_recipients

    with db.session_scope() as session:
        provider, manager = (principal_for(session, session.exec(select(User).where(User.email == email)).one())
                             for email in ('provider@demo.cvms.example.org', 'manager@demo.cvms.example.org'))
    engine = db.get_engine()
    numbers = rng.sample(data['numbers'], min(300, len(data['numbers'])))
    visible = [p for p in data['people'] if p[3] == data['location']]
    walk_ins = rng.sample(visible, min(300, len(visible)))
    others = [p for p in data['people'] if p[3] != data['location']]
    elsewhere = rng.sample(others, min(300, len(others)))
    accented = [p for p in visible if not p[1].isascii()]
    accented = rng.sample(accented, min(300, len(accented)))
    several = [p for p in visible if ' ' in p[0]]
    several = rng.sample(several, min(300, len(several)))

    def typed(name: str) -> str:
        """As typed at a desk: no accents, no apostrophe, a typo-free keyboard."""
        return fold(name).title()

    def typo(name: str) -> str:
        return name[:-2] + name[-1] + name[-2]  # the last two letters swapped

    def baseline_check_in(number: str) -> None:
        with engine.connect() as conn:
            conn.execute(text('SELECT a.id, r.first_name, r.last_name, r.date_of_birth FROM appointment a '
                              'JOIN recipient r ON r.id = a.recipient_id WHERE a.case_number = :n'),
                         {'n': number}).all()

    def baseline_walk_in(person: tuple) -> None:
        """The birth-date index's range for the first letters of the last name ("+ 0": without statistics SQLite
        otherwise takes the location's index and reads thousands of entries, 130-200 ms at a million)."""
        prefix = fold(person[1])[:3]
        with engine.connect() as conn:
            conn.execute(text('SELECT id, first_name, last_name FROM recipient WHERE date_of_birth = :d AND '
                              'last_name_key >= :p AND last_name_key < :q AND location_id + 0 = :l LIMIT 25'),
                         {'d': person[2], 'p': prefix, 'q': prefix + '\uffff', 'l': data['location']}).all()

    def baseline_list(person: tuple) -> None:
        prefix = fold(person[1])[:3]
        with engine.connect() as conn:
            conn.execute(text('SELECT id FROM recipient WHERE location_id = :l AND last_name_key >= :p AND '
                              'last_name_key < :q ORDER BY last_name_key, first_name_key, id LIMIT 25'),
                         {'p': prefix, 'q': prefix + '\uffff', 'l': data['location']}).all()

    def search(name, people: list) -> tuple[float, float]:  # noqa: ANN001
        return timed(lambda p: walkin.search_walk_in(principal=provider, name=name(p), date_of_birth=p[2]), people)

    def listed(search_text, people: list) -> tuple[float, float]:  # noqa: ANN001
        return timed(lambda p: list_recipients(principal=manager, search=search_text(p)), people)

    few = 60  # list searches: fewer samples (a broad one reads up to 1,000 index entries per branch)
    results = [
        ('check-in by confirmation number',
         timed(lambda n: checkin.find_for_check_in(principal=provider, raw_number=n), numbers),
         timed(baseline_check_in, numbers)),
        ('walk-in: 3 letters of the last name + DOB', search(lambda p: p[1][:3], walk_ins),
         timed(baseline_walk_in, walk_ins)),
        ('walk-in: exact name + DOB registered elsewhere', search(lambda p: f'{p[0]} {p[1]}', elsewhere),
         timed(baseline_walk_in, elsewhere)),
        ('walk-in: last name without accents + DOB', search(lambda p: typed(p[1]), accented),
         timed(baseline_walk_in, accented)),
        ('walk-in: "Last First", no accents + DOB', search(lambda p: typed(f'{p[1]} {p[0]}'), walk_ins),
         timed(baseline_walk_in, walk_ins)),
        ('walk-in: "Grace Mid Wilms" split + DOB', search(lambda p: f'{p[0]} {p[1]}', several),
         timed(baseline_walk_in, several)),
        ('similar people before registration (typo)',
         timed(lambda p: walkin.similar_people(principal=provider, name=typo(typed(f'{p[0]} {p[1]}')),
                                               date_of_birth=p[2]), elsewhere),
         timed(baseline_walk_in, elsewhere)),
        ('list: last name without accents (broad)', listed(lambda p: typed(p[1]), accented[:few]),
         timed(baseline_list, accented[:few])),
        ('list: "Last First", no accents', listed(lambda p: typed(f'{p[1]} {p[0]}'), walk_ins[:few]),
         timed(baseline_list, walk_ins[:few])),
        ('list: "Grace Mid Wilms" split', listed(lambda p: f'{p[0]} {p[1]}', several[:few]),
         timed(baseline_list, several[:few])),
    ]
    started = time.perf_counter()
    rows = checkin.today_appointments(principal=provider)
    today_ms = (time.perf_counter() - started) * 1000
    backend = engine.dialect.name
    print(f'\n{backend}: {recipients:,} recipients (loaded in {data["load_seconds"]:.0f} s), '
          f'{len(data["numbers"]):,} appointments today; {date.today()}, load average '
          f'{" ".join(f"{x:.2f}" for x in os.getloadavg())}')
    print(f'{"look-up":<48} {"median ms":>10} {"p95 ms":>8} {"baseline ms":>12} {"ratio":>6}  target p95 < 100 ms')
    for name, (median, p95), (base_median, _) in results:
        verdict = 'OK' if p95 < 100 else 'SLOW'
        print(f'{name:<48} {median:>10.2f} {p95:>8.2f} {base_median:>12.2f} {median / base_median:>6.1f}  {verdict}')
    print(f"{'Today' + chr(39) + 's Appointments (all ' + format(len(rows), ',') + ' rows, info)':<48} "
          f'{today_ms:>10.0f}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--recipients', type=int, default=1_000_000)
    parser.add_argument('--appointments', type=int, default=10_000)
    parser.add_argument('--backend', action='append', choices=['sqlite', 'postgres'])
    args = parser.parse_args()
    for backend in args.backend or ['sqlite']:
        with scratch_database(backend, 'cvms-bench-clinic') as url:
            run(url, args.recipients, args.appointments)

if __name__ == '__main__':
    main()
