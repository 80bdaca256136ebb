"""The garbage-collector tuning and the full-collection pause counter (services/core/runtime), each in a process of
its own: both change the interpreter's global collector state."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from services.core.runtime import TUNED_THRESHOLDS

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str) -> dict:
    done = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=True)
    return json.loads(done.stdout)


def test_tuning_freezes_what_exists_and_raises_the_young_threshold() -> None:
    result = _run('import gc, json\n'
                  'from services.core import runtime\n'
                  'kept = [[i] for i in range(10_000)]\n'
                  'thresholds = runtime.tune_gc(enabled=True)\n'
                  'print(json.dumps({"thresholds": thresholds, "frozen": gc.get_freeze_count()}))')
    assert result["thresholds"] == list(TUNED_THRESHOLDS)
    assert result['frozen'] >= 10_000


def test_tuning_switched_off_leaves_the_collector_as_python_sets_it() -> None:
    result = _run('import gc, json\n'
                  'from services.core import runtime\n'
                  'default = gc.get_threshold()\n'
                  'thresholds = runtime.tune_gc(enabled=False)\n'
                  'print(json.dumps({"same": list(thresholds) == list(default), "frozen": gc.get_freeze_count()}))')
    assert result == {'same': True, 'frozen': 0}


def test_pause_counter_counts_full_collections_only() -> None:
    result = _run('import gc, json\n'
                  'from services.core import runtime\n'
                  'pauses = runtime.record_gc_pauses()\n'
                  'gc.collect(0); gc.collect(1)\n'
                  'young = pauses.full_collections\n'
                  'gc.collect(2); gc.collect()\n'
                  'print(json.dumps({"young": young, **pauses.report()}))')
    assert result['young'] == 0
    assert result['full_collections'] == 2 and len(result['recent_pauses_s']) == 2
    assert result['full_pause_longest_s'] <= result['full_pause_total_s']
