"""All background work in one place: High Volume upload jobs, the mail sender, and the clinic's dose reminders and
no-shows. `main.py worker` runs it alone; `main.py serve` runs it in-process too unless started with --no-jobs
(or CVMS_RUN_JOBS=false). On PostgreSQL the job engine (services/core/queue.py, docs/adr/0010) shares the jobs
among every running worker; on SQLite the same task functions run in loops of this process.
Nothing here is reset at start-up: work belongs to whoever holds its lease (the engine's worker heartbeat, the
outbox's claims), and only work whose owner has gone silent is taken over."""
from __future__ import annotations

import asyncio
import logging
import signal

import procrastinate

from services.bulk import registration as bulk
from services.clinic import reminders
from services.core import mail, queue
from services.core.settings import get_settings

log = logging.getLogger(__name__)

CLINIC_TASK = 'clinic.daily_jobs'


def register_tasks(app: procrastinate.App) -> None:
    """The engine's tasks: the same functions the in-process loops call on SQLite."""

    @app.periodic(cron=get_settings().clinic_jobs_cron, periodic_id='clinic')
    @app.task(name=CLINIC_TASK, queueing_lock=CLINIC_TASK)
    def clinic_daily_jobs(timestamp: int) -> None:  # noqa: ARG001 - the engine passes the period's time
        counts = reminders.run_daily_jobs()
        log.info('clinic jobs: %s', counts)


async def run_background(stop: asyncio.Event) -> None:
    """Run every kind of background work until `stop` is set."""
    loops = [mail.run_sender(stop), bulk.run_worker(stop)]
    if queue.uses_engine():
        loops.append(queue.run_engine_worker(queue.engine_app(register_tasks), stop))
    else:
        loops.append(reminders.run_jobs(stop))
    await asyncio.gather(*loops)


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
