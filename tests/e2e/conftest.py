"""Real-browser fixtures: the app started as its own process (SQLite + demo data) and headless Chromium
(Debian's package, driven by Playwright; no browser is downloaded)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / 'test-artifacts'
CHROMIUM = os.environ.get('CVMS_CHROMIUM', '/usr/bin/chromium')
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage']


def _require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get('CI'):
            pytest.fail(f'Chromium is missing at {CHROMIUM}: .ci/run installs Debian\'s chromium package')
        pytest.skip('browser tests need Debian\'s chromium (apt-get install chromium chromium-driver)')


# The data folder of each running live app, by base URL: a test reads what only the database knows (a case's link key).
LIVE_DATA_DIRS: dict[str, Path] = {}


def start_app(data_dir: Path, *, extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """Start `main.py serve --demo` on a free port with its own data folder; return (process, base URL)."""
    port = free_port()
    base_url = f'http://127.0.0.1:{port}'
    env = {k: v for k, v in os.environ.items()
           if k not in ('PYTEST_CURRENT_TEST', 'NICEGUI_USER_SIMULATION', 'CVMS_DATABASE_URL')}
    env.update({'CVMS_DATA_DIR': str(data_dir), 'CVMS_PORT': str(port), 'CVMS_HOST': '127.0.0.1',
                'CVMS_BASE_URL': base_url, 'CVMS_STORAGE_SECRET': 'e2e-secret'})
    env.update(extra_env or {})
    log = open(data_dir / 'server.log', 'wb')  # noqa: SIM115 - closed with the process
    process = subprocess.Popen([sys.executable, 'main.py', 'serve', '--demo'], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f'app exited early:\n{(data_dir / "server.log").read_text()}')
        try:
            with urllib.request.urlopen(f'{base_url}/healthz', timeout=2) as response:  # noqa: S310 - local URL
                if response.status == 200:
                    return process, base_url
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f'app did not start:\n{(data_dir / "server.log").read_text()}')


def stop_app(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope='module')
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app as a person would run it, for one test module."""
    data_dir = tmp_path_factory.mktemp('live-app')
    process, base_url = start_app(data_dir)
    LIVE_DATA_DIRS[base_url] = data_dir
    yield base_url
    stop_app(process)


@pytest.fixture(scope='module')
def browser() -> Iterator[object]:
    _require_chromium()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request: pytest.FixtureRequest) -> Iterator[object]:  # noqa: ANN001
    """A fresh browser tab (desktop size); on failure a screenshot lands in test-artifacts/."""
    context = browser.new_context(viewport={'width': 1280, 'height': 900})
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    if getattr(request.node, 'rep_call', None) is not None and request.node.rep_call.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f'FAILED-{request.node.name}.png'))
    context.close()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):  # noqa: ANN201
    outcome = yield
    report = outcome.get_result()
    setattr(item, f'rep_{report.when}', report)


def screenshot(tab, name: str) -> Path:  # noqa: ANN001
    """Save a screenshot as a test artifact (test-artifacts/NAME.png) and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f'{name}.png'
    tab.screenshot(path=str(path), full_page=True)
    return path


def log_in(tab, base_url: str, email: str, password: str = 'Demo-Password-2021', *,  # noqa: ANN001
           then: str = '') -> None:
    """Log in through the log-in page. Staff screens show "Log out"; a phone keeps it in a menu, so a portal test
    says which URL glob it waits for instead (`then='**/portal'`)."""
    tab.goto(f'{base_url}/login')
    tab.get_by_label('Email').fill(email)
    tab.get_by_label('Password').fill(password)
    tab.get_by_role('button', name='Log in').click()
    if then:
        tab.wait_for_url(then)
        tab.get_by_role('heading', level=1).wait_for()
    else:
        tab.get_by_role('button', name='Log out').wait_for()


