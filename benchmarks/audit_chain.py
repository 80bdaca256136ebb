"""What the audit chain's head row costs on PostgreSQL: many sessions writing audited reads at once (a desk's
list pages and dose forms each add one row), with the chain (each row locks `auditchainhead` until its commit)
and, as the baseline, the same rows inserted with no chain. Prints rows per second and each writer's median and
95th-percentile time per row, and the ratio to the baseline. Works in a scratch database only.

    .venv/bin/python -m benchmarks.audit_chain [--writers 16] [--rows 100]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.scratch import scratch_database  # noqa: E402


def run(writers: int, rows: int, chained: bool) -> tuple[float, float, float]:
    from models import AuditEvent
    from services.core import audit
    from services.core.db import session_scope
    from services.principal import Principal

    actor = Principal(user_id=1, email='desk@bench.example.org', role='location_manager', full_name='', location_id=1)
    durations: list[float] = []
    lock = threading.Lock()
    start_line = threading.Barrier(writers)

    def writer(n: int) -> None:
        mine = []
        start_line.wait()
        for i in range(rows):
            began = time.perf_counter()
            if chained:
                audit.record_now(action='view_vaccination_form', actor=actor, entity_type='recipient',
                                 entity_id=n * rows + i)
            else:
                with session_scope() as session:
                    session.add(AuditEvent(actor_user_id=1, actor_email=actor.email, action='view_vaccination_form',
                                           entity_type='recipient', entity_id=str(n * rows + i)))
            mine.append((time.perf_counter() - began) * 1000)
        with lock:
            durations.extend(mine)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    durations.sort()
    return writers * rows / elapsed, statistics.median(durations), durations[int(len(durations) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--writers', type=int, default=16)  # the engine's pool holds 20
    parser.add_argument('--rows', type=int, default=100)
    args = parser.parse_args()
    with scratch_database('postgresql', 'audit-chain') as url:
        os.environ['CVMS_DATABASE_URL'] = url
        from services.core import db
        db.migrate()
        results = {}
        for chained in (False, True):
            results[chained] = run(args.writers, args.rows, chained)
            per_second, median, p95 = results[chained]
            print(f'{"chained" if chained else "no chain":>9}: {per_second:7.0f} rows/s, per row median '
                  f'{median:6.1f} ms, p95 {p95:6.1f} ms  ({args.writers} writers x {args.rows} rows)')
        print(f'chained / no chain: {results[True][0] / results[False][0]:.2f} of the throughput')


if __name__ == '__main__':
    main()
