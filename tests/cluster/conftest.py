"""A real cluster for these tests: deploy/cluster.py starts three `serve` instances and two `worker` processes on a
fresh PostgreSQL database and the test Redis, behind Debian's nginx, with a real SMTP server (aiosmtpd).
Skipped without PostgreSQL, Redis or nginx (in CI, .ci/run provides all three)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SmtpServer, empty_postgres_database, free_port
from tests.e2e.conftest import browser  # noqa: F401 - the real-Chromium fixture, for these tests too

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / 'deploy' / 'cluster.py'
REDIS_URL = os.environ.get('CVMS_TEST_REDIS_URL', '')


class LocalCluster:
    """The running cluster, driven through its script as an operator would."""

    def __init__(self, run_dir: Path, env: dict[str, str], port: int, smtp: SmtpServer) -> None:
        self.run_dir, self.env, self.smtp = run_dir, env, smtp
        self.url = f'http://127.0.0.1:{port}'

    def script(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, str(SCRIPT), '--run-dir', str(self.run_dir), *args], cwd=ROOT,
                              env=self.env, capture_output=True, text=True, timeout=300, check=False)
        if check and done.returncode != 0:
            raise AssertionError(f'cluster.py {" ".join(args)} failed ({done.returncode}):\n{done.stdout}\n'
                                 f'{done.stderr}\n{self.logs()}')
        return done

    def status(self) -> dict:
        return json.loads(self.script('status', '--json', check=False).stdout)

    def logs(self, lines: int = 30) -> str:
        """The last lines of every process's log, for failure messages."""
        parts = []
        for log in sorted(self.run_dir.glob('*.log')):
            parts.append(f'--- {log.name}\n' + '\n'.join(log.read_text(errors='replace').splitlines()[-lines:]))
        return '\n'.join(parts)


def _require_nginx() -> None:
    if shutil.which('nginx') or Path('/usr/sbin/nginx').exists():
        return
    if os.environ.get('CI'):
        pytest.fail("nginx is missing: .ci/run installs Debian's nginx package")
    pytest.skip("cluster tests need Debian's nginx (apt-get install nginx)")


@pytest.fixture(scope='module')
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    if not REDIS_URL:
        pytest.skip('set CVMS_TEST_REDIS_URL (.ci/run does) to run the cluster tests')
    _require_nginx()
    smtp = SmtpServer()
    smtp.start()
    prefix = f'cvms-cluster-{uuid.uuid4().hex[:8]}:'
    port = free_port()
    with empty_postgres_database() as database_url:
        env = {k: v for k, v in os.environ.items() if k not in ('PYTEST_CURRENT_TEST', 'NICEGUI_USER_SIMULATION')}
        env.update({'CVMS_DATABASE_URL': database_url, 'CVMS_REDIS_URL': REDIS_URL, 'NICEGUI_REDIS_KEY_PREFIX': prefix,
                    'CVMS_BASE_URL': f'http://127.0.0.1:{port}', 'CVMS_SMTP_HOST': '127.0.0.1',
                    'CVMS_SMTP_PORT': str(smtp.port)})
        running = LocalCluster(tmp_path_factory.mktemp('cluster'), env, port, smtp)
        try:
            running.script('start', '--serve', '3', '--workers', '2', '--port', str(port), '--demo')
            yield running
        finally:
            running.script('stop', check=False)
            smtp.stop()
            import redis
            client = redis.Redis.from_url(REDIS_URL)
            for key in client.scan_iter(f'{prefix}*'):
                client.delete(key)
