"""Publish/subscribe for the clinic desk: when an appointment changes at a location, every desk showing that
location's Today's Appointments is told to refresh, on every app instance.

Services publish after their transaction commits; pages subscribe one callback per connected client and
unsubscribe when the client disconnects. Callbacks run in the publisher's thread, so a page's callback must
hand the work to its own event loop (loop.call_soon_threadsafe).

Across instances (PostgreSQL): any unit of work that changes an appointment sends NOTIFY inside its own
transaction, so other instances hear of exactly the committed changes, and nothing if it rolls back. Each serve
instance runs `listen_across_instances`, which re-publishes what the other instances (and worker processes)
changed to its own subscribers. On SQLite there is one instance and the in-process path is all
(docs/adr/0011-live-updates.md).
"""
from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable
from itertools import chain

from sqlalchemy import event, inspect, text
from sqlmodel import Session

from models.clinic import Appointment
from services.core import db, queue
from services.core.jobs import wait_or_stop

log = logging.getLogger(__name__)

CHANNEL = 'cvms_appointments'
# Names this process in its notifications: its own changes are already published in-process.
_PROCESS = uuid.uuid4().hex
RECONNECT_SECONDS = 2.0

_lock = threading.Lock()
_subscribers: dict[int, set[Callable[[], None]]] = {}  # location id -> callbacks; the process-wide registry
_listening = threading.Event()  # set while this process hears the other instances


def subscribe(location_id: int, callback: Callable[[], None]) -> Callable[[], None]:
    """Register `callback` for changes at `location_id`; returns the function that unsubscribes it."""
    with _lock:
        _subscribers.setdefault(location_id, set()).add(callback)

    def unsubscribe() -> None:
        with _lock:
            callbacks = _subscribers.get(location_id)
            if callbacks is not None:
                callbacks.discard(callback)
                if not callbacks:
                    _subscribers.pop(location_id, None)
    return unsubscribe


def publish(location_id: int | None) -> None:
    """Tell every subscriber of the location in this process that its appointments changed (call after commit;
    other instances hear of it from the commit's NOTIFY)."""
    if location_id is None:
        return
    with _lock:
        callbacks = list(_subscribers.get(location_id, ()))
    for callback in callbacks:
        try:
            callback()
        except Exception:  # one broken desk must not stop the others hearing about it
            log.exception('clinic event subscriber failed')


def subscriber_count(location_id: int) -> int:
    with _lock:
        return len(_subscribers.get(location_id, ()))


def live_updates_state() -> str:
    """For /healthz: 'in-process' (SQLite), 'listening' or 'not listening' (PostgreSQL: reconnecting, or stopped)."""
    if not db.is_postgres():
        return 'in-process'
    return 'listening' if _listening.is_set() else 'not listening'


async def listen_across_instances(stop: asyncio.Event) -> None:
    """Until `stop`: hear the appointment changes other processes commit and publish them here (PostgreSQL only).
    A lost connection is opened again; then every desk refreshes, as changes made meanwhile went unheard."""
    if not db.is_postgres():
        return
    import psycopg

    conninfo = queue.conninfo()
    reconnected = False
    while not stop.is_set():
        try:
            async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as connection:
                await connection.execute(f'LISTEN {CHANNEL}')
                _listening.set()
                if reconnected:
                    _publish_everywhere()
                while not stop.is_set():
                    async for note in connection.notifies(timeout=1.0):  # wakes each second to see `stop`
                        _heard(note.payload)
        except (psycopg.Error, OSError) as error:
            log.warning('live desk updates from other instances paused (%s); reconnecting', error)
        finally:
            _listening.clear()
        reconnected = True
        await wait_or_stop(stop, RECONNECT_SECONDS)


def _heard(payload: str) -> None:
    process, _, location = payload.partition(' ')
    if process != _PROCESS and location.isdigit():
        publish(int(location))


def _publish_everywhere() -> None:
    with _lock:
        locations = list(_subscribers)
    for location_id in locations:
        publish(location_id)


@event.listens_for(Session, 'after_flush')
def _notify_appointment_changes(session: Session, _flush_context: object) -> None:
    """Every flush that writes an appointment, in any process: NOTIFY in the same transaction, for its location
    and, when it moved, its former one. PostgreSQL delivers at commit and folds repeats within a transaction."""
    locations: set[int] = set()
    for row in chain(session.new, session.dirty, session.deleted):
        if isinstance(row, Appointment):
            locations.add(row.location_id)
            locations.update(inspect(row).attrs.location_id.history.deleted or ())
    locations.discard(None)  # type: ignore[arg-type]
    if not locations or session.get_bind().dialect.name != 'postgresql':
        return
    session.connection().execute(
        text('SELECT pg_notify(:channel, :process || \' \' || location) FROM unnest(CAST(:locations AS int[])) '
             'AS location'), {'channel': CHANNEL, 'process': _PROCESS, 'locations': sorted(locations)})
