"""The web process's garbage collector: tuned once the app has started, and its full-collection pauses counted for
the load benchmark (benchmarks/load.py).

Every connected browser holds a few thousand Python objects (its elements, their props and event listeners). A
full collection walks all of them while the whole process waits: with hundreds of clients these pauses, not the
pages, set the page-load p95. What the tuning does, measured in README "Capacity":
- `gc.freeze()` after start-up moves what the imports and the app built (several hundred thousand objects that
  live as long as the process) out of every later collection;
- a larger first-generation threshold makes the young collections rarer (each client's page creates thousands of
  objects at once). Full collections still run (Python starts one when the long-lived objects have grown by a
  quarter since the last), so reference cycles are still freed and memory stays bounded."""
from __future__ import annotations

import gc
import resource
import time
from collections import deque
from dataclasses import dataclass, field

# Young-generation threshold after tuning (Python's default is 700); the older two keep their defaults.
TUNED_THRESHOLDS = (50_000, 10, 10)


def tune_gc(*, enabled: bool) -> tuple[int, int, int]:
    """Call once the app has started: freezes what start-up built and raises the young threshold. Returns the
    thresholds in force."""
    if enabled:
        gc.collect()  # what start-up left as garbage goes before the rest is frozen
        gc.freeze()
        gc.set_threshold(*TUNED_THRESHOLDS)
    return gc.get_threshold()


@dataclass
class GcPauses:
    """Full (oldest-generation) collections since `install`: how many, how long in all, the longest."""
    full_collections: int = 0
    total_seconds: float = 0.0
    longest_seconds: float = 0.0
    recent: deque = field(default_factory=lambda: deque(maxlen=200))  # the last pauses, for a step's longest
    _started: float | None = field(default=None, repr=False)

    def callback(self, phase: str, info: dict) -> None:
        if info.get('generation') != 2:
            return
        if phase == 'start':
            self._started = time.perf_counter()
        elif self._started is not None:
            pause = time.perf_counter() - self._started
            self._started = None
            self.full_collections += 1
            self.total_seconds += pause
            self.longest_seconds = max(self.longest_seconds, pause)
            self.recent.append(round(pause, 4))

    def report(self) -> dict:
        return {'full_collections': self.full_collections, 'full_pause_total_s': round(self.total_seconds, 4),
                'full_pause_longest_s': round(self.longest_seconds, 4), 'recent_pauses_s': list(self.recent),
                'thresholds': list(gc.get_threshold()),
                'frozen_objects': gc.get_freeze_count(), 'rss_mb': round(rss_mb(), 1)}


_pauses: GcPauses | None = None


def record_gc_pauses() -> GcPauses:
    """Start counting full collections in this process (once; later calls return the same counter)."""
    global _pauses  # one counter per process, like gc itself
    if _pauses is None:
        _pauses = GcPauses()
        gc.callbacks.append(_pauses.callback)
    return _pauses


def rss_mb() -> float:
    """Resident memory now (Linux /proc), else the peak that getrusage reports."""
    try:
        with open('/proc/self/statm') as statm:
            return int(statm.read().split()[1]) * resource.getpagesize() / 1e6
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
