"""The shape every background job shares: a round of work, again and again, until asked to stop."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

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
