"""A timestamp written once into a bulk INSERT statement instead of being converted again for every row."""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, literal_column
from sqlalchemy.sql.elements import ColumnElement


def timestamp(conn: Connection, moment: datetime) -> ColumnElement:
    """`moment` (aware) as SQL, stored exactly as SQLModel's UTCDateTime stores it on this backend."""
    utc = moment.astimezone(UTC)
    if conn.dialect.name == 'sqlite':  # naive UTC text, SQLAlchemy's SQLite DateTime format
        return literal_column(f"'{utc.replace(tzinfo=None).isoformat(sep=' ', timespec='microseconds')}'")
    return literal_column(f"TIMESTAMPTZ '{utc.isoformat()}'")
