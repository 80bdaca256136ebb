#!/usr/bin/env python3
"""Bulk upload speed: the whole import pipeline against bare `csv` + `sqlite3.executemany`, into a database that
already holds 1,000,000 recipients, on SQLite and PostgreSQL; the loaded-recipients search at that size; the
welcome emails' SMTP send rate through the app's sender (reused connections), with and without a rate cap.

    .venv/bin/python benchmarks/bulk_upload.py [--backends sqlite,postgres] [--base 1000000] [--sizes 5000,100000]

Everything happens in scratch databases (a temporary SQLite file; a fresh PostgreSQL database on
127.0.0.1:5432 that is dropped at the end). Targets (SQLite, 2 cores): 5,000 rows < 1 s; 100,000 rows < 10 s
with peak memory < 300 MB; at most 10x the baseline; search < 100 ms at 1,000,000; >= 300 emails/s.
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PG_ADMIN = os.environ.get('CVMS_BENCH_POSTGRES_URL', 'postgresql://postgres@127.0.0.1:5432/test')
FIRST = ['Ashley', 'Nicholas', 'Grace', 'Matt', 'Tej', 'Renée', 'José', 'Mary Ann', 'Zoë', "D'Andre", 'Li', 'Omar',
         'Fatima', 'Chloé', 'Nguyễn', 'Sean', 'Aisha', 'Pedro', 'Olga', 'Kwame']
LAST = ['Learn', 'Wilms', 'Smith', "O'Neil", 'García', 'Nguyen', 'Johnson', 'Brown', 'Müller', 'Par', 'Lee',
        'Kowalski', 'Okafor', 'Dubois', 'Rossi', 'Khan', 'Silva', 'Ivanova', 'Tanaka', 'Mendes-Cruz']


def person(i: int, rng: random.Random) -> tuple[str, str, str, str]:
    first = f'{rng.choice(FIRST)}{i}'
    last = rng.choice(LAST)
    dob = f'{rng.randint(1, 12)}/{rng.randint(1, 28)}/{rng.randint(1930, 2015)}'
    return first, last, dob, f'{first.lower().replace(" ", ".").replace(chr(39), "")}{i}@employer{i % 50}.example.com'


def write_file(path: Path, rows: int, seed: int) -> None:
    """A realistic upload: ~1% bad rows (missing name, bad email, bad date) as people make them."""
    rng = random.Random(seed)
    with path.open('w', newline='', encoding='utf-8') as handle:
        writer = csv.writer(handle)
        writer.writerow(['First name', 'Last name', 'Date of birth', 'Email'])
        for i in range(rows):
            first, last, dob, email = person(seed * 10_000_000 + i, rng)
            if i % 100 == 37:
                email = email.replace('@', ' at ')
            elif i % 100 == 73:
                last = ''
            elif i % 200 == 11:
                dob = dob + '5'
            writer.writerow([first, last, dob, email])


# ---------------------------------------------------------------- database set-up


def environment(data_dir: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith('CVMS_')}
    env.update({'CVMS_DATA_DIR': str(data_dir), 'CVMS_DATABASE_URL': url, 'CVMS_ARGON2_MEMORY_KIB': '8192',
                'CVMS_ARGON2_TIME_COST': '1', 'CVMS_BASE_URL': 'http://cvms.bench'})
    return env


def prepare(base: int) -> None:
    """(child) Migrate, add the demo data, then `base` recipients in the demo location, in bulk."""
    from services import demo
    from services.core import db
    from services.core.fast_sql import allocate_ids, insert_rows
    from services.recipients.identity import fold, identity_key

    db.migrate()
    demo.seed_demo()
    from models import Location, Recipient
    rng = random.Random(7)
    with db.session_scope() as session:
        location = session.exec(__import__('sqlmodel').select(Location).where(Location.code == 'DEMO1')).one()
    from datetime import date
    done = 0
    while done < base:
        n = min(50_000, base - done)
        with db.session_scope() as session:
            conn = session.connection()
            ids = allocate_ids(conn, Recipient.__table__, n)
            rows = []
            for i in ids:
                first, last, _dob, email = person(900_000_000 + i, rng)
                dob = date(rng.randint(1930, 2015), rng.randint(1, 12), rng.randint(1, 28))
                rows.append((i, first, last, dob, email, identity_key(first, last, dob), fold(first), fold(last)))
            insert_rows(conn, Recipient.__table__, ('id', 'first_name', 'last_name', 'date_of_birth', 'email',
                                                    'identity_key', 'first_name_key', 'last_name_key'), rows,
                        constants={'location_id': location.id, 'organization_id': location.organization_id,
                                   'source': 'bulk_upload', 'created_at': __import__('models').utcnow()})
        done += n
    if db.is_postgres():
        # What autovacuum does after a load this size: statistics, and the visibility map that lets the list's
        # counts and deep pages read the indexes alone (without it, each index entry visits the table).
        with db.get_engine().connect().execution_options(isolation_level='AUTOCOMMIT') as conn:
            conn.exec_driver_sql('VACUUM ANALYZE')
    else:
        with db.get_engine().connect() as conn:
            conn.exec_driver_sql('ANALYZE')


def manager():  # noqa: ANN201
    from sqlmodel import select

    from models import User
    from services.accounts.auth import principal_for
    from services.core.db import session_scope
    with session_scope() as session:
        return principal_for(session, session.exec(select(User).where(User.email == 'manager@demo.cvms.example.org'))
                             .one())


def step_timers() -> dict[str, float]:
    """(child, --steps) Wall seconds spent in each step of the insert path, summed over the chunks: each table's
    insert (on PostgreSQL mostly the server's COPY work: indexes, foreign-key checks), the id allocations, the
    duplicate and account look-ups. Wraps the functions where the pipeline's modules call them."""
    import functools

    from services.bulk import pipeline as bulk_pipeline
    from services.bulk import registration
    from services.core import fast_sql
    from services.portal import accounts
    from services.recipients import registry

    spent: dict[str, float] = {}

    def timed(label, function):  # noqa: ANN001, ANN202
        @functools.wraps(function)
        def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            name = label(*args) if callable(label) else label
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - started
        return wrapper

    insert_rows = timed(lambda conn, table, *_: f'insert {table.name}', fast_sql.insert_rows)
    allocate_ids = timed(lambda conn, table, *_: f'allocate ids {table.name}', fast_sql.allocate_ids)
    fast_sql.insert_rows = accounts.insert_rows = insert_rows
    bulk_pipeline.allocate_ids = accounts.allocate_ids = allocate_ids
    registry.fetch_in = timed('look-up: identity keys', registry.fetch_in)
    accounts.fetch_in = timed('look-up: accounts and staff emails', accounts.fetch_in)
    for module, name in [(registration, 'mark_duplicates'), (registration, 'insert_ready'),
                         (registration, '_store_failures'), (registration, '_finish'),
                         (bulk_pipeline, 'accounts_for_emails'), (bulk_pipeline, 'queue_welcome_emails')]:
        setattr(module, name, timed(name, getattr(module, name)))
    return spent


def pipeline(path: Path) -> dict:
    """(child) The whole import: store + decode + parse + validate + duplicates + insert + outbox + error file."""
    from services.bulk import registration as bulk
    steps = step_timers() if os.environ.get('BENCH_STEPS') else {}
    principal = manager()
    started = time.perf_counter()
    summary = bulk.submit_file(principal=principal, file_name=path.name, path=path)
    result = bulk.run_job(summary.id)
    report = bulk.upload_error_file(principal=principal, upload_id=summary.id)
    seconds = time.perf_counter() - started
    return {'seconds': seconds, 'loaded': result.loaded, 'failed': result.failed,
            'error_file_bytes': len(report or b''), 'steps': steps,
            'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def baseline(path: Path, url: str) -> dict:
    """(child) The same rows with the bare csv module and sqlite3.executemany into the recipient table of the
    SQLite database (rolled back afterwards), no validation at all: the floor the pipeline is compared to."""
    db_file = url.removeprefix('sqlite:///')
    started = time.perf_counter()
    connection = sqlite3.connect(db_file, isolation_level=None)
    connection.execute('BEGIN IMMEDIATE')
    start = connection.execute('SELECT coalesce(max(id), 0) FROM recipient').fetchone()[0]
    with path.open(newline='', encoding='utf-8') as handle:
        reader = csv.reader(handle)
        next(reader)
        rows = ((start + n, first, last, dob, email, f'{first}|{last}|{dob}|{n}', first, last, 'bulk_upload',
                 '2026-01-01 00:00:00.000000') for n, (first, last, dob, email) in enumerate(reader, start=1))
        connection.executemany('INSERT INTO recipient (id, first_name, last_name, date_of_birth, email, identity_key, '
                               'first_name_key, last_name_key, source, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)', rows)
    seconds = time.perf_counter() - started
    connection.execute('ROLLBACK')
    connection.close()
    return {'seconds': seconds, 'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def baseline_postgres(path: Path, url: str) -> dict:
    """(child) PostgreSQL's floor: the same rows through the bare csv module and one COPY into the recipient
    table (rolled back afterwards), no validation."""
    import psycopg
    started = time.perf_counter()
    with psycopg.connect(url) as connection:
        start = connection.execute('SELECT coalesce(max(id), 0) FROM recipient').fetchone()[0]
        with path.open(newline='', encoding='utf-8') as handle, connection.cursor() as cursor, cursor.copy(
                'COPY recipient (id, first_name, last_name, date_of_birth, email, identity_key, first_name_key, '
                'last_name_key, source, created_at) FROM STDIN') as copy:
            reader = csv.reader(handle)
            next(reader)
            for n, (first, last, dob, email) in enumerate(reader, start=1):
                copy.write_row((start + n, first, last, '2000-01-01', email, f'{first}|{last}|{dob}|{n}', first,
                                last, 'bulk_upload', '2026-01-01 00:00:00+00'))
        seconds = time.perf_counter() - started
        connection.rollback()
    return {'seconds': seconds, 'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def baseline_job_rows(path: Path, url: str) -> dict:
    """(child) A second PostgreSQL floor: the rows the job writes per person (user, portal account, set-password
    token, recipient with its location, organization, account and uploader, welcome email), through the bare csv
    module and one COPY per table and 10,000 records, in one transaction rolled back afterwards; no validation,
    no look-ups. Names, keys and emails are the file's (lowercased, with a suffix: the job loaded them already)."""
    import hashlib

    import psycopg

    from services.portal.accounts import welcome_email
    subject, body = welcome_email(first_name='{first}', email='{email}', set_password_url='http://cvms.bench/'
                                  'set-password/[hidden]')
    started = time.perf_counter()
    with psycopg.connect(url) as connection:
        location, organization = connection.execute(
            "SELECT id, organization_id FROM location WHERE code = 'DEMO1'").fetchone()
        uploader = connection.execute('SELECT id FROM "user" WHERE email = %s',
                                      ('manager@demo.cvms.example.org',)).fetchone()[0]
        ids = {table: connection.execute(f'SELECT coalesce(max(id), 0) FROM "{table}"').fetchone()[0]  # noqa: S608
               for table in ('user', 'portalaccount', 'recipient')}
        now, expires = '2026-01-01 00:00:00+00', '2026-01-08 00:00:00+00'
        with path.open(newline='', encoding='utf-8') as handle:
            reader = csv.reader(handle)
            next(reader)
            records = list(reader)
        for start in range(0, len(records), 10_000):
            part = [(start + n, first, last, dob, email.lower() + '.b') for n, (first, last, dob, email)
                    in enumerate(records[start:start + 10_000], start=1)]
            with connection.cursor() as cursor:
                with cursor.copy('COPY "user" (id, email, full_name, role, is_active, created_at) FROM STDIN') as copy:
                    for n, first, last, _dob, email in part:
                        copy.write_row((ids['user'] + n, email, f'{first} {last}', 'recipient', True, now))
                with cursor.copy('COPY portalaccount (id, user_id, email, language, created_at) FROM STDIN') as copy:
                    for n, _first, _last, _dob, email in part:
                        copy.write_row((ids['portalaccount'] + n, ids['user'] + n, email, 'en', now))
                with cursor.copy('COPY passwordtoken (token_hash, user_id, purpose, created_at, expires_at) '
                                 'FROM STDIN') as copy:
                    for n, *_ in part:
                        copy.write_row((hashlib.sha256(os.urandom(32)).hexdigest(), ids['user'] + n, 'welcome', now,
                                        expires))
                with cursor.copy('COPY recipient (id, first_name, last_name, date_of_birth, email, identity_key, '
                                 'first_name_key, last_name_key, portal_account_id, location_id, organization_id, '
                                 'created_by_user_id, source, created_at) FROM STDIN') as copy:
                    for n, first, last, dob, email in part:
                        copy.write_row((ids['recipient'] + n, first, last, dob, email,
                                        f'{first.lower()}|{last.lower()}|{dob}|b', first.lower(), last.lower(),
                                        ids['portalaccount'] + n, location, organization, uploader, 'bulk_upload',
                                        now))
                with cursor.copy('COPY outboxmessage (to_addr, subject, body_text, dedupe_key, secret, status, '
                                 'attempts, created_at, next_attempt_at) FROM STDIN') as copy:
                    for n, first, _last, _dob, email in part:
                        copy.write_row((email, subject, body.replace('{first}', first).replace('{email}', email),
                                        f'welcome:recipient:{ids["recipient"] + n}', 'x' * 43, 'pending', 0, now,
                                        now))
        seconds = time.perf_counter() - started
        connection.rollback()
    return {'seconds': seconds, 'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def search_timing() -> dict:
    """(child) The loaded-recipients list at this size: searches, first page, a deep page, a sorted page."""
    from services.recipients.listing import list_recipients
    principal = manager()
    list_recipients(principal=principal, search='warm up')
    timings = {}
    for label, kwargs in [('search "smi"', {'search': 'smi'}), ('search "grace wilms"', {'search': 'grace wilms'}),
                          ('search "nguy"', {'search': 'nguy'}), ('search "muller" (no accent)', {'search': 'muller'}),
                          ('search "mary ann smith"', {'search': 'mary ann smith'}),
                          ('search "smith mary ann"', {'search': 'smith mary ann'}), ('first page by last name', {}),
                          ('page 400 by first name', {'sort': 'first_name', 'page': 400}),
                          ('sorted by email, descending', {'sort': 'email', 'descending': True}),
                          ('search "smi" sorted by email', {'search': 'smi', 'sort': 'email'})]:
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            page = list_recipients(principal=principal, **kwargs)
            runs.append(time.perf_counter() - started)
        timings[label] = {'ms': statistics.median(runs) * 1000, 'total': page.total, 'matching': page.matching}
    return timings


def smtp_server(port: int) -> None:
    """(child) A local SMTP server in its own process, as a real one would be: counts what it receives and
    prints the count when told to stop (SIGTERM)."""
    import signal

    from aiosmtpd.controller import Controller

    class Sink:
        count = 0

        async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
            Sink.count += 1
            return '250 OK'

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # wait for it below (the server thread too)
    controller = Controller(Sink(), hostname='127.0.0.1', port=port)
    controller.start()
    print('READY', flush=True)
    signal.sigwait({signal.SIGTERM})
    controller.stop()
    print('RESULT ' + json.dumps({'received': Sink.count}), flush=True)


def smtp_rate(cap: float) -> dict:
    """(child) Deliver the due messages (all, or BENCH_MAIL_LIMIT) to a local SMTP server in another process,
    through the app's own sender (its reused connections, CVMS_SMTP_CONNECTIONS)."""
    import signal
    import socket

    from services.core import mail
    from services.core.settings import reset_settings

    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, __file__, '--child', 'smtp-server', '--port', str(port)],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert server.stdout is not None and server.stdout.readline().strip() == 'READY'
    os.environ.update({'CVMS_SMTP_HOST': '127.0.0.1', 'CVMS_SMTP_PORT': str(port),
                       'CVMS_MAIL_RATE_PER_SECOND': str(cap)})
    reset_settings()
    started = time.perf_counter()
    limit = int(os.environ.get('BENCH_MAIL_LIMIT', '0'))
    sent = asyncio.run(mail.deliver_due(limit=limit or None))
    seconds = time.perf_counter() - started
    server.send_signal(signal.SIGTERM)
    received = json.loads(server.communicate(timeout=30)[0].split('RESULT ', 1)[1])['received']
    return {'sent': sent, 'received': received, 'seconds': seconds, 'per_second': sent / seconds if seconds else 0}


def child(args: argparse.Namespace) -> None:
    task = args.child
    if task == 'prepare':
        prepare(args.base)
        result: dict = {}
    elif task == 'pipeline':
        result = pipeline(Path(args.file))
    elif task == 'baseline':
        url = os.environ['CVMS_DATABASE_URL']
        result = baseline(Path(args.file), url) if url.startswith('sqlite') else baseline_postgres(Path(args.file), url)
    elif task == 'baseline-job-rows':
        result = baseline_job_rows(Path(args.file), os.environ['CVMS_DATABASE_URL'])
    elif task == 'search':
        result = search_timing()
    elif task == 'smtp-server':
        smtp_server(int(args.port))
        return
    else:
        result = smtp_rate(float(args.cap))
    print('RESULT ' + json.dumps(result))


def run_child(env: dict[str, str], *extra: str) -> dict:
    process = subprocess.run([sys.executable, __file__, *extra], env=env, capture_output=True, text=True, cwd=ROOT)
    for line in process.stdout.splitlines():
        if line.startswith('RESULT '):
            return json.loads(line.removeprefix('RESULT '))
    raise RuntimeError(f'{extra} failed:\n{process.stdout[-3000:]}\n{process.stderr[-3000:]}')


# ---------------------------------------------------------------- the run


def bench_backend(backend: str, base: int, sizes: list[int], work: Path, *, no_mail: bool = False,
                  steps: bool = False) -> None:
    data_dir = work / backend
    data_dir.mkdir()
    pg_name = None
    if backend == 'sqlite':
        url = f'sqlite:///{data_dir / "bench.sqlite3"}'
    else:
        import psycopg
        pg_name = f'cvms_bench_{uuid.uuid4().hex[:10]}'
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE {pg_name}')
        url = PG_ADMIN.rsplit('/', 1)[0] + '/' + pg_name
    env = environment(data_dir, url)
    if steps:
        env['BENCH_STEPS'] = '1'
    try:
        print(f'\n== {backend}: preparing {base:,} recipients …', flush=True)
        started = time.perf_counter()
        run_child(env, '--child', 'prepare', '--base', str(base))
        print(f'   ready in {time.perf_counter() - started:.0f} s')
        for size in sizes:
            path = work / f'upload-{size}.csv'
            if not path.exists():
                write_file(path, size, seed=size % 97 + 1)
            result = run_child(env, '--child', 'pipeline', '--file', str(path))
            line = (f'{size:>7,} rows  pipeline {result["seconds"]:6.2f} s  {size / result["seconds"]:>8,.0f} rows/s  '
                    f'peak {result["peak_mb"]:5.0f} MB  loaded {result["loaded"]:,} failed {result["failed"]:,}')
            floor = run_child(env, '--child', 'baseline', '--file', str(path))
            kind = 'csv+sqlite3.executemany' if backend == 'sqlite' else 'csv+COPY'
            line += (f'\n{"":>14}baseline ({kind}) {floor["seconds"]:5.2f} s {size / floor["seconds"]:>8,.0f} rows/s '
                     f'peak {floor["peak_mb"]:4.0f} MB  ratio {result["seconds"] / floor["seconds"]:4.1f}x  '
                     f'load {os.getloadavg()[0]:.2f}')
            if backend == 'postgres':
                rows = run_child(env, '--child', 'baseline-job-rows', '--file', str(path))
                line += (f'\n{"":>14}baseline 2 (csv+COPY of the job\'s rows: 5 tables) {rows["seconds"]:5.2f} s  '
                         f'ratio {result["seconds"] / rows["seconds"]:4.1f}x  load {os.getloadavg()[0]:.2f}')
            print(line, flush=True)
            for step, seconds in sorted(result['steps'].items(), key=lambda item: -item[1]):
                print(f'{"":>14}{step:<40} {seconds:6.2f} s', flush=True)
            if size == min(sizes) and not no_mail:
                capped = run_child(dict(env, BENCH_MAIL_LIMIT='300'), '--child', 'smtp', '--cap', '100')
                print(f'   SMTP, cap 100/s: {capped["sent"]:,} emails in {capped["seconds"]:.2f} s = '
                      f'{capped["per_second"]:,.0f} emails/s', flush=True)
                mail_env = dict(env, BENCH_MAIL_LIMIT='0')
                rate = run_child(mail_env, '--child', 'smtp', '--cap', '0')
                print(f'   SMTP, no cap: {rate["sent"]:,} emails in {rate["seconds"]:.2f} s = '
                      f'{rate["per_second"]:,.0f} emails/s (server received {rate["received"]:,})', flush=True)
        timings = run_child(env, '--child', 'search')
        for label, figures in timings.items():
            print(f'   list {label:<32} {figures["ms"]:7.1f} ms  (total {figures["total"]:,}, '
                  f'matching {figures["matching"]:,})')
    finally:
        if pg_name:
            import psycopg
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--backends', default='sqlite,postgres')
    parser.add_argument('--base', type=int, default=1_000_000)
    parser.add_argument('--sizes', default='5000,100000')
    parser.add_argument('--steps', action='store_true', help='also print where the pipeline spends its time')
    parser.add_argument('--no-mail', action='store_true', help='leave out the SMTP rates')
    parser.add_argument('--child', help=argparse.SUPPRESS)
    parser.add_argument('--file', help=argparse.SUPPRESS)
    parser.add_argument('--cap', default='0', help=argparse.SUPPRESS)
    parser.add_argument('--port', default='0', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    sizes = [int(s) for s in args.sizes.split(',')]
    print(f'{os.cpu_count()} CPUs, load average {" ".join(f"{x:.2f}" for x in os.getloadavg())} at start', flush=True)
    with tempfile.TemporaryDirectory(prefix='cvms-bench-') as work:
        for backend in args.backends.split(','):
            bench_backend(backend, args.base, sizes, Path(work), no_mail=args.no_mail, steps=args.steps)


if __name__ == '__main__':
    main()
