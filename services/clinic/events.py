"""A small in-process publish/subscribe for the clinic desk: when an appointment changes at a location, every
desk showing that location's Today's Appointments is told to refresh.

Services publish after their transaction commits; pages subscribe one callback per connected client and
unsubscribe when the client disconnects. Callbacks run in the publisher's thread, so a page's callback must
hand the work to its own event loop (loop.call_soon_threadsafe). With several app instances each process only
hears its own changes; pages also refresh on a slow timer for that case (docs/adr/0004-clinic-day.md).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

_lock = threading.Lock()
_subscribers: dict[int, set[Callable[[], None]]] = {}  # location id -> callbacks; the process-wide registry


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
    """Tell every subscriber of the location that its appointments changed (call after commit)."""
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
