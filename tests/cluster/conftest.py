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
from email import message_from_bytes, policy
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path

import pytest

from tests.conftest import SmtpServer, empty_postgres_database, free_port
from tests.e2e.conftest import browser  # noqa: F401 - the real-Chromium fixture, for these tests too

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / 'deploy' / 'cluster.py'
REDIS_URL = os.environ.get('CVMS_TEST_REDIS_URL', '')


# Small enough to watch a job hand over within the test's minute: a worker silent for 10 s loses its job (the
# engine's stall check runs every 10/3 s on the live workers); a High Volume job commits every 2,000 rows.
CLUSTER_SETTINGS = {'CVMS_JOB_LEASE_SECONDS': '10', 'CVMS_BULK_CHUNK_ROWS': '2000'}


class CountingSmtpServer(SmtpServer):
    """The test SMTP server for tens of thousands of emails: per recipient the Message-IDs it received (headers
    only, read cheaply), whole messages only for the addresses in `whole_for`, and each connection that delivered
    mail (its client address and port)."""

    def __init__(self) -> None:
        super().__init__()
        self.received: dict[str, list[str]] = {}  # recipient -> the Message-ID of each message received
        self.connections: set[tuple[str, int]] = set()
        self.whole_for: set[str] = set()

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802 - aiosmtpd's hook
        self.connections.add(tuple(session.peer))
        content = envelope.original_content or envelope.content
        headers = BytesHeaderParser(policy=compat32).parsebytes(content, headersonly=True)
        for recipient in envelope.rcpt_tos:
            self.received.setdefault(recipient, []).append(headers['Message-ID'])
        if set(envelope.rcpt_tos) & self.whole_for:
            self.messages.append(message_from_bytes(content, policy=policy.default))
        return '250 OK'


class LocalCluster:
    """The running cluster, driven through its script as an operator would."""

    def __init__(self, run_dir: Path, env: dict[str, str], port: int, smtp: CountingSmtpServer) -> None:
        self.run_dir, self.env, self.smtp = run_dir, env, smtp
        self.url = f'http://127.0.0.1:{port}'
        self.database_url = env['CVMS_DATABASE_URL']

    def sql(self, query: str, *params: object) -> list[tuple]:
        """Rows of a read-only query on the cluster's database (what the test checks, never what it changes)."""
        import psycopg
        with psycopg.connect(self.database_url, autocommit=True) as connection:
            return connection.execute(query, params).fetchall()

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
    smtp = CountingSmtpServer()
    smtp.start()
    prefix = f'cvms-cluster-{uuid.uuid4().hex[:8]}:'
    port = free_port()
    with empty_postgres_database() as database_url:
        env = {k: v for k, v in os.environ.items() if k not in ('PYTEST_CURRENT_TEST', 'NICEGUI_USER_SIMULATION')}
        env.update({'CVMS_DATABASE_URL': database_url, 'CVMS_REDIS_URL': REDIS_URL, 'NICEGUI_REDIS_KEY_PREFIX': prefix,
                    'CVMS_BASE_URL': f'http://127.0.0.1:{port}', 'CVMS_SMTP_HOST': '127.0.0.1',
                    'CVMS_SMTP_PORT': str(smtp.port), **CLUSTER_SETTINGS})
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
