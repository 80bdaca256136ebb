"""Shared fixtures: a real database per backend (SQLite file, and PostgreSQL when CVMS_TEST_POSTGRES_URL is
set), a real SMTP server (aiosmtpd) on 127.0.0.1, and the demo data."""
from __future__ import annotations

import asyncio
import gc
import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

# Before anything reads settings: a private data folder, cheap (still real) argon2, no SMTP unless a test starts one.
_DATA_DIR = Path(tempfile.mkdtemp(prefix='cvms-test-'))
os.environ.update({
    'CVMS_DATA_DIR': str(_DATA_DIR),
    'CVMS_ARGON2_MEMORY_KIB': '8192',
    'CVMS_ARGON2_TIME_COST': '1',
    'CVMS_BASE_URL': 'http://cvms.test',
    'CVMS_SMTP_HOST': '',
    'CVMS_STORAGE_SECRET': 'test-secret-' + uuid.uuid4().hex,
    'CVMS_CLINIC_JOBS_CRON': '0 0 1 1 *',  # the app's own clinic jobs never touch a test's data; tests call them
})
os.environ.pop('CVMS_DATABASE_URL', None)

from sqlalchemy import create_engine, text  # noqa: E402
from sqlmodel import SQLModel  # noqa: E402

from services.core import db as db_module  # noqa: E402
from services.core.queue import ENGINE_TABLES  # noqa: E402
from services.core.settings import reset_settings  # noqa: E402

POSTGRES_URL = os.environ.get('CVMS_TEST_POSTGRES_URL', '')
BACKENDS = ['sqlite', 'postgres']


def pytest_collection_finish(session: pytest.Session) -> None:
    """What the run has imported by now (NiceGUI, SQLAlchemy, the models and services: ~260,000 objects kept until
    the end) is frozen out of garbage collection, as services/core/runtime does for the server: NiceGUI's simulated
    user collects twice for each UI test, 200 ms each over those objects, 0 ms once they are frozen."""
    gc.collect()
    gc.freeze()


def _pg_admin_url() -> str:
    url = POSTGRES_URL
    return 'postgresql+psycopg://' + url.split('://', 1)[1] if url.startswith('postgresql://') else url


@pytest.fixture(scope='session')
def database_urls() -> Iterator[dict[str, str]]:
    """One fresh, migrated database per backend for this test run (parallel runs never share one)."""
    urls = {'sqlite': f'sqlite:///{_DATA_DIR / "test.sqlite3"}'}
    created_pg = None
    if POSTGRES_URL:
        created_pg = _create_pg_database('cvms_test')
        base, _, _ = _pg_admin_url().rpartition('/')
        urls['postgres'] = f'{base}/{created_pg}'
    for url in urls.values():
        db_module.migrate(url)
    yield urls
    db_module.dispose_engines()
    if created_pg:
        _drop_pg_database(created_pg)


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    """An empty PostgreSQL database of its own, not migrated (dropped afterwards): for tests that start app
    processes on it. Its URL is in the form an operator writes (postgresql://...)."""
    with empty_postgres_database() as url:
        yield url


@contextmanager
def empty_postgres_database() -> Iterator[str]:
    """The fresh_postgres fixture's database, for fixtures of a wider scope; skips without PostgreSQL."""
    if not POSTGRES_URL:
        pytest.skip('set CVMS_TEST_POSTGRES_URL (.ci/run does) to test several processes on PostgreSQL')
    name = _create_pg_database('cvms_fresh')
    base, _, _ = POSTGRES_URL.rpartition('/')
    try:
        yield f'{base}/{name}'
    finally:
        _drop_pg_database(name)


def _create_pg_database(prefix: str) -> str:
    name = f'{prefix}_{uuid.uuid4().hex[:12]}'
    admin = create_engine(_pg_admin_url(), isolation_level='AUTOCOMMIT')
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE {name}'))
    admin.dispose()
    return name


def _drop_pg_database(name: str) -> None:
    admin = create_engine(_pg_admin_url(), isolation_level='AUTOCOMMIT')
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS {name} WITH (FORCE)'))
    admin.dispose()


def _empty_all_tables(url: str) -> None:
    engine = db_module.get_engine(url)
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name != 'postgresql':
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))
            return
        tables += ENGINE_TABLES  # with the job engine's: no job outlives its test
        if not _may_skip_triggers(conn):
            conn.execute(text('TRUNCATE ' + ', '.join(f'"{t}"' for t in tables) + ' RESTART IDENTITY CASCADE'))
            return
        # As TRUNCATE ... RESTART IDENTITY left them, in 5 ms instead of 300-900 ms a test (TRUNCATE makes new files
        # for 60 tables and their indexes; ~560 tests run on PostgreSQL). No triggers fire, as with TRUNCATE: the
        # ledger's append-only one would refuse the DELETE; nor foreign keys, so the order does not matter.
        conn.execute(text('SET LOCAL session_replication_role = replica'))
        conn.execute(text('; '.join(f'DELETE FROM "{t}"' for t in tables)))
        conn.execute(text("SELECT setval(s.seqrelid, s.seqstart, false) FROM pg_sequence s "
                          "JOIN pg_depend d ON d.objid = s.seqrelid AND d.classid = 'pg_class'::regclass "
                          "AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') "
                          "JOIN pg_class t ON t.oid = d.refobjid "
                          "WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ANY(:tables)"),
                     {'tables': tables})


_SUPERUSER: dict[str, bool] = {}


def _may_skip_triggers(conn) -> bool:  # noqa: ANN001
    """Whether this PostgreSQL role may set session_replication_role (a superuser, as .ci/run's postgres is)."""
    url = str(conn.engine.url)
    if url not in _SUPERUSER:
        query = text('SELECT rolsuper FROM pg_roles WHERE rolname = current_user')
        _SUPERUSER[url] = bool(conn.execute(query).scalar())
    return _SUPERUSER[url]


# For a UI test whose logic touches no difference between the databases (who may open a page, what it shows, the
# headers, the navigation): the `db` fixture would run it on PostgreSQL too, the same steps twice as long. A test of
# anything the databases do differently (locks, queries written per backend, sequences, search) keeps both.
sqlite_only = pytest.mark.parametrize('db', ['sqlite'], indirect=True)


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, database_urls: dict[str, str]) -> Iterator[str]:
    """The database for one test, emptied first; runs the test once on SQLite and once on PostgreSQL."""
    backend = request.param
    if backend not in database_urls:
        pytest.skip('PostgreSQL tests need CVMS_TEST_POSTGRES_URL')
    url = database_urls[backend]
    os.environ['CVMS_DATABASE_URL'] = url
    reset_settings()
    _empty_all_tables(url)
    from services.portal.vaccine_groups import forget_group_config, forget_self_registration
    forget_self_registration()  # a process cache of the emptied settings row (an earlier test's answer otherwise)
    forget_group_config()  # likewise the vaccine groups
    yield backend
    os.environ.pop('CVMS_DATABASE_URL', None)
    reset_settings()


# Kept by database triggers from other tables: restored rows would count twice.
DERIVED_TABLES = {'recipientcount'}
_demo_snapshots: dict[tuple[str, date], tuple[list, dict[str, list[dict]]]] = {}


@pytest.fixture
def demo(db: str) -> list[tuple[str, str, str]]:
    """The demo data. Seeding is slow (hashing, weeks of stock history), so each backend seeds once per run
    and day; later tests get the same rows copied back in."""
    from services.demo import seed_demo
    url = os.environ['CVMS_DATABASE_URL']
    key = (url, date.today())
    if key not in _demo_snapshots:
        logins = seed_demo()
        with db_module.get_engine(url).connect() as conn:
            rows = {t.name: [dict(r) for r in conn.execute(t.select()).mappings()]
                    for t in SQLModel.metadata.sorted_tables if t.name not in DERIVED_TABLES}
        _demo_snapshots[key] = (logins, rows)
        return logins
    logins, rows = _demo_snapshots[key]
    engine = db_module.get_engine(url)
    with engine.begin() as conn:
        for table in SQLModel.metadata.sorted_tables:
            if rows.get(table.name):
                conn.execute(table.insert(), rows[table.name])
        if engine.dialect.name == 'postgresql':  # explicit ids do not move the sequences on
            for table in SQLModel.metadata.sorted_tables:
                if 'id' in table.c and table.c.id.autoincrement in (True, 'auto') and rows.get(table.name):
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
                                      f'(SELECT max(id) FROM "{table.name}"))'))
    return logins


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class SmtpServer:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives; it can be stopped and started."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self._controller = None

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802 - aiosmtpd's hook name
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content, policy=policy.default))
        return '250 OK'

    def start(self) -> None:
        from aiosmtpd.controller import Controller
        self._controller = Controller(self, hostname='127.0.0.1', port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m['To'] == address]

    async def wait_for(self, address: str, *, subject_contains: str = '', timeout: float = 15.0) -> list[EmailMessage]:
        """Deliver due mail and wait until a message to `address` (with that subject text) has arrived.
        The app's own background sender may deliver it first; both together never send twice."""
        from services.core import mail
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            await mail.deliver_due()
            found = [m for m in self.to(address) if subject_contains in str(m['Subject'])]
            if found or asyncio.get_running_loop().time() > deadline:
                return found
            await asyncio.sleep(0.2)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    os.environ.update({'CVMS_SMTP_HOST': '127.0.0.1', 'CVMS_SMTP_PORT': str(server.port)})
    reset_settings()
    yield server
    server.stop()
    os.environ['CVMS_SMTP_HOST'] = ''
    reset_settings()


def body_of(message: EmailMessage) -> str:
    """The plain-text body of a received email."""
    part = message.get_body(preferencelist=('plain',))
    return part.get_content() if part is not None else ''


@pytest.fixture
def registry() -> Iterator[object]:
    """The state registry simulator (tests/registry_sim.py), reached over MLLP; clients time out after 1 s."""
    yield from _registry_over('mllp')


@pytest.fixture
def soap_registry() -> Iterator[object]:
    """The same simulator, reached over SOAP (the CDC WSDL's submitSingleMessage)."""
    yield from _registry_over('soap')


def _registry_over(transport: str) -> Iterator[object]:
    from tests.registry_sim import RegistrySimulator
    sim = RegistrySimulator()
    settings = {'CVMS_IIS_TIMEOUT_SECONDS': '1', 'CVMS_IIS_QUERY_TIMEOUT_SECONDS': '1'}
    if transport == 'mllp':
        settings.update({'CVMS_IIS_MLLP_HOST': '127.0.0.1', 'CVMS_IIS_MLLP_PORT': str(sim.mllp_port)})
    else:
        settings.update({'CVMS_IIS_SOAP_URL': sim.soap_url, 'CVMS_IIS_SOAP_USERNAME': 'cvms',
                         'CVMS_IIS_SOAP_PASSWORD': 'secret', 'CVMS_IIS_SOAP_FACILITY_ID': 'NC0001'})
    os.environ.update(settings)
    reset_settings()
    yield sim
    sim.stop()
    for name in settings:
        os.environ.pop(name, None)
    reset_settings()
