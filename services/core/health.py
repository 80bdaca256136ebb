"""What GET /healthz tells a load balancer and an operator: can this instance reach what it needs (the database,
Redis when configured), and is background work moving (the job engine's queue and workers, the upload jobs)."""
from __future__ import annotations

from datetime import UTC
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from models import utcnow
from models.bulk import BulkUpload
from services.core import db, queue
from services.core.settings import get_settings

OK, UNREACHABLE, NOT_CONFIGURED = 'ok', 'unreachable', 'not configured'


def check(*, require_jobs: bool = False) -> tuple[bool, dict[str, Any]]:
    """(healthy, report). Healthy when the database and, if configured, Redis answer: what a load balancer needs
    to send people to this instance. Background work that does not move (jobs waiting with no live worker, a job
    nobody took over) makes the status 'degraded' but keeps the instance in: its pages still work, and pulling
    every instance because the workers are down would turn a late upload into an outage. Monitoring that must
    alarm on it asks with `require_jobs` (GET /healthz?require=jobs)."""
    database = OK if db.ping() else UNREACHABLE
    redis = _redis_state()
    reachable = database == OK and redis in (OK, NOT_CONFIGURED)
    jobs = queue.queue_health() if database == OK else None
    jobs_moving = bool(jobs and jobs['ok'])
    healthy = reachable and (jobs_moving or not require_jobs)
    status = 'unavailable' if not reachable else 'ok' if jobs_moving else 'degraded'
    return healthy, {'status': status, 'database': database, 'redis': redis, 'jobs': jobs,
                     'uploads': _upload_queue() if database == OK else None}


def _redis_state() -> str:
    url = get_settings().redis_url
    if not url:
        return NOT_CONFIGURED
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
        return OK
    except redis.RedisError:
        return UNREACHABLE
    finally:
        client.close()


def _upload_queue() -> dict[str, int | float | None]:
    """Upload jobs waiting and running, and how long the oldest one has waited (seconds)."""
    with db.session_scope(read_only=True) as session:
        counts = dict(session.exec(select(BulkUpload.status, func.count()).where(
            col(BulkUpload.status).in_(('queued', 'running'))).group_by(BulkUpload.status)).all())
        oldest = session.exec(select(func.min(BulkUpload.created_at)).where(BulkUpload.status == 'queued')).one()
    waited = None
    if oldest is not None:
        oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)  # SQLite's aggregate comes back naive
        waited = round((utcnow() - oldest).total_seconds(), 1)
    return {'queued': counts.get('queued', 0), 'running': counts.get('running', 0), 'oldest_queued_seconds': waited}
