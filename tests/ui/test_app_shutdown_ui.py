"""Shutting the app down (a deploy's restart, or the end of every simulated-browser test) ends its background
work cleanly: the job engine's worker leaves and its connection pool closes before the event loop does."""
from __future__ import annotations

import asyncio

import pytest
from nicegui.testing.general_fixtures import get_path_to_main_file
from nicegui.testing.user_simulation import user_simulation
from sqlalchemy import text

from services.core.db import session_scope


def _engine_workers() -> int:
    with session_scope(read_only=True) as session:
        return session.execute(text('SELECT count(*) FROM procrastinate_workers')).scalar_one()


async def test_shutdown_closes_the_job_engine_before_the_loop_ends(db: str, request: pytest.FixtureRequest) -> None:
    if db != 'postgres':
        pytest.skip('the job engine runs on PostgreSQL only')
    for wait in (False, True, False, True):  # stopped while the engine starts, and once it runs
        async with user_simulation(main_file=get_path_to_main_file(request)) as user:
            await user.open('/login')
            for _ in range(200 if wait else 0):
                if await asyncio.to_thread(_engine_workers):
                    break
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)
        left = [task.get_name() for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        # Left behind, a pool worker swallows the loop's final cancellation and the loop never closes.
        assert [name for name in left if name.startswith('pool-')] == []
        assert await asyncio.to_thread(_engine_workers) == 0
