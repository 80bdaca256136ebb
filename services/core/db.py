"""Engine, short unit-of-work sessions, and schema migrations (Alembic) for SQLite and PostgreSQL."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event, text
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, create_engine

import models  # noqa: F401 - registers every table on SQLModel.metadata
import services.recipients.identity  # noqa: F401 - recipients' folded name keys follow every ORM write
from services.core.fast_sql import undo_bulk_pragmas
from services.core.settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / 'migrations'

_engines: dict[str, Engine] = {}  # one pool per database URL for the whole process
_readers: dict[str, Engine] = {}  # the same pools, for read-only units of work
READ_ONLY = 'cvms_read_only'


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001
    cursor = dbapi_connection.cursor()
    cursor.execute('PRAGMA journal_mode=WAL')  # readers never wait for the writer
    cursor.execute('PRAGMA foreign_keys=ON')
    cursor.execute('PRAGMA synchronous=NORMAL')  # safe with WAL, far fewer fsyncs
    cursor.execute('PRAGMA busy_timeout=10000')
    cursor.close()


class _Turnstile:
    """This process's writers waiting for SQLite's write lock. SQLite's busy handler polls (every 100 ms at
    most), so a job committing chunk after chunk takes the lock back before a waiting writer looks again: a
    check-in or a log-in would wait for the whole upload. The job lets them in between its chunks."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._waiting = 0

    @contextmanager
    def waiting(self) -> Iterator[None]:
        with self._changed:
            self._waiting += 1
        try:
            yield
        finally:
            with self._changed:
                self._waiting -= 1
                self._changed.notify_all()

    def let_in(self, timeout: float) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._waiting == 0, timeout)


_turnstile = _Turnstile()


def let_waiting_writers_in(timeout: float = 5.0) -> None:
    """Between the units of work of a long series (a High Volume job): wait until this process's writers that
    are waiting for SQLite's write lock have it (at most `timeout` seconds). Immediate when nobody waits."""
    _turnstile.let_in(timeout)


def _begin_sqlite(conn) -> None:  # noqa: ANN001
    if conn.get_execution_options().get(READ_ONLY):
        conn.exec_driver_sql('BEGIN')
        return
    with _turnstile.waiting():
        conn.exec_driver_sql('BEGIN IMMEDIATE')


def make_engine(url: str) -> Engine:
    if url.startswith('sqlite'):
        kwargs: dict = {'connect_args': {'check_same_thread': False, 'timeout': 10}}
        if url in ('sqlite://', 'sqlite:///:memory:'):
            kwargs['poolclass'] = StaticPool
        engine = create_engine(url, **kwargs)
        event.listen(engine, 'connect', _sqlite_pragmas)
        # pysqlite's own BEGIN handling defers locks; take the write lock at BEGIN so
        # read-then-write units of work (stock checks, duplicate checks) serialize cleanly.
        # A read-only unit of work (session_scope(read_only=True)) begins deferred: it takes no lock, so a long
        # writer (a High Volume chunk) never makes a search or a progress poll wait.
        event.listen(engine, 'begin', _begin_sqlite)

        event.listen(engine, 'checkin', undo_bulk_pragmas)

        @event.listens_for(engine, 'connect')
        def _no_implicit_begin(dbapi_connection, _record) -> None:  # noqa: ANN001
            dbapi_connection.isolation_level = None
        return engine
    if url.startswith('postgresql://'):
        url = 'postgresql+psycopg://' + url.removeprefix('postgresql://')
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def get_engine(url: str | None = None) -> Engine:
    url = url or get_settings().resolved_database_url
    if url not in _engines:
        _engines[url] = make_engine(url)
    return _engines[url]


def dispose_engines() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
    _readers.clear()


_scope_depth: ContextVar[int] = ContextVar('cvms_scope_depth', default=0)


def in_unit_of_work() -> bool:
    """True inside session_scope (in this thread or task)."""
    return _scope_depth.get() > 0


def _reader(url: str | None = None) -> Engine:
    engine = get_engine(url)
    key = str(engine.url)
    if key not in _readers:
        _readers[key] = engine.execution_options(**{READ_ONLY: True})
    return _readers[key]


class WroteInReadOnlyUnit(RuntimeError):
    """A unit of work opened with read_only=True tried to write: it must be a plain session_scope()."""


def _refuse_writes(session: Session, _context, _instances) -> None:  # noqa: ANN001
    changed = [o for o in session.dirty if session.is_modified(o)]
    if session.new or session.deleted or changed:
        raise WroteInReadOnlyUnit(f'a read-only unit of work would write {[*session.new, *session.deleted, *changed]}')


@contextmanager
def session_scope(*, read_only: bool = False) -> Iterator[Session]:
    """One short unit of work: commits on success, rolls back on any error. `read_only=True` for work that only
    reads: on SQLite it then takes no write lock and never waits for a writer (it sees the last commit); an ORM
    write in it raises WroteInReadOnlyUnit instead of taking the lock behind the caller's back.

    An error may carry `after_rollback` work (e.g. auditing a refusal): it runs once the outermost unit of
    work has rolled back and released its locks, in a unit of work of its own, so it is never lost with
    the rollback and never waits for the lock the failed work held."""
    depth = _scope_depth.set(_scope_depth.get() + 1)
    try:
        with Session(_reader() if read_only else get_engine(), expire_on_commit=False) as session:
            if read_only:
                event.listen(session, 'before_flush', _refuse_writes)
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
    except BaseException as error:
        _scope_depth.reset(depth)
        pending = getattr(error, 'after_rollback', None)
        if pending and not in_unit_of_work():
            error.after_rollback = None  # type: ignore[attr-defined]
            with session_scope() as session:
                pending(session)
        raise
    else:
        _scope_depth.reset(depth)


def is_postgres() -> bool:
    return get_engine().dialect.name == 'postgresql'


def engine_object(name: str | None) -> bool:
    """A table or index of the job engine (migration 0009), or of the knowledge base's full-text search (migration
    0023: an FTS5 table on SQLite, a GIN index on PostgreSQL): their own schema, which our models do not describe."""
    return bool(name) and (name.startswith(('procrastinate_', 'idx_procrastinate_', 'kbsearch_')))


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option('script_location', str(MIGRATIONS_DIR))
    config.set_main_option('sqlalchemy.url', (url or get_settings().resolved_database_url).replace('%', '%%'))
    return config


# Any fixed number: PostgreSQL advisory locks are named by a 64-bit key shared by every process on the database.
MIGRATION_LOCK_KEY = 0x63766D73_6D696772  # 'cvms' 'migr'


def migrate(url: str | None = None) -> None:
    """Bring the schema up to date in place (every pending migration, on every branch).

    On PostgreSQL several instances starting at once migrate one after another under an advisory lock held to
    the end of the migrating transaction: the first upgrades, the others then find the schema at its head."""
    engine = get_engine(url)
    with engine.begin() as connection:
        if connection.dialect.name == 'postgresql':
            connection.execute(text('SELECT pg_advisory_xact_lock(:key)'), {'key': MIGRATION_LOCK_KEY})
        config = alembic_config(url)
        config.attributes['connection'] = connection
        command.upgrade(config, 'heads')


def ping() -> bool:
    try:
        with get_engine().connect() as connection:
            connection.execute(text('SELECT 1'))
        return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False
