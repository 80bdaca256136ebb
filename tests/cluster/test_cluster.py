"""Several instances as an operator runs them (deploy/cluster.py): nginx in front with sticky sessions and
websockets, instances joining and leaving while people work."""
from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.cluster.conftest import ROOT, SCRIPT, LocalCluster
from tests.conftest import body_of
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
    manager.get_by_role('button', name='Log out').wait_for()  # still logged in: sessions live in the database
    manager.get_by_text("Today's Appointments").wait_for()
    remaining = {f'127.0.0.1:{p["port"]}' for p in cluster.status()['serve']}
    assert len(remaining) == 3 and _pinned(manager) in remaining
    for tab in (manager, provider):
        tab.context.close()


# ---------------------------------------------------------------- a High Volume job through a worker's death

# The figure is 50,000 rows (CVMS_TEST_CLUSTER_ROWS=50000: about 5 minutes here, mostly its 50,000 welcome
# emails over SMTP); the suite uses 20,000 to stay within its time. Same chunks, same kill, same checks.
ROWS = int(os.environ.get('CVMS_TEST_CLUSTER_ROWS', '20000'))
HEADER = 'First name,Last name,Date of birth,Email\n'


def _file() -> tuple[bytes, set[str], set[str]]:
    """ROWS records, each with an email (the upload requires one): every 2,500th from the 2nd has a bad one, and
    the last line repeats the first person. Returns (data, failing first names, addresses to welcome)."""
    lines, failing, welcomed = [HEADER], {'Pat0'}, set()
    for i in range(ROWS - 1):
        email = f'pat{i}@cluster{i % 7}.example.org'
        if i % 2500 == 1:
            email = 'not-an-email'
            failing.add(f'Pat{i}')
        else:
            welcomed.add(email)
        lines.append(f'Pat{i},Cluster{i % 97},{i % 12 + 1}/{i % 28 + 1}/{1940 + i % 60},{email}\n')
    lines.append('Pat0,Cluster0,1/1/1940,again@cluster.example.org\n')  # the first person again, at the end
    return ''.join(lines).encode(), failing, welcomed


def _upload(cluster: LocalCluster, tab) -> tuple[int, set[str], set[str]]:  # noqa: ANN001
    data, failing, welcomed = _file()
    tab.goto(f'{cluster.url}/bulk-registration')
    tab.get_by_role('tab', name='High Volume').click()
    uploader = tab.locator('.q-uploader', has_text='Upload or drop CSV file here')
    uploader.locator('input[type=file]').set_input_files(
        files=[{'name': f'plant-{ROWS}.csv', 'mimeType': 'text/csv', 'buffer': data}])
    tab.get_by_text(f'Success: File submitted for processing (plant-{ROWS}.csv, {ROWS:,} records)').wait_for()
    [(upload_id,)] = cluster.sql('SELECT id FROM bulkupload WHERE file_name = %s', f'plant-{ROWS}.csv')
    return upload_id, failing, welcomed


def _progress(cluster: LocalCluster, upload_id: int) -> dict:
    [row] = cluster.sql('SELECT status, rows_done, total_rows, loaded, failed FROM bulkupload WHERE id = %s',
                        upload_id)
    return dict(zip(('status', 'done', 'total', 'loaded', 'failed'), row, strict=True))


def _wait(what: str, until, timeout: float, cluster: LocalCluster) -> object:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := until():
            return result
        time.sleep(0.2)
    raise AssertionError(f'{what}: not within {timeout} s\n{cluster.logs()}')


def _result_emails(cluster: LocalCluster) -> list:
    return [m for m in cluster.smtp.messages if str(m['Subject']).startswith('Bulk Employee Upload')]


def _worker_running(cluster: LocalCluster, upload_id: int) -> dict | None:
    """The worker process whose log says it is processing the upload (the engine names workers host:pid)."""
    for worker in cluster.status()['worker']:
        log = (cluster.run_dir / f'{worker["name"]}.log').read_text(errors='replace')
        if f'upload {upload_id}: processing on worker' in log and worker['alive']:
            return worker
    return None


def test_a_high_volume_job_survives_its_worker_killed_and_a_rolling_deploy(cluster: LocalCluster,
                                                                           browser) -> None:  # noqa: ANN001
    cluster.smtp.whole_for.add(MANAGER)  # the result email is read whole; the welcome emails by their headers
    manager = _desk(browser, cluster, MANAGER)
    upload_id, failing, welcomed = _upload(cluster, manager)
    worker = _wait('a worker takes the upload', lambda: _worker_running(cluster, upload_id), 60, cluster)
    _wait('the first chunks commit', lambda: _progress(cluster, upload_id)['done'] >= ROWS // 8, 120, cluster)

    # A rolling deploy starts while the job runs; then the worker running the job is killed mid-way.
    deploying = subprocess.Popen([sys.executable, str(SCRIPT), '--run-dir', str(cluster.run_dir), 'add-serve'],
                                 cwd=ROOT, env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    _wait('more chunks commit', lambda: _progress(cluster, upload_id)['done'] >= ROWS // 4, 120, cluster)
    killed_at = _progress(cluster, upload_id)
    os.kill(worker['pid'], signal.SIGKILL)
    killed = time.monotonic()
    assert killed_at['status'] == 'running' and killed_at['done'] < ROWS, 'the job ended before the kill'
    cluster.script('add-worker')  # its replacement starts mid-job: nothing may be reset at start-up
    assert deploying.wait(timeout=180) == 0, deploying.stdout.read().decode()

    done = _wait('the job finishes on another worker', lambda: (p := _progress(cluster, upload_id))['status'] == 'done'
                 and p, 60, cluster)
    assert time.monotonic() - killed < 60, 'no job may stay stuck for a minute'
    assert (done['total'], done['done'], done['loaded'], done['failed']) == (ROWS, ROWS, ROWS - len(failing),
                                                                               len(failing))
    # Every recipient exactly once.
    [(people, distinct)] = cluster.sql("SELECT count(*), count(DISTINCT identity_key) FROM recipient "
                                       "WHERE last_name LIKE 'Cluster%%'")
    assert people == distinct == ROWS - len(failing)
    assert httpx.get(f'{cluster.url}/healthz?require=jobs').status_code == 200  # no job stuck, workers alive

    # The error file, as the manager downloads it from the history.
    manager.reload()
    manager.get_by_role('tab', name='High Volume').click()
    with manager.expect_download() as download:
        manager.get_by_role('button', name='BulkError.csv').first.click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding='utf-8-sig'))))
    assert {row[0] for row in rows[1:]} == failing

    # The welcome emails and the result email, over real SMTP: duplicates only from connections cut by the kill,
    # and a resent message keeps its Message-ID.
    received = cluster.smtp.received
    arrived = time.monotonic()
    _wait('every email arrives', lambda: welcomed <= received.keys() and _result_emails(cluster), 300, cluster)
    print(f'emails: {sum(map(len, received.values()))} in {time.monotonic() - arrived:.0f} s after the job')
    assert {address for address in received if '@cluster' in address} == welcomed  # the failed rows get none
    duplicates = sum(len(ids) - 1 for ids in received.values())
    assert duplicates <= len(cluster.smtp.connections), (duplicates, len(cluster.smtp.connections))
    assert not [(address, ids) for address, ids in received.items() if len(set(ids)) != 1]  # one Message-ID each
    [result] = {m['Subject']: m for m in _result_emails(cluster)}.values()  # resent or not, one email
    assert result['Subject'] == 'Bulk Employee Upload - Failure'
    assert f'Number of Records Failed: {len(failing)}' in body_of(result)
    manager.context.close()
