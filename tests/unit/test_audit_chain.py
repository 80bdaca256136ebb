"""The audit trail as a hash chain (issue 12 item 7): verify-audit finds the first changed, inserted or deleted
row, on SQLite and PostgreSQL, and writers at once keep one unbroken chain."""
from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from models import AuditEvent, utcnow
from services.core import audit
from services.core.db import is_postgres, session_scope
from tests.unit.test_cli import data_dir, run_cli  # noqa: F401 - data_dir is a fixture


def chain_of(n: int) -> list[int]:
    for i in range(n):
        audit.record_now(action='test_event', entity_type='recipient', entity_id=i, detail=f'event {i} é')
    with session_scope(read_only=True) as session:
        return list(session.exec(select(AuditEvent.id).order_by(AuditEvent.id)))


def execute(sql: str, **values: object) -> None:
    with session_scope() as session:
        session.execute(text(sql), values)


def test_an_untouched_chain_verifies(db) -> None:
    assert audit.verify_chain() is None  # empty
    chain_of(5)
    assert audit.verify_chain() is None


def test_a_changed_row_is_found(db) -> None:
    ids = chain_of(5)
    execute('UPDATE auditevent SET detail = :d WHERE id = :id', d='nothing to see', id=ids[2])
    problem = audit.verify_chain()
    assert (problem.kind, problem.row_id) == ('changed', ids[2])
    # the last row too (nothing follows it: the head tells)
    execute('UPDATE auditevent SET detail = :d WHERE id = :id', d='event 2 é', id=ids[2])
    execute('UPDATE auditevent SET actor_email = :e WHERE id = :id', e='someone@else.org', id=ids[4])
    problem = audit.verify_chain()
    assert (problem.kind, problem.row_id) == ('changed', ids[4])


def test_a_deleted_row_is_found_in_the_middle_at_the_start_and_at_the_end(db) -> None:
    ids = chain_of(6)
    execute('DELETE FROM auditevent WHERE id = :id', id=ids[3])
    problem = audit.verify_chain()
    assert (problem.kind, problem.row_id) == ('deleted', ids[4])
    assert f'after row {ids[2]}' in problem.message


def test_deleted_rows_at_the_start_or_the_end_are_found(db) -> None:
    ids = chain_of(4)
    execute('DELETE FROM auditevent WHERE id = :id', id=ids[-1])
    problem = audit.verify_chain()
    assert problem.kind == 'deleted' and f'after row {ids[-2]}' in problem.message
    execute('DELETE FROM auditevent WHERE id = :id', id=ids[0])
    assert audit.verify_chain().kind == 'deleted'


def _forged(row_id: int, prev_hash: str, place: int) -> dict:
    event = AuditEvent(id=row_id, at=utcnow(), action='login', actor_email='intruder@example.org', detail='')
    return {'id': row_id, 'at': event.at, 'prev': prev_hash, 'hash': audit.row_hash(event, prev_hash), 'seq': place}


INSERT = ("INSERT INTO auditevent (id, at, action, actor_email, detail, prev_hash, row_hash, chain_seq) "
          "VALUES (:id, :at, 'login', 'intruder@example.org', '', :prev, :hash, :seq)")


def test_an_inserted_row_is_found_even_with_a_correctly_computed_hash(db) -> None:
    ids = chain_of(3)
    execute(INSERT, **_forged(0, audit.GENESIS, place=0))  # before the first row, chained as the algorithm says
    problem = audit.verify_chain()
    assert (problem.kind, problem.row_id) == ('inserted', 0)
    execute('DELETE FROM auditevent WHERE id = 0')
    with session_scope(read_only=True) as session:
        last = session.exec(select(AuditEvent).where(AuditEvent.id == ids[-1])).one()
    execute(INSERT, **_forged(ids[-1] + 1, last.row_hash, place=last.chain_seq + 1))  # after the last one
    problem = audit.verify_chain()
    assert (problem.kind, problem.row_id) == ('inserted', ids[-1] + 1)
    execute('UPDATE auditevent SET row_hash = :h WHERE id = :id', h='f' * 64, id=ids[-1] + 1)  # a clumsy forgery
    assert audit.verify_chain().kind == 'inserted'


def test_writers_at_once_keep_one_chain(db) -> None:
    def write(n: int) -> None:
        for i in range(10):
            audit.record_now(action='test_event', detail=f'writer {n} event {i}')

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with session_scope(read_only=True) as session:
        assert len(session.exec(select(AuditEvent.id)).all()) == 40
    assert audit.unsealed_count() == 0  # each writer's row was sealed before record_now returned
    assert audit.verify_chain() is None


def test_an_audit_row_waits_for_no_other_writers_commit(db) -> None:
    """A long unit of work that wrote an audit row (a bulk chunk, a desk's dose) does not hold up everyone else's
    audited reads until it commits (before: its lock on the chain's head did, on PostgreSQL; SQLite writers take
    turns anyway), and its row joins the chain once it commits."""
    if not is_postgres():
        pytest.skip('SQLite has one writer at a time: its writers queue on the database, not on the chain')
    audit.record_now(action='test_event', detail='before')
    written, release = threading.Event(), threading.Event()

    def long_unit() -> None:
        with session_scope() as session:
            audit.record(session, action='test_event', detail='long unit of work')
            session.flush()
            written.set()
            release.wait(10)

    holder = threading.Thread(target=long_unit)
    holder.start()
    try:
        assert written.wait(10)
        started = time.monotonic()
        for i in range(5):
            audit.record_now(action='test_event', detail=f'read {i}')
        assert time.monotonic() - started < 2.0
        assert audit.verify_chain() is None
    finally:
        release.set()
        holder.join()
    assert audit.unsealed_count() == 0 and audit.verify_chain() is None
    with session_scope(read_only=True) as session:
        order = session.exec(select(AuditEvent.detail).order_by(AuditEvent.chain_seq)).all()
    assert order[-1] == 'long unit of work'  # chained when it committed, after the reads it had let through


def test_a_row_left_unsealed_is_sealed_by_the_background_work(db) -> None:
    chain_of(2)
    execute("INSERT INTO auditevent (at, action, detail) VALUES (:at, 'test_event', 'written, not sealed')",
            at=utcnow())
    assert audit.unsealed_count() == 1
    assert audit.seal_pending() == 1 and audit.unsealed_count() == 0
    assert audit.verify_chain() is None


def test_verify_audit_command(data_dir: Path) -> None:  # noqa: F811
    assert run_cli(data_dir, 'init-db').returncode == 0
    assert run_cli(data_dir, 'create-user', '--email', 'chief@example.org', '--role', 'state_admin').returncode == 0
    result = run_cli(data_dir, 'verify-audit')
    assert result.returncode == 0 and 'intact' in result.stdout
    with sqlite3.connect(data_dir / 'cvms.sqlite3') as conn:
        conn.execute("UPDATE auditevent SET detail = 'role=healthcare_provider'")
    result = run_cli(data_dir, 'verify-audit')
    assert result.returncode == 1 and 'was changed' in result.stdout, result.stdout + result.stderr
