"""Live desk updates across app instances: an appointment change sends NOTIFY inside its own transaction, and each
instance's listener publishes the other processes' changes to its own desks (PostgreSQL; SQLite stays in-process)."""
from __future__ import annotations

import asyncio
from collections.abc import Iterator

import psycopg
import pytest
from sqlmodel import select

from models.clinic import Appointment, AppointmentStatus
from services.clinic import events, walkin
from services.core import queue
from services.core.db import session_scope
from tests import factories as fx


@pytest.fixture
def postgres(db: str) -> str:
    if db != 'postgres':
        pytest.skip('NOTIFY is PostgreSQL\'s; SQLite has one instance and publishes in-process')
    return db


@pytest.fixture
def other_instance(postgres: str) -> Iterator[psycopg.Connection]:
    """A connection listening as another app instance would."""
    with psycopg.connect(queue.conninfo(), autocommit=True) as connection:
        connection.execute(f'LISTEN {events.CHANNEL}')
        yield connection


def _heard(connection: psycopg.Connection) -> list[str]:
    return [note.payload for note in connection.notifies(timeout=0.5)]


def test_a_walk_in_notifies_other_instances_once_at_commit(demo, other_instance) -> None:  # noqa: ANN001
    location_id = fx.location().id
    walkin.start_walk_in(principal=fx.principal(fx.PROVIDER), recipient_id=fx.recipient())
    assert _heard(other_instance) == [f'{events._PROCESS} {location_id}']


def test_a_change_rolled_back_notifies_nobody(demo, other_instance) -> None:  # noqa: ANN001
    with pytest.raises(RuntimeError), session_scope() as session:
        appointment = session.exec(select(Appointment)).first()
        appointment.status = AppointmentStatus.CHECKED_IN
        session.add(appointment)
        session.flush()
        raise RuntimeError('the unit of work fails after writing')
    assert _heard(other_instance) == []


async def test_the_listener_publishes_what_other_processes_changed(postgres: str) -> None:
    stop = asyncio.Event()
    elsewhere, here = asyncio.Event(), asyncio.Event()
    unsubscribe = [events.subscribe(4242, elsewhere.set), events.subscribe(4343, here.set)]
    listening = asyncio.create_task(events.listen_across_instances(stop))
    try:
        for _ in range(50):
            if events.live_updates_state() == 'listening':
                break
            await asyncio.sleep(0.1)
        with psycopg.connect(queue.conninfo(), autocommit=True) as connection:
            connection.execute(f"SELECT pg_notify('{events.CHANNEL}', '{events._PROCESS} 4343')")  # our own change
            connection.execute(f"SELECT pg_notify('{events.CHANNEL}', 'another-instance 4242')")
        await asyncio.wait_for(elsewhere.wait(), timeout=2)
        assert not here.is_set()  # this process published its own change already, after its commit
    finally:
        stop.set()
        await asyncio.wait_for(listening, timeout=5)
        for undo in unsubscribe:
            undo()
    assert events.live_updates_state() == 'not listening'


async def test_on_sqlite_updates_stay_in_process(db: str) -> None:
    if db != 'sqlite':
        pytest.skip('the SQLite case')
    assert events.live_updates_state() == 'in-process'
    await asyncio.wait_for(events.listen_across_instances(asyncio.Event()), timeout=1)  # returns at once
