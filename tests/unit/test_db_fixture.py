"""The `db` fixture (tests/conftest.py) empties the database as TRUNCATE ... RESTART IDENTITY did, on both backends:
every table empty (the stock ledger too, whose rows PostgreSQL refuses to delete, and the counts its triggers keep),
and ids counted from 1 again."""
from __future__ import annotations

import os
from datetime import UTC, datetime

from sqlalchemy import func, insert, select
from sqlmodel import SQLModel

from models import OutboxMessage
from services.core.db import get_engine
from tests.conftest import _empty_all_tables
from tests.factories import recipient, stocked_lot


def test_emptying_leaves_every_table_empty_and_ids_counted_from_one(demo) -> None:  # noqa: ANN001
    stocked_lot(doses=5)
    recipient()
    engine = get_engine()
    with engine.connect() as conn:
        assert all(conn.execute(select(func.count()).select_from(SQLModel.metadata.tables[name])).scalar()
                   for name in ('ledgerentry', 'recipient', 'recipientcount', 'user'))
    _empty_all_tables(os.environ['CVMS_DATABASE_URL'])
    with engine.begin() as conn:
        assert {t.name: conn.execute(select(func.count()).select_from(t)).scalar()
                for t in SQLModel.metadata.sorted_tables} == dict.fromkeys(SQLModel.metadata.tables, 0)
        new = conn.execute(insert(OutboxMessage.__table__).returning(OutboxMessage.__table__.c.id), {  # type: ignore[attr-defined]
            'to_addr': 'a@example.org', 'subject': 's', 'body_text': 'b', 'status': 'pending',
            'created_at': datetime.now(UTC), 'next_attempt_at': datetime.now(UTC)}).scalar()
    assert new == 1
