"""The job engine (procrastinate, docs/adr/0010) for background work on PostgreSQL: a job is deferred in the same
transaction as the row that causes it, any running worker takes it, a worker that stops giving signs of life has
its jobs taken over by another, and periodic work is deferred once per period whichever workers run.
On SQLite there is no engine: the background loops of services/background.py run the same task functions
in-process, and defer() leaves the row itself as the only record of the work to do."""
from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

from sqlalchemy import func, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from models import OutboxMessage, utcnow
from services.core.db import is_postgres, session_scope
from services.core.settings import get_settings

if TYPE_CHECKING:  # procrastinate (and psycopg) load only where the engine runs: SQLite commands start faster
    import procrastinate

log = logging.getLogger(__name__)

# The engine's own tables (migration 0009); tests empty them with ours.
ENGINE_TABLES = ('procrastinate_events', 'procrastinate_periodic_defers', 'procrastinate_jobs', 'procrastinate_workers')
RETRY_STALLED_TASK = 'engine.retry_stalled_jobs'


def uses_engine() -> bool:
    """True on PostgreSQL: jobs go through the engine. On SQLite the background loops find the work themselves."""
    return is_postgres()


def defer(session: Session, task_name: str, *, queueing_lock: str | None = None, **task_kwargs: object) -> int | None:
    """Defer a job inside the caller's unit of work: it exists if and only if the caller's change commits.
    Returns the engine's job id (None on SQLite, where the caller's row is the record of the work)."""
    if not uses_engine():
        return None
    connection = session.connection().connection.driver_connection  # the psycopg connection of this transaction
    deferrer = _deferring_app().configure_task(task_name, connection=connection, queueing_lock=queueing_lock)
    return deferrer.defer(**task_kwargs)


@lru_cache(maxsize=1)
def _deferring_app() -> procrastinate.App:
    import procrastinate
    # Never opened: every defer runs on the caller's own connection.
    return procrastinate.App(connector=procrastinate.SyncPsycopgConnector())


def conninfo() -> str:
    """The database URL as libpq (and so procrastinate's psycopg pool) reads it."""
    url = make_url(get_settings().resolved_database_url).set(drivername='postgresql')
    return url.render_as_string(hide_password=False)


def worker_name() -> str:
    return f'{socket.gethostname()}:{os.getpid()}'


def engine_app(register: Callable[[procrastinate.App], None]) -> procrastinate.App:
    """A procrastinate app for running a worker, with the tasks `register` adds and the engine's own upkeep."""
    import procrastinate
    settings = get_settings()
    # The engine logs every job's start and end at INFO, and the stall check runs every few seconds.
    logging.getLogger('procrastinate').setLevel(logging.WARNING)
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(
        conninfo=conninfo(), min_size=1, max_size=settings.worker_concurrency + 3))
    register(app)
    every = max(1, min(59, round(settings.job_lease_seconds / 3)))

    @app.periodic(cron=f'* * * * * */{every}', periodic_id='retry-stalled')
    @app.task(name=RETRY_STALLED_TASK, queueing_lock=RETRY_STALLED_TASK)
    async def retry_stalled_jobs(timestamp: int) -> None:  # noqa: ARG001 - the engine passes the period's time
        await _retry_stalled(app)

    return app


async def _retry_stalled(app: procrastinate.App) -> int:
    """Jobs of workers silent for longer than the lease go back to the queue, for any worker to take."""
    lease = get_settings().job_lease_seconds
    stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=lease)
    for job in stalled:
        log.warning('taking over job %s (%s): its worker has been silent for over %.0f s', job.id, job.task_name,
                    lease)
        await app.job_manager.retry_job(job)
    return len(stalled)


async def run_engine_worker(app: procrastinate.App, stop: asyncio.Event) -> None:
    """Run a worker of the engine in this event loop until `stop` is set. A job still running then is asked to
    stop (sync tasks check JobContext.should_abort between their units of work) and goes back to the queue."""
    settings = get_settings()
    lease = settings.job_lease_seconds
    async with app.open_async():
        worker = asyncio.create_task(app.run_worker_async(
            name=worker_name(), concurrency=settings.worker_concurrency, install_signal_handlers=False,
            update_heartbeat_interval=lease / 3, stalled_worker_timeout=lease, shutdown_graceful_timeout=0,
            fetch_job_polling_interval=min(5.0, lease / 3), abort_job_polling_interval=min(5.0, lease / 3),
            delete_jobs='successful'))  # the periodic stall check alone would add thousands of rows a day
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({worker, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not worker.done():
                worker.cancel()
            try:
                await worker
            except asyncio.CancelledError:
                pass


def queue_health() -> dict[str, object]:
    """Is background work moving? For /healthz: `ok` is false when jobs wait and no worker is alive to take
    them, or a job's worker has been silent for longer than twice the lease (nobody took it over)."""
    lease = get_settings().job_lease_seconds
    health: dict[str, object] = {'ok': False, 'engine': 'procrastinate' if uses_engine() else 'in-process'}
    try:
        with session_scope(read_only=True) as session:
            if uses_engine():
                health.update(_engine_counts(session, lease))
            health.update(_outbox_counts(session))
    except Exception as error:  # noqa: BLE001 - any failure means "not healthy", with the reason
        health['error'] = str(error)[:200]
        return health
    waiting_without_workers = health.get('jobs_waiting', 0) and not health.get('workers_alive', 1)
    health['ok'] = not waiting_without_workers and not health.get('jobs_stuck', 0)
    return health


def _engine_counts(session: Session, lease: float) -> dict[str, object]:
    row = session.execute(text("""
        SELECT count(*) FILTER (WHERE status = 'todo' AND (scheduled_at IS NULL OR scheduled_at <= now())),
               count(*) FILTER (WHERE status = 'doing'),
               (SELECT count(*) FROM procrastinate_workers
                 WHERE last_heartbeat >= now() - make_interval(secs => :lease)),
               count(*) FILTER (WHERE status = 'doing' AND NOT EXISTS (
                   SELECT 1 FROM procrastinate_workers w WHERE w.id = procrastinate_jobs.worker_id
                      AND w.last_heartbeat >= now() - make_interval(secs => :stuck)))
          FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"""), {'lease': lease, 'stuck': 2 * lease}).one()
    return {'jobs_waiting': row[0], 'jobs_running': row[1], 'workers_alive': row[2], 'jobs_stuck': row[3]}


def _outbox_counts(session: Session) -> dict[str, object]:
    now = utcnow()
    due = session.exec(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == 'pending')
                       .where(OutboxMessage.next_attempt_at <= now)).one()
    orphaned = session.exec(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == 'sending')
                            .where(OutboxMessage.claimed_until < now)).one()  # their sender died; next round takes them
    return {'mail_due': due, 'mail_claims_expired': orphaned}

