"""All background work in one place: High Volume upload jobs, the mail sender, the clinic's dose reminders and
no-shows, the registry messages and deleting expired log-in failure counters. `main.py worker` runs it alone;
`main.py serve` runs it in-process too unless started with --no-jobs (or CVMS_RUN_JOBS=false). On PostgreSQL the job
engine (services/core/queue.py, docs/adr/0010) shares the jobs among every running worker; on SQLite the same task
functions run in loops of this process.
Nothing here is reset at start-up: work belongs to whoever holds its lease (the engine's worker heartbeat, the
outbox's claims), and only work whose owner has gone silent is taken over."""
from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from models.bulk import BulkUpload
from services.accounts import auth
from services.bulk import registration as bulk
from services.clinic import reminders
from services.core import audit, mail, queue
from services.core.db import session_scope
from services.core.jobs import wait_or_stop
from services.core.settings import get_settings
from services.registry import sending as registry_sending

if TYPE_CHECKING:
    import procrastinate

log = logging.getLogger(__name__)

CLINIC_TASK = 'clinic.daily_jobs'
PRUNE_TASK = 'accounts.prune_login_throttle'
SEAL_AUDIT_TASK = 'audit.seal_pending'
PRUNE_CRON = '17 * * * *'  # hourly: a counter lives at most its window (an hour) plus this


def register_tasks(app: procrastinate.App) -> None:
    """The engine's tasks: the same functions the in-process loops call on SQLite."""
    import procrastinate

    # Retried only when it stopped between chunks for a shutdown (back in the queue, for any worker); a job whose
    # worker died is requeued by the engine's stall check.
    @app.task(name=bulk.UPLOAD_TASK, pass_context=True,
              retry=procrastinate.RetryStrategy(retry_exceptions={procrastinate.exceptions.JobAborted}))
    def process_upload(context: procrastinate.JobContext, upload_id: int) -> None:
        log.info('upload %s: processing on worker %s', upload_id, queue.worker_name())
        summary = bulk.run_job(upload_id, take_over=True, should_stop=context.should_abort)
        if summary is not None and summary.status == 'queued':
            raise procrastinate.exceptions.JobAborted(f'upload {upload_id} stopped between chunks')

    @app.task(name=registry_sending.SEND_TASK)
    def send_registry_message(message_id: int) -> None:
        registry_sending.send_message(message_id)

    # Retries after a back-off, messages that waited behind an earlier one of their dose, and claims of dead workers.
    @app.periodic(cron=f'* * * * * */{get_settings().iis_sweep_seconds}', periodic_id='registry-sweep')
    @app.task(name=registry_sending.SWEEP_TASK, queueing_lock=registry_sending.SWEEP_TASK)
    def sweep_registry_messages(timestamp: int) -> None:  # noqa: ARG001 - the engine passes the period's time
        registry_sending.send_due()

    @app.periodic(cron=get_settings().clinic_jobs_cron, periodic_id='clinic')
    @app.task(name=CLINIC_TASK, queueing_lock=CLINIC_TASK)
    def clinic_daily_jobs(timestamp: int) -> None:  # noqa: ARG001 - the engine passes the period's time
        clinic_jobs()

    @app.periodic(cron=PRUNE_CRON, periodic_id='prune-login-throttle')
    @app.task(name=PRUNE_TASK, queueing_lock=PRUNE_TASK)
    def prune_login_throttle(timestamp: int) -> None:  # noqa: ARG001 - the engine passes the period's time
        login_throttle_upkeep()

    # Writers seal their audit rows right after their commit; this catches any that one could not (ADR 0014).
    @app.periodic(cron='* * * * *', periodic_id='seal-audit-rows')
    @app.task(name=SEAL_AUDIT_TASK, queueing_lock=SEAL_AUDIT_TASK)
    def seal_audit_rows(timestamp: int) -> None:  # noqa: ARG001 - the engine passes the period's time
        audit.seal_pending()


def clinic_jobs() -> None:
    """Dose reminders and no-shows: once per CVMS_CLINIC_JOBS_CRON period."""
    counts = reminders.run_daily_jobs()
    if any(counts.values()):
        log.info('clinic jobs: %s', counts)


def login_throttle_upkeep() -> None:
    """Expired log-in failure counters deleted: once per PRUNE_CRON period."""
    if removed := auth.prune_login_throttle():
        log.info('log-in throttle: %s expired counters deleted', removed)


async def run_background(stop: asyncio.Event) -> None:
    """Run every kind of background work until `stop` is set."""
    loops = [mail.run_sender(stop)]
    if queue.uses_engine():
        loops.append(queue.run_engine_worker(queue.engine_app(register_tasks), stop))
    else:
        loops += [bulk.run_worker(stop), _every_period(stop, get_settings().clinic_jobs_cron, clinic_jobs),
                  registry_sending.run_sender(stop), _every_period(stop, PRUNE_CRON, login_throttle_upkeep)]
    await asyncio.gather(*loops)


async def _every_period(stop: asyncio.Event, cron: str, work: Callable[[], None]) -> None:
    """Run `work` off the event loop at each time `cron` names until `stop` (the in-process path; on PostgreSQL
    the engine defers it once per period across workers)."""
    from croniter import croniter
    times = croniter(cron, time.time())
    while not stop.is_set():
        await wait_or_stop(stop, max(0.0, times.get_next(float) - time.time()))
        if stop.is_set():
            return
        try:
            await asyncio.to_thread(work)
        except Exception:  # the next period tries again
            log.exception('%s failed', getattr(work, '__name__', 'periodic work'))


def finish_upload(upload_id: int, *, poll: float = 0.5) -> None:
    """Return once an upload's job has finished (the command line waits for it). This process takes part: on
    SQLite it runs the job itself; on PostgreSQL it works as one more worker of the engine meanwhile, so the job
    runs here or on any other worker, and one killed midway is taken over as always."""
    if not queue.uses_engine():
        while bulk.run_job(upload_id) is None and _unfinished(upload_id):
            time.sleep(poll)  # another process runs it (an app's runner took it first)
        return

    async def work_until_finished() -> None:
        stop = asyncio.Event()
        worker = asyncio.create_task(queue.run_engine_worker(queue.engine_app(register_tasks), stop))
        try:
            while not worker.done() and await asyncio.to_thread(_unfinished, upload_id):
                await asyncio.sleep(poll)
        finally:
            stop.set()
            await worker

    asyncio.run(work_until_finished())


def _unfinished(upload_id: int) -> bool:
    with session_scope(read_only=True) as session:
        upload = session.get(BulkUpload, upload_id)
        return upload is not None and upload.status in ('queued', 'running')


def run_worker_process() -> int:
    """`main.py worker`: background work only (no web server, no NiceGUI), until SIGTERM or SIGINT."""
    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        log.info('worker %s started (%s)', queue.worker_name(),
                 'job engine: procrastinate' if queue.uses_engine() else 'in-process jobs (SQLite)')
        await run_background(stop)
        log.info('worker %s stopped', queue.worker_name())

    asyncio.run(main())
    return 0
