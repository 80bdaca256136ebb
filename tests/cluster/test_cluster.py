"""Several instances as an operator runs them (deploy/cluster.py): nginx in front with sticky sessions and
websockets, instances joining and leaving while people work."""
from __future__ import annotations

import httpx

from tests.cluster.conftest import LocalCluster
from tests.e2e.conftest import log_in
from tests.factories import MANAGER, PROVIDER


def _desk(browser, cluster: LocalCluster, email: str):  # noqa: ANN001, ANN202
    """A logged-in desk through nginx, noting which instance answered each of its requests."""
    context = browser.new_context(viewport={'width': 1280, 'height': 900})
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    tab.served_by = set()
    tab.on('response', lambda response: tab.served_by.add(response.headers.get('x-cvms-instance')))
    log_in(tab, cluster.url, email)
    return tab


def _pinned(tab) -> str:  # noqa: ANN001
    return next(c['value'] for c in tab.context.cookies() if c['name'] == 'cvms_instance')


def test_sticky_sessions_through_nginx_survive_an_instance_leaving(cluster: LocalCluster, browser) -> None:  # noqa: ANN001
    status = cluster.status()
    assert status['nginx']['alive'] and len(status['serve']) == 3 and len(status['worker']) == 2
    assert all(p['alive'] and p['health']['status'] == 'ok' for p in status['serve'])
    assert all(p['alive'] for p in status['worker'])
    health = httpx.get(f'{cluster.url}/healthz').json()
    assert (health['redis'], health['live_updates'], health['jobs']['workers_alive']) == ('ok', 'listening', 2)

    manager, provider = _desk(browser, cluster, MANAGER), _desk(browser, cluster, PROVIDER)
    for tab in (manager, provider):  # every request of a desk, its websocket included, went to one instance
        assert tab.served_by == {_pinned(tab)}, tab.served_by
    assert _pinned(manager) != _pinned(provider)  # new visitors are spread, though all come from 127.0.0.1

    # A rolling deploy: a new instance joins, the manager's instance leaves; the manager carries on elsewhere.
    cluster.script('add-serve')
    leaving = next(p['name'] for p in cluster.status()['serve'] if f'127.0.0.1:{p["port"]}' == _pinned(manager))
    cluster.script('retire', leaving)
    manager.reload()
    manager.get_by_role('button', name='Log out').wait_for()  # still logged in: the session lives in Redis
    manager.get_by_text("Today's Appointments").wait_for()
    remaining = {f'127.0.0.1:{p["port"]}' for p in cluster.status()['serve']}
    assert len(remaining) == 3 and _pinned(manager) in remaining
    for tab in (manager, provider):
        tab.context.close()
