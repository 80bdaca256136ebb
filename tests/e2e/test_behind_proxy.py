"""Behind a reverse proxy (nginx): log-in throttling counts failures per real client, read from X-Forwarded-For,
and believes that header only from the proxies named in CVMS_FORWARDED_ALLOW_IPS."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import start_app, stop_app
from tests.factories import MANAGER

# Two failures from a client slow its next attempts (half the per-account rate); short waits keep the test quick.
THROTTLING = {'CVMS_LOGIN_SLOW_AFTER': '2', 'CVMS_LOGIN_MAX_DELAY_SECONDS': '0.2'}


@pytest.fixture(scope='module')
def instances(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[str, Path]]]:
    """One instance whose proxy runs here (127.0.0.1, where the browser connects from), one whose only trusted
    proxy is elsewhere: for it the browser is an untrusted client forging the header. Both start at once."""
    trusted = {'trusting': '127.0.0.1', 'distrusting': '192.0.2.10'}
    data_dirs = {name: tmp_path_factory.mktemp(name) for name in trusted}
    with ThreadPoolExecutor() as pool:
        starting = {name: pool.submit(start_app, data_dirs[name],
                                      extra_env={**THROTTLING, 'CVMS_FORWARDED_ALLOW_IPS': address})
                    for name, address in trusted.items()}
    started = {name: future.result() for name, future in starting.items() if future.exception() is None}
    try:
        if len(started) < len(trusted):
            raise next(future.exception() for future in starting.values() if future.exception())
        yield {name: (url, data_dirs[name]) for name, (_, url) in started.items()}
    finally:
        for process, _ in started.values():
            stop_app(process)


def _client(browser, forwarded_for: str):  # noqa: ANN001, ANN202
    """A browser tab whose requests carry X-Forwarded-For, as nginx adds it for a desk behind it."""
    context = browser.new_context(extra_http_headers={'X-Forwarded-For': forwarded_for})
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    return tab


def _attempt(tab, email: str, password: str) -> None:  # noqa: ANN001
    tab.get_by_label('Email').fill(email)
    tab.get_by_label('Password').fill(password)
    tab.get_by_role('button', name='Log in').click()


def _fail_until_throttled(tab, base_url: str) -> None:  # noqa: ANN001
    tab.goto(f'{base_url}/login')
    for attempt in range(3):
        _attempt(tab, f'nobody{attempt}@example.org', 'not the password')
        expect(tab.get_by_label('Password')).to_have_value('')  # refused: the form is ready again
    expect(tab.get_by_role('alert')).to_contain_text('Incorrect email or password.')  # in the error summary


def _addresses(data_dir: Path, action: str) -> set[str]:
    """The client addresses the app audited for `action` (read from its own SQLite file)."""
    with sqlite3.connect(data_dir / 'cvms.sqlite3') as connection:
        return {row[0] for row in connection.execute('SELECT client_ip FROM auditevent WHERE action = ?', (action,))}


def test_two_desks_behind_the_proxy_are_throttled_separately(instances, browser) -> None:  # noqa: ANN001
    url, data_dir = instances['trusting']
    first, second = _client(browser, '198.51.100.7'), _client(browser, '198.51.100.8')
    _fail_until_throttled(first, url)
    second.goto(f'{url}/login')
    _attempt(second, MANAGER, 'Demo-Password-2021')  # another desk behind the same proxy is not slowed
    second.get_by_role('button', name='Log out').wait_for()
    assert _addresses(data_dir, 'login_throttled') == {'198.51.100.7'}
    assert _addresses(data_dir, 'login') == {'198.51.100.8'}
    first.context.close()
    second.context.close()


def test_a_forged_header_from_an_untrusted_address_is_ignored(instances, browser) -> None:  # noqa: ANN001
    url, data_dir = instances['distrusting']
    first, second = _client(browser, '198.51.100.7'), _client(browser, '198.51.100.8')
    _fail_until_throttled(first, url)
    second.goto(f'{url}/login')
    _attempt(second, MANAGER, 'Demo-Password-2021')  # the same client underneath: slowed, yet let in
    second.get_by_role('button', name='Log out').wait_for()
    assert _addresses(data_dir, 'login_throttled') == {'127.0.0.1'}
    assert _addresses(data_dir, 'login') == {'127.0.0.1'}
    first.context.close()
    second.context.close()
