"""Bulk writes straight through the database driver: one prepared statement for many rows (SQLite executemany,
PostgreSQL COPY), ids taken up front, timestamps written once. SQLAlchemy's per-row parameter processing
costs more than the database itself at 100,000 rows, so the import's hot inserts come through here."""
from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime

import psycopg
from sqlalchemy import Connection, Table, func, select, text
from sqlalchemy.exc import IntegrityError

from .sql_time import timestamp

# A unique key taken meanwhile by someone else: SQLAlchemy's error, or the driver's own from the raw writes below.
INTEGRITY_ERRORS = (IntegrityError, sqlite3.IntegrityError, psycopg.errors.IntegrityError)


# SQLite page cache for the connection running a High Volume job (KiB, negative = size): a chunk's inserts land
# at random places in the recipient indexes (about 40 MB each at a million rows); the default 2 MB cache reads
# most of those pages again for every chunk. Kept within the job's 300 MB memory budget.
SQLITE_JOB_CACHE_KIB = 96 * 1024


def bulk_pragmas(session) -> None:  # noqa: ANN001
    """Per-connection settings for bulk loading; durability (WAL, synchronous=NORMAL) stays as it is."""
    conn = session.connection()
    if conn.dialect.name == 'sqlite':
        conn.exec_driver_sql(f'PRAGMA cache_size=-{SQLITE_JOB_CACHE_KIB}')


def allocate_ids(conn: Connection, table: Table, count: int) -> list[int]:
    """`count` fresh primary keys for `table`, taken inside the caller's transaction."""
    if count == 0:
        return []
    if conn.dialect.name == 'postgresql':
        rows = conn.execute(text('SELECT nextval(pg_get_serial_sequence(:t, :c)) FROM generate_series(1, :n)'),
                            {'t': table.name, 'c': 'id', 'n': count})
        return [r[0] for r in rows]
    # SQLite: the transaction began with BEGIN IMMEDIATE, so no one else can write until it ends.
    start = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    return list(range(start + 1, start + 1 + count))


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
