"""Bulk writes straight through the database driver: one prepared statement for many rows (SQLite executemany,
PostgreSQL COPY), ids taken up front, timestamps written once. SQLAlchemy's per-row parameter processing
costs more than the database itself at 100,000 rows, so the import's hot inserts come through here."""
from __future__ import annotations

import sqlite3
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, Table, func, select, text
from sqlalchemy.exc import IntegrityError

from services.core.sql_time import timestamp


def integrity_errors() -> tuple[type[Exception], ...]:
    """A unique key taken meanwhile by someone else: SQLAlchemy's error, or the driver's own from the raw writes
    below. psycopg's counts only once PostgreSQL loaded it: importing it would slow every command-line start."""
    psycopg = sys.modules.get('psycopg')
    errors = (IntegrityError, sqlite3.IntegrityError)
    return (*errors, psycopg.errors.IntegrityError) if psycopg else errors


# SQLite page cache for the connection running a High Volume job (KiB, negative = size): a chunk's inserts land
# at random places in the recipient indexes (about 40 MB each at a million rows); the default 2 MB cache reads
# most of those pages again for every chunk. Kept within the job's 300 MB memory budget.
SQLITE_JOB_CACHE_KIB = 96 * 1024
_BULK = 'cvms_bulk_settings'


def bulk_pragmas(session) -> None:  # noqa: ANN001
    """Per-connection settings for bulk loading; durability (WAL, synchronous=NORMAL) stays as it is. SQLite:
    a bigger page cache, and no checkpoint after each commit (the job runs `checkpoint()` beside its next chunk
    instead of making every commit wait for one). Undone when the connection goes back to the pool."""
    conn = session.connection()
    if conn.dialect.name == 'postgresql':
        # psycopg prepares a statement run five times; PostgreSQL may then reuse a generic plan, in which a
        # 900-value IN is searched value by value for every row of a scanned table (76 s of a 91 s upload, the
        # portal-account look-up, planned while that table was small). Plan each look-up with its values.
        conn.exec_driver_sql('SET LOCAL plan_cache_mode = force_custom_plan')
        # The planner sizes a table by its last ANALYZE: portal accounts and users grow by a chunk at a time during
        # the job, faster than autovacuum analyzes them, so a look-up planned as a scan of a "one-row" table read
        # every account again for each chunk (3.4 s of a 100,000-row upload). Every query of a chunk has an index.
        conn.exec_driver_sql('SET LOCAL enable_seqscan = off')
    if conn.dialect.name == 'sqlite':
        conn.exec_driver_sql(f'PRAGMA cache_size=-{SQLITE_JOB_CACHE_KIB}')
        conn.exec_driver_sql('PRAGMA wal_autocheckpoint=0')
        conn.connection.info[_BULK] = True


def undo_bulk_pragmas(dbapi_connection, record) -> None:  # noqa: ANN001 - pool "checkin" event
    if record is not None and record.info.pop(_BULK, False):
        dbapi_connection.execute('PRAGMA cache_size=-2000')  # SQLite's defaults
        dbapi_connection.execute('PRAGMA wal_autocheckpoint=1000')


def checkpoint(engine: Engine) -> None:
    """SQLite: copy what is committed in the WAL into the database file, on a connection of its own. PASSIVE:
    it never waits for, nor blocks, readers or the writer; what it cannot copy yet, the next one does."""
    if engine.dialect.name == 'sqlite':
        raw = engine.raw_connection()  # outside any transaction (a checkpoint cannot run inside one)
        try:
            raw.driver_connection.execute('PRAGMA wal_checkpoint(PASSIVE)')
        finally:
            raw.close()


def allocate_ids(conn: Connection, table: Table, count: int) -> list[int]:
    """`count` fresh primary keys for `table`, taken inside the caller's transaction."""
    if count == 0:
        return []
    if conn.dialect.name == 'postgresql':
        # The server hands back runs of consecutive values (one run unless another writer took values of the
        # same sequence meanwhile) instead of one row per id: 10,000 rows to fetch and convert cost 60-80 ms a
        # chunk and table, the runs 15-25 ms.
        runs = conn.execute(text(
            'SELECT min(v), max(v) FROM (SELECT v, v - row_number() OVER (ORDER BY v) AS run FROM '
            '(SELECT nextval(CAST(:s AS regclass)) AS v FROM generate_series(1, :n)) AS ids) AS numbered '
            'GROUP BY run ORDER BY 1'), {'s': _sequence(conn, table.name), 'n': count})
        return [i for low, high in runs for i in range(low, high + 1)]
    # SQLite: the transaction began with BEGIN IMMEDIATE, so no one else can write until it ends.
    start = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    return list(range(start + 1, start + 1 + count))


_sequences: dict[str, str] = {}


def _sequence(conn: Connection, table: str) -> str:
    """The name of `table`'s id sequence (PostgreSQL), looked up once per process: inside the statement above,
    pg_get_serial_sequence ran once per id."""
    if table not in _sequences:
        _sequences[table] = conn.execute(text('SELECT pg_get_serial_sequence(:t, :c)'), {'t': table, 'c': 'id'}
                                         ).scalar_one()
    return _sequences[table]


def fetch_in(conn: Connection, query: str, values: Sequence[object], *, size: int = 900) -> list[tuple]:
    """Rows of `query`, whose `IN ({marks})` is the placeholder list of an IN, for all `values`: through the
    driver, as compiling a 900-parameter SQLAlchemy IN for every chunk cost more than running it. SQLite: `size`
    values a statement. PostgreSQL: one statement, the values as one array (`= ANY(%s)`)."""
    if not values:
        return []
    if conn.dialect.name == 'postgresql':
        return conn.exec_driver_sql(query.replace('IN ({marks})', '= ANY(%s)'), (list(values),)).all()
    found: list[tuple] = []
    for start in range(0, len(values), size):
        part = tuple(values[start:start + size])
        found.extend(conn.exec_driver_sql(query.format(marks=', '.join(['?'] * len(part))), part).all())
    return found


def insert_rows(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[object]],
                *, constants: dict[str, object] | None = None) -> None:
    """INSERT `rows` (tuples in `columns` order, values the driver understands) plus `constants`, the same
    for every row (aware datetimes allowed)."""
    if not rows:
        return
    constants = constants or {}
    raw = conn.connection.driver_connection
    quoted = [f'"{c}"' for c in [*columns, *constants]]
    if conn.dialect.name == 'postgresql':
        extra = tuple(v.astimezone(UTC) if isinstance(v, datetime) else v for v in constants.values())
        with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({", ".join(quoted)}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row((*row, *extra))
        return
    literals = [_sqlite_literal(conn, v) for v in constants.values()]
    placeholders = ', '.join(['?'] * len(columns) + literals)
    cursor = raw.cursor()
    try:
        sql = f'INSERT INTO "{table.name}" ({", ".join(quoted)}) VALUES ({placeholders})'  # noqa: S608 - our names
        cursor.executemany(sql, rows)
    finally:
        cursor.close()


# Migration 0007's SQLite row trigger on recipient inserts, verbatim: it runs one upsert per inserted row.
SQLITE_COUNT_TRIGGER = '''CREATE TRIGGER recipientcount_insert AFTER INSERT ON recipient BEGIN
         INSERT INTO recipientcount (location_id, organization_id, n)
         VALUES (coalesce(NEW.location_id, 0), coalesce(NEW.organization_id, 0), 1)
         ON CONFLICT (location_id, organization_id) DO UPDATE SET n = n + 1;
       END'''


def insert_recipients(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[object]],
                      *, constants: dict[str, object]) -> None:
    """insert_rows for recipients whose ids (the first column) were just allocated, all into the one
    (location_id, organization_id) of `constants`, keeping `recipientcount` exact with one grouped upsert.

    SQLite: the per-row trigger is taken off for this statement only, inside the caller's write transaction
    (BEGIN IMMEDIATE: no other writer can insert meanwhile; readers keep seeing the committed schema; a rollback
    restores it), and put back before the transaction ends. The rows counted are the ones actually in the table
    within the allocated id range, so the count stays exact even if the insert stops partway.
    PostgreSQL: its statement trigger already counts a COPY with one grouped upsert."""
    if conn.dialect.name != 'sqlite' or not rows:
        insert_rows(conn, table, columns, rows, constants=constants)
        return
    first_id, last_id = min(r[0] for r in rows), max(r[0] for r in rows)
    conn.exec_driver_sql('DROP TRIGGER recipientcount_insert')
    try:
        insert_rows(conn, table, columns, rows, constants=constants)
    finally:
        conn.exec_driver_sql(
            'INSERT INTO recipientcount (location_id, organization_id, n) '
            'SELECT coalesce(?, 0), coalesce(?, 0), count(*) FROM recipient WHERE id BETWEEN ? AND ? '
            'ON CONFLICT (location_id, organization_id) DO UPDATE SET n = n + excluded.n',
            (constants.get('location_id'), constants.get('organization_id'), first_id, last_id))
        conn.exec_driver_sql(SQLITE_COUNT_TRIGGER)


def _sqlite_literal(conn: Connection, value: object) -> str:
    if isinstance(value, datetime):
        return str(timestamp(conn, value))
    if value is None:
        return 'NULL'
    if isinstance(value, bool):
        return '1' if value else '0'
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"
