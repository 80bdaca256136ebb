"""What several benchmarks share: scratch databases (a SQLite file in a new folder, or a PostgreSQL database created
for the run and dropped afterwards; CVMS_BENCH_POSTGRES_URL names the server) and timing a look-up over samples."""
from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

PG_ADMIN = os.environ.get('CVMS_BENCH_POSTGRES_URL', 'postgresql://postgres@127.0.0.1:5432/test')


@contextmanager
def scratch_database(backend: str, prefix: str) -> Iterator[str]:
    """The URL of an empty database of `backend` for one run; a PostgreSQL one is dropped when the run ends."""
    if backend == 'sqlite':
        folder = Path(tempfile.mkdtemp(prefix=f'{prefix}-'))
        os.environ['CVMS_DATA_DIR'] = str(folder)
        yield f'sqlite:///{folder / "bench.sqlite3"}'
        return
    from sqlalchemy import create_engine, text
    admin = create_engine('postgresql+psycopg://' + PG_ADMIN.split('://', 1)[1], isolation_level='AUTOCOMMIT')
    name = f'cvms_bench_{uuid.uuid4().hex[:10]}'
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE {name}'))
    try:
        yield f'{PG_ADMIN.rsplit("/", 1)[0]}/{name}'
    finally:
        from services.core import db
        db.dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS {name} WITH (FORCE)'))
        admin.dispose()


def timed(fn: Callable[[object], object], samples: list) -> tuple[float, float]:
    """Median and 95th percentile, in milliseconds, of `fn` over the samples."""
    durations = []
    for sample in samples:
        started = time.perf_counter()
        fn(sample)
        durations.append((time.perf_counter() - started) * 1000)
    durations.sort()
    return statistics.median(durations), durations[max(0, int(len(durations) * 0.95) - 1)]
