"""The shape every background job shares: a round of work, again and again, until asked to stop."""
from __future__ import annotations

import asyncio
import gc
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, waking at once when `stop` is set."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


async def repeat(stop: asyncio.Event, round_of_work: Callable[[], Awaitable[object]], *, interval: float,
                 name: str, first_after: float = 0.0) -> None:
    """Run `round_of_work` every `interval` seconds until `stop`; a failed round is logged and the next retries."""
    if first_after:
        await wait_or_stop(stop, first_after)
    while not stop.is_set():
        try:
            await round_of_work()
        except Exception:  # keep the job alive
            log.exception('%s: round failed', name)
        await wait_or_stop(stop, interval)


# Cyclic garbage collection while a bulk job allocates hundreds of thousands of short-lived rows: with Python's
# default first threshold (700) it ran 1,500 times and walked every live object 11 times, 1.1 s of a 7-8 s
# 100,000-row upload. Reference counting still frees the rows at once; only cycles wait a little longer.
_BULK_GC_THRESHOLDS = (50_000, 20, 100)
_relaxed = {'depth': 0, 'saved': gc.get_threshold()}
_relaxed_lock = threading.Lock()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect cyclic garbage less often while the block runs (process-wide; nested and concurrent uses are
    counted, the previous thresholds come back when the last one ends)."""
    with _relaxed_lock:
        if _relaxed['depth'] == 0:
            _relaxed['saved'] = gc.get_threshold()
            gc.set_threshold(*_BULK_GC_THRESHOLDS)
        _relaxed['depth'] += 1
    try:
        yield
    finally:
        with _relaxed_lock:
            _relaxed['depth'] -= 1
            if _relaxed['depth'] == 0:
                gc.set_threshold(*_relaxed['saved'])
