#!/usr/bin/env python3
"""A local cluster on 127.0.0.1: N `main.py serve` instances and M `main.py worker` processes on one PostgreSQL
database and one Redis, behind Debian's nginx with sticky sessions and websockets proxied.

    .venv/bin/python deploy/cluster.py start [--serve 3] [--workers 2] [--port 8080] [--demo]
    .venv/bin/python deploy/cluster.py status [--json]
    .venv/bin/python deploy/cluster.py add-serve          # one more serve instance, nginx reloaded (rolling deploy)
    .venv/bin/python deploy/cluster.py add-worker         # one more worker process
    .venv/bin/python deploy/cluster.py retire serve-1     # stop one process; a serve instance leaves nginx first
    .venv/bin/python deploy/cluster.py stop

Settings come from the environment as for one instance (CVMS_DATABASE_URL, CVMS_REDIS_URL, CVMS_SMTP_HOST, ...);
the script sets what each process needs to be one of many: its own port and data folder, the shared storage
secret (generated once into the run folder unless CVMS_STORAGE_SECRET is set), nginx as the trusted proxy, and
`--no-jobs` for serve instances when workers run. Logs, the nginx configuration and the cluster's state are in
the run folder (deploy/run by default)."""
from __future__ import annotations

import argparse
import getpass
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NGINX = shutil.which('nginx') or '/usr/sbin/nginx'
STARTUP_SECONDS = 120
STOP_SECONDS = 20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='cluster.py', description=__doc__.split('\n\n')[0])
    parser.add_argument('--run-dir', type=Path, default=ROOT / 'deploy' / 'run',
                        help='logs, nginx configuration and state (default deploy/run)')
    commands = parser.add_subparsers(dest='command', required=True)
    start = commands.add_parser('start', help='start nginx, the serve instances and the workers')
    start.add_argument('--serve', type=int, default=3, help='serve instances (default 3)')
    start.add_argument('--workers', type=int, default=2, help='worker processes (default 2; 0: serve runs the jobs)')
    start.add_argument('--port', type=int, default=8080, help="nginx's port on 127.0.0.1 (default 8080)")
    start.add_argument('--demo', action='store_true', help='add the demo data to an empty database')
    status = commands.add_parser('status', help='each process, alive or not, and each instance\'s /healthz')
    status.add_argument('--json', action='store_true')
    commands.add_parser('add-serve', help='start one more serve instance and reload nginx')
    commands.add_parser('add-worker', help='start one more worker process')
    retire = commands.add_parser('retire', help='stop one process (serve-N or worker-N)')
    retire.add_argument('name')
    commands.add_parser('stop', help='stop everything')
    args = parser.parse_args(argv)
    cluster = Cluster(args.run_dir.resolve())
    try:
        if args.command == 'start':
            return cluster.start(serve=args.serve, workers=args.workers, port=args.port, demo=args.demo)
        if args.command == 'status':
            return cluster.print_status(as_json=args.json)
        if args.command == 'add-serve':
            return cluster.add_serve()
        if args.command == 'add-worker':
            return cluster.add_worker()
        if args.command == 'retire':
            return cluster.retire(args.name)
        return cluster.stop()
    except ClusterError as error:
        print(f'Error: {error}', file=sys.stderr)
        return 2


class ClusterError(Exception):
    """Something the operator must fix; the message says what."""


class Cluster:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.state_file = run_dir / 'cluster.json'
        self.state: dict = json.loads(self.state_file.read_text()) if self.state_file.exists() else {}

    # ------------------------------------------------------------------------------------------------ commands

    def start(self, *, serve: int, workers: int, port: int, demo: bool) -> int:
        if self.state and any(_alive(p['pid']) for p in self._processes()):
            raise ClusterError(f'a cluster is already running from {self.run_dir}: stop it first')
        if serve < 1 or workers < 0:
            raise ClusterError('at least one serve instance, and zero or more workers')
        database_url = os.environ.get('CVMS_DATABASE_URL', '')
        if not database_url.startswith('postgresql'):
            raise ClusterError('set CVMS_DATABASE_URL to a PostgreSQL database (postgresql://user@host/db): '
                               'several instances share one database')
        if not Path(NGINX).exists():
            raise ClusterError("nginx is missing: apt-get install nginx (Debian's package)")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.state = {'port': port, 'database_url': database_url, 'serve': [], 'worker': [], 'next': {},
                      'workers_run_jobs': workers > 0}  # then serve instances are web-only (--no-jobs)
        self.state['redis_url'] = os.environ.get('CVMS_REDIS_URL') or 'redis://127.0.0.1:6379/0'
        self.state['storage_secret'] = os.environ.get('CVMS_STORAGE_SECRET') or secrets.token_urlsafe(48)
        self._save()
        try:
            self._run_once(['init-db'])  # once, before the instances (they would take turns under the lock anyway)
            if demo:
                self._run_once(['seed-demo'], ok_codes=(0, 1))  # 1: the database holds data already
            for _ in range(serve):
                self._spawn('serve')
            for _ in range(workers):
                self._spawn('worker')
            self._wait_healthy(self.state['serve'])
            self._write_nginx_conf()
            _run([NGINX, '-c', str(self._nginx_conf), '-e', str(self.run_dir / 'nginx-error.log')])
            self._wait_for(f'{self.url}/healthz', 'nginx')
        except BaseException:
            self.stop()  # nothing half-started stays behind
            raise
        print(f'Cluster up at {self.url}: {serve} serve instance(s), {workers} worker(s); logs in {self.run_dir}')
        return 0

    def add_serve(self) -> int:
        self._require_running()
        instance = self._spawn('serve')
        self._wait_healthy([instance])
        self._write_nginx_conf()
        self._reload_nginx()
        print(f'{instance["name"]} serving on port {instance["port"]}, behind nginx')
        return 0

    def add_worker(self) -> int:
        self._require_running()
        if not self.state['workers_run_jobs']:
            raise ClusterError('this cluster was started without workers: its serve instances run the jobs')
        worker = self._spawn('worker')
        print(f'{worker["name"]} started (pid {worker["pid"]})')
        return 0

    def retire(self, name: str) -> int:
        self._require_running()
        kind = name.split('-')[0]
        found = [p for p in self.state.get(kind, []) if p['name'] == name]
        if not found:
            raise ClusterError(f'no process named {name}; see: cluster.py status')
        self.state[kind].remove(found[0])
        if kind == 'serve':  # out of nginx first: new visitors go elsewhere, then the process stops
            if not self.state['serve']:
                raise ClusterError('the last serve instance cannot be retired; use stop')
            self._write_nginx_conf()
            self._reload_nginx()
        self._save()
        _terminate([found[0]['pid']])
        print(f'{name} stopped')
        return 0

    def stop(self) -> int:
        if not self.state:
            print('No cluster state here; nothing to stop.')
            return 0
        _terminate([p['pid'] for p in self._processes()] + ([self._nginx_pid()] if self._nginx_pid() else []))
        self.state_file.unlink(missing_ok=True)
        print('Cluster stopped.')
        return 0

    def status(self) -> dict:
        serve = [{**p, 'alive': _alive(p['pid']), 'health': _health(f'http://127.0.0.1:{p["port"]}/healthz')}
                 for p in self.state.get('serve', [])]
        workers = [{**p, 'alive': _alive(p['pid'])} for p in self.state.get('worker', [])]
        nginx_pid = self._nginx_pid()
        return {'url': self.url if self.state else None, 'run_dir': str(self.run_dir),
                'nginx': {'pid': nginx_pid, 'alive': bool(nginx_pid and _alive(nginx_pid)),
                          'health': _health(f'{self.url}/healthz') if self.state else None},
                'serve': serve, 'worker': workers}

    def print_status(self, *, as_json: bool) -> int:
        if not self.state:
            print(json.dumps(None) if as_json else 'No cluster is running from here.')
            return 3
        report = self.status()
        if as_json:
            print(json.dumps(report, indent=2))
        else:
            nginx = report['nginx']
            print(f'nginx    {"up  " if nginx["alive"] else "DOWN"} {report["url"]}  '
                  f'{(nginx["health"] or {}).get("status", "-")}')
            for p in report['serve']:
                print(f'{p["name"]:<9}{"up  " if p["alive"] else "DOWN"} pid {p["pid"]:<8} port {p["port"]:<6} '
                      f'{(p["health"] or {}).get("status", "no answer")}')
            for p in report['worker']:
                print(f'{p["name"]:<9}{"up  " if p["alive"] else "DOWN"} pid {p["pid"]}')
        everything_up = report['nginx']['alive'] and all(p['alive'] for p in report['serve'] + report['worker'])
        return 0 if everything_up else 1

    # ------------------------------------------------------------------------------------------------ processes

    @property
    def url(self) -> str:
        return f'http://127.0.0.1:{self.state["port"]}'

    @property
    def _nginx_conf(self) -> Path:
        return self.run_dir / 'nginx.conf'

    def _processes(self) -> list[dict]:
        return self.state.get('serve', []) + self.state.get('worker', [])

    def _require_running(self) -> None:
        if not self.state or self._nginx_pid() is None:
            raise ClusterError(f'no cluster is running from {self.run_dir}: start one first')

    def _env(self, data_dir: Path, port: int | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ('PYTEST_CURRENT_TEST', 'NICEGUI_USER_SIMULATION')}
        env.update({'CVMS_DATABASE_URL': self.state['database_url'], 'CVMS_REDIS_URL': self.state['redis_url'],
                    'CVMS_STORAGE_SECRET': self.state['storage_secret'], 'CVMS_DATA_DIR': str(data_dir),
                    'CVMS_BASE_URL': env.get('CVMS_BASE_URL') or self.url, 'CVMS_HOST': '127.0.0.1',
                    'CVMS_FORWARDED_ALLOW_IPS': '127.0.0.1'})  # nginx, the only proxy in front
        if port is not None:
            env['CVMS_PORT'] = str(port)
        return env

    def _run_once(self, command: list[str], ok_codes: tuple[int, ...] = (0,)) -> None:
        data_dir = self.run_dir / 'admin'
        data_dir.mkdir(exist_ok=True)
        done = subprocess.run([sys.executable, 'main.py', *command], cwd=ROOT,  # noqa: S603 - our own commands
                              env=self._env(data_dir), capture_output=True, text=True, check=False)
        if done.returncode not in ok_codes:
            last_lines = '\n'.join((done.stdout + done.stderr).strip().splitlines()[-5:])
            raise ClusterError(f'main.py {" ".join(command)} failed:\n{last_lines}')
        if done.stdout.strip():
            print(done.stdout.strip())

    def _spawn(self, kind: str) -> dict:
        number = self.state['next'].get(kind, 0) + 1
        self.state['next'][kind] = number
        name = f'{kind}-{number}'
        data_dir = self.run_dir / name
        data_dir.mkdir(exist_ok=True)
        port = _free_port() if kind == 'serve' else None
        command = [sys.executable, 'main.py', kind]
        if kind == 'serve' and self.state['workers_run_jobs']:
            command.append('--no-jobs')
        with open(self.run_dir / f'{name}.log', 'ab') as log:
            process = subprocess.Popen(command, cwd=ROOT, env=self._env(data_dir, port), stdout=log,  # noqa: S603
                                       stderr=subprocess.STDOUT, start_new_session=True)
        instance = {'name': name, 'pid': process.pid, **({'port': port} if port else {})}
        self.state[kind].append(instance)
        self._save()
        return instance

    def _wait_healthy(self, instances: list[dict]) -> None:
        for instance in instances:
            self._wait_for(f'http://127.0.0.1:{instance["port"]}/healthz', instance['name'], pid=instance['pid'])

    def _wait_for(self, url: str, name: str, *, pid: int | None = None) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if pid is not None and not _alive(pid):
                raise ClusterError(f'{name} exited while starting; see {self.run_dir / (name + ".log")}')
            if _health(url) is not None:
                return
            time.sleep(0.3)
        raise ClusterError(f'{name} did not answer {url} within {STARTUP_SECONDS} s')

    # ------------------------------------------------------------------------------------------------ nginx

    def _write_nginx_conf(self) -> None:
        backends = [f'127.0.0.1:{p["port"]}' for p in self.state['serve']]
        (self.run_dir / 'nginx-temp').mkdir(exist_ok=True)
        self._nginx_conf.write_text(nginx_conf(run_dir=self.run_dir, port=self.state['port'], backends=backends))

    def _reload_nginx(self) -> None:
        _run([NGINX, '-c', str(self._nginx_conf), '-e', str(self.run_dir / 'nginx-error.log'), '-s', 'reload'])
        time.sleep(0.5)  # the master starts new workers with the new configuration; old ones finish their requests

    def _nginx_pid(self) -> int | None:
        try:
            pid = int((self.run_dir / 'nginx.pid').read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def _save(self) -> None:
        self.state_file.write_text(json.dumps(self.state, indent=2))
        self.state_file.chmod(0o600)  # it holds the storage secret


def nginx_conf(*, run_dir: Path, port: int, backends: list[str]) -> str:
    """nginx in front of the serve instances. Sticky sessions by a cookie naming the instance that drew the page:
    a browser's websocket and its later pages go to the same instance, while new visitors are spread (least
    connections), even when they share one address (a clinic behind NAT, or every test client on 127.0.0.1).
    A cookie naming an instance that is gone falls back to the group, which sets a new one."""
    pinned = '\n'.join(f'        "{b}" {b};' for b in backends)
    servers = '\n'.join(f'        server {b} max_fails=1 fail_timeout=5s;' for b in backends)
    temp = run_dir / 'nginx-temp'
    user = f'user {getpass.getuser()};\n' if os.geteuid() == 0 else ''  # a private run folder stays readable
    proxy = '''            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
            add_header Set-Cookie "cvms_instance=$cvms_served_by; Path=/; HttpOnly; SameSite=Lax" always;
            add_header X-CVMS-Instance $cvms_served_by always;'''
    return f'''# Written by deploy/cluster.py; rewritten when instances join or leave.
{user}worker_processes 1;
pid {run_dir / 'nginx.pid'};
error_log {run_dir / 'nginx-error.log'} warn;

events {{
    worker_connections 4096;
}}

http {{
    access_log {run_dir / 'nginx-access.log'};
    client_body_temp_path {temp / 'body'};
    proxy_temp_path {temp / 'proxy'};
    fastcgi_temp_path {temp / 'fastcgi'};
    uwsgi_temp_path {temp / 'uwsgi'};
    scgi_temp_path {temp / 'scgi'};
    client_max_body_size 60m;  # a High Volume file (CVMS_BULK_MAX_FILE_MB, 50 by default) and some room

    map $http_upgrade $connection_upgrade {{
        default upgrade;
        '' close;
    }}

    # The instance named by the browser's cookie when it is one of ours, else the group.
    map $cookie_cvms_instance $cvms_backend {{
        default cvms;
{pinned}
    }}

    # The instance that answered: the last of $upstream_addr's list when a dead one was tried first.
    map $upstream_addr $cvms_served_by {{
        ~(?<last>[0-9.]+:[0-9]+)$ $last;
        default '';
    }}

    upstream cvms {{
        least_conn;
{servers}
    }}

    server {{
        listen 127.0.0.1:{port};

        location / {{
            proxy_pass http://$cvms_backend;
{proxy}
            error_page 502 504 = @any_instance;
        }}

        location @any_instance {{
            proxy_pass http://cvms;
{proxy}
        }}
    }}
}}
'''


# ---------------------------------------------------------------------------------------------------- helpers

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent counts as gone)."""
    try:
        state = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ('Z', 'X')


def _health(url: str) -> dict | None:
    """The /healthz report (also a 503's), or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - a local URL we built
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        try:
            return json.loads(error.read())
        except ValueError:
            return {'status': f'HTTP {error.code}'}
    except (OSError, ValueError):
        return None


def _run(command: list[str], *, check: bool = True) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - nginx, our arguments
    if check and done.returncode != 0:
        raise ClusterError(f'{" ".join(command)} failed:\n{done.stdout}{done.stderr}')


def _terminate(pids: list[int]) -> None:
    """SIGTERM, and SIGKILL for whatever still runs after STOP_SECONDS."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.2)
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


if __name__ == '__main__':
    sys.exit(main())
