#!/usr/bin/env python3
"""Load: how many people one app process (and one host) holds, with simulated browsers that speak NiceGUI's own
protocol: each GETs a page, opens the page's socket.io connection (engine.io v4 over a websocket, with the page's
client id and the implicit handshake, as nicegui.js does), answers the server's pings, acknowledges its messages,
clicks every ~5 s and reloads every ~30 s.

    .venv/bin/python benchmarks/load.py [--scenario login|portal|desk] [--mode one|two|nginx]
                                        [--steps 100,200,400] [--step-seconds 45] [--soak-minutes 0]
                                        [--baseline] [--server-env KEY=VALUE ...]

Scenarios (what each simulated user does):
- login:  the log-in page; a click on the password's show/hide button (answered by the server, no database).
- portal: a signed-in recipient (each user its own account, signed in once through the log-in page before the
          step starts): the portal home, then the registration stepper, each click saving a registration step
          (Start / Previous, alternately); reloads alternate between the two pages.
- desk:   a signed-in healthcare provider at Recipient Check-In: types a confirmation number and presses Go.
Modes: one `main.py serve` process; two processes (each user sticks to one, as a load balancer would); two
processes behind nginx (deploy/cluster.py, sticky sessions).

Everything runs on 127.0.0.1 in a scratch PostgreSQL database (dropped at the end) with Redis storage (as several
instances need). Steps add users up to each count; a step's figures are taken after its users have arrived. Per
step it prints users, page load (GET until the socket is connected) p50/p95/max, event (click until the server's
answer) p50/p95, errors, each process's RSS and its full garbage collections (count, total and longest pause)
during the step, and at the end "holds N users at p95 < 500 ms". --baseline first runs the same steps against a
server with the garbage-collector tuning off (CVMS_GC_TUNING=false): the ratio compares the two in one run.
--soak-minutes holds the last step that long and prints RSS each minute against its value after 5 minutes.
The load generator shares the machine's cores with the server: on a 2-core machine both are in the figures.
"""
from __future__ import annotations

import argparse
import ast
import asyncio
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import aiohttp  # a NiceGUI dependency: nothing to install for this benchmark

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PG_ADMIN = os.environ.get('CVMS_BENCH_POSTGRES_URL', 'postgresql://postgres@127.0.0.1:5432/test')
REDIS_URL = os.environ.get('CVMS_BENCH_REDIS_URL', 'redis://127.0.0.1:6379/0')
PASSWORD = 'Load-Bench-Password-2026'
PROVIDER = 'provider@demo.cvms.example.org'
DEMO_PASSWORD = 'Demo-Password-2021'
TARGET_P95_MS = 500
CLICK_SECONDS = 5.0
RELOAD_SECONDS = 30.0
TIMEOUT_SECONDS = 15.0
ARRIVALS_PER_SECOND = 25  # new users per second while a step ramps up
# Sign-in through the log-in page is set-up, not load: cheaper password hashes for the scratch accounts.
FAST_ARGON2 = {'CVMS_ARGON2_MEMORY_KIB': '8192', 'CVMS_ARGON2_TIME_COST': '1'}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--scenario', choices=('login', 'portal', 'desk'), default='portal')
    parser.add_argument('--mode', choices=('one', 'two', 'nginx'), default='one')
    parser.add_argument('--steps', default='100,200,400', help='user counts, rising (default 100,200,400)')
    parser.add_argument('--step-seconds', type=float, default=45.0, help='measured time per step (default 45)')
    parser.add_argument('--soak-minutes', type=float, default=0.0, help='hold the last step this long (e.g. 30)')
    parser.add_argument('--baseline', action='store_true', help='first the same steps with the GC tuning off')
    parser.add_argument('--server-env', action='append', default=[], metavar='KEY=VALUE',
                        help='extra settings for the server processes (e.g. CVMS_GC_TUNING=false)')
    args = parser.parse_args()
    steps = [int(n) for n in args.steps.split(',')]
    extra_env = dict(item.split('=', 1) for item in args.server_env)
    print(f'load: scenario {args.scenario}, mode {args.mode}, steps {steps}, {args.step_seconds:.0f} s each; '
          f'{os.cpu_count()} cores; load average {_loadavg()}')
    with ScratchDatabase() as database:
        accounts = prepare(database.url, users=max(steps) if args.scenario == 'portal' else 0)
        results = {}
        runs = [('baseline (GC tuning off)', {**extra_env, 'CVMS_GC_TUNING': 'false'})] if args.baseline else []
        runs.append(('as configured', extra_env))
        for label, env in runs:
            print(f'\n== {label}')
            with Servers(args.mode, database.url, env) as servers:
                results[label] = asyncio.run(run_steps(servers, args.scenario, steps, args.step_seconds,
                                                       args.soak_minutes if label == 'as configured' else 0,
                                                       accounts))
        if args.baseline:
            base, tuned = results['baseline (GC tuning off)'], results['as configured']
            print('\nratio of page-load p95, tuned / baseline, per step: ' + ', '.join(
                f'{n}: {t / b:.2f}' for n, b, t in zip(steps, (r['load_p95'] for r in base),
                                                        (r['load_p95'] for r in tuned), strict=True) if b))
    print(f'load average at the end {_loadavg()}')
    return 0


# ---------------------------------------------------------------------------------------------------- the steps

async def run_steps(servers: Servers, scenario: str, steps: list[int], step_seconds: float, soak_minutes: float,
                    accounts: list[str]) -> list[dict]:
    stats = Stats()
    users: list[asyncio.Task] = []
    results = []
    connector = aiohttp.TCPConnector(limit=0)
    print(f'{"users":>6} {"load p50":>9} {"p95":>7} {"max":>7} {"event p50":>10} {"p95":>7} {"errors":>8} '
          f'{"RSS MB":>14} {"MB/client":>9} {"full GCs":>9} {"paused":>8} {"longest":>8}')
    async with aiohttp.ClientSession(connector=connector) as http:
        for count in steps:
            while len(users) < count:  # arrivals spread out, like people opening the page
                index = len(users)
                task = asyncio.create_task(simulated_user(http, servers, scenario, index, accounts, stats))
                task.add_done_callback(stats.user_ended)
                users.append(task)
                await asyncio.sleep(1 / ARRIVALS_PER_SECOND)
            await stats.wait_signed_in(count, timeout=max(60.0, count / 5))
            await asyncio.sleep(min(10.0, step_seconds / 3))  # the ramp's page loads settle
            gc_before = await servers.stats(http)
            stats.reset()
            await asyncio.sleep(step_seconds)
            gc_after = await servers.stats(http)
            results.append(_print_step(count, stats, gc_before, gc_after))
        if soak_minutes:
            await soak(http, servers, soak_minutes)
        for task in users:
            task.cancel()
        await asyncio.gather(*users, return_exceptions=True)
    holding = [r['users'] for r in results if r['load_p95'] < TARGET_P95_MS and r['error_rate'] < 0.01]
    print(f'holds {max(holding) if holding else 0} users at p95 < {TARGET_P95_MS} ms (errors < 1%) '
          f'[{scenario}, {servers.mode}]')
    return results


def _print_step(count: int, stats: Stats, before: list[dict], after: list[dict]) -> dict:
    loads, events = sorted(stats.page_loads), sorted(stats.events)
    attempts = len(loads) + len(events) + stats.errors
    error_rate = stats.errors / attempts if attempts else 0.0
    rss = [a.get('rss_mb', 0) for a in after]
    clients = sum(a.get('clients', 0) for a in after) or count
    connected = sum(a.get('clients_connected', 0) for a in after)
    elements = sum(a.get('elements', 0) for a in after)
    gcs = sum(a.get('full_collections', 0) - b.get('full_collections', 0) for a, b in zip(after, before, strict=True))
    paused = sum(a.get('full_pause_total_s', 0) - b.get('full_pause_total_s', 0)
                 for a, b in zip(after, before, strict=True))
    longest = max((max(a.get('recent_pauses_s', [])[-new:], default=0)
                   for a, b in zip(after, before, strict=True)
                   if (new := a.get('full_collections', 0) - b.get('full_collections', 0)) > 0), default=0)
    row = {'users': count, 'clients': clients, 'load_p50': _pct(loads, 50), 'load_p95': _pct(loads, 95),
           'load_max': _pct(loads, 100),
           'event_p50': _pct(events, 50), 'event_p95': _pct(events, 95), 'errors': stats.errors,
           'error_rate': error_rate, 'rss_mb': rss, 'full_gcs': gcs, 'paused_s': paused, 'longest_s': longest}
    print(f'{count:>6} {row["load_p50"]:>9.0f} {row["load_p95"]:>7.0f} {row["load_max"]:>7.0f} '
          f'{row["event_p50"]:>10.0f} {row["event_p95"]:>7.0f} {stats.errors:>3} {error_rate:>4.1%} '
          f'{"+".join(f"{r:.0f}" for r in rss):>14} {sum(rss) / clients:>9.2f} {gcs:>9} {paused:>7.2f}s '
          f'{longest:>7.2f}s  ({len(loads)} loads, {len(events)} events, {clients} clients on the server, '
          f'{connected} connected, {elements / max(clients, 1):.0f} elements each)',
          flush=True)
    if stats.error_kinds:
        print('        errors: ' + ', '.join(f'{kind} x{n}' for kind, n in stats.error_kinds.most_common(4)))
    return row


async def soak(http: aiohttp.ClientSession, servers: Servers, minutes: float) -> None:
    print(f'soak: {minutes:.0f} min at the last step; RSS per process each minute')
    at_five = None
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < minutes * 60:
        await asyncio.sleep(min(60.0, minutes * 60 - elapsed))
        rss = [s.get('rss_mb', 0) for s in await servers.stats(http)]
        minute = (time.monotonic() - started) / 60
        if at_five is None and minute >= 5:
            at_five = rss
        ratio = (' ' + ', '.join(f'{r / f:.2f}x of the 5-minute value' for r, f in zip(rss, at_five, strict=True))
                 if at_five else '')
        print(f'  {minute:5.1f} min  RSS {" + ".join(f"{r:.0f}" for r in rss)} MB{ratio}', flush=True)


def _pct(values: list[float], percent: int) -> float:
    if not values:
        return float('nan')
    return values[min(len(values) - 1, int(len(values) * percent / 100))]


def _loadavg() -> str:
    return ' '.join(f'{x:.2f}' for x in os.getloadavg())


# ------------------------------------------------------------------------------------------- one simulated user

@dataclass
class Stats:
    page_loads: list[float] = field(default_factory=list)
    events: list[float] = field(default_factory=list)
    errors: int = 0
    signed_in: int = 0
    error_kinds: Counter = field(default_factory=Counter)

    def reset(self) -> None:
        self.page_loads, self.events, self.errors = [], [], 0
        self.error_kinds.clear()

    def error(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] += 1

    def user_ended(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:  # a bug in this script: say so, loudly
            self.error(f'simulated user failed: {task.exception()!r}')

    async def wait_signed_in(self, count: int, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.signed_in < count and time.monotonic() < deadline:
            await asyncio.sleep(0.5)


class PageGone(Exception):
    """The page answered with something else than the expected screen (a redirect to log-in, an error)."""


async def simulated_user(http: aiohttp.ClientSession, servers: Servers, scenario: str, index: int,
                         accounts: list[str], stats: Stats) -> None:
    rng = random.Random(index)
    base = servers.url_for(index)
    # Each user its own browser: its own cookies, and its own address as nginx and the log-in throttle see it.
    jar = aiohttp.CookieJar(unsafe=True)
    headers = {'X-Forwarded-For': f'10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}'}
    async with aiohttp.ClientSession(connector=http.connector, connector_owner=False, cookie_jar=jar,
                                     headers=headers) as browser:
        if scenario in ('portal', 'desk'):
            email, password = (accounts[index], PASSWORD) if scenario == 'portal' else (PROVIDER, DEMO_PASSWORD)
            while True:
                try:
                    await sign_in(browser, base, email, password)
                    break
                except (TimeoutError, PageGone, aiohttp.ClientError, OSError):
                    await asyncio.sleep(2 + rng.random() * 3)
        stats.signed_in += 1
        cycle = 0
        while True:
            pages = {'login': ['/login'], 'portal': ['/portal', '/portal/registration?review=1'],
                     'desk': ['/']}[scenario]
            for path in pages:
                stay = RELOAD_SECONDS * (0.8 + 0.4 * rng.random()) / len(pages)
                try:
                    await visit(browser, base, path, scenario, stay, rng, stats)
                except asyncio.CancelledError:
                    raise
                except PageGone as gone:
                    stats.error(f'page: {gone}')
                    await asyncio.sleep(1)
                except Exception as error:  # noqa: BLE001 - whatever went wrong, the person saw an error
                    stats.error(type(error).__name__)
                    await asyncio.sleep(1)
            cycle += 1


async def sign_in(browser: aiohttp.ClientSession, base: str, email: str, password: str) -> None:
    """Through the log-in page, as a person would: type the email and password, press the button, wait to be sent
    on (the session then lives in this browser's storage)."""
    page = await open_page(browser, base, '/login')
    async with page.socket(browser) as socket:
        await socket.send_value(page.element_with('props', 'label', 'Email'), email)
        await socket.send_value(page.element_with('props', 'label', 'Password'), password)
        await socket.click(page.element_with('props', 'label', 'Log in'))
        sent_on = await socket.wait_for('open', timeout=60)
    # The browser follows where the page sends it (which may set the session cookie), then its first page opens.
    target = sent_on.get('path') if isinstance(sent_on.get('path'), str) else '/'
    for _ in range(30):
        async with browser.get(base + target, headers={'Connection': 'close'}) as response:
            html = await response.text()
            landed = response.url.path
        if landed != '/login':
            # A browser connects the page it lands on (else the server keeps that client a minute for nothing).
            async with Page(base, landed, html).socket(browser):
                return
        await asyncio.sleep(1)
    raise PageGone('the session did not hold after log-in')


async def visit(browser: aiohttp.ClientSession, base: str, path: str, scenario: str, stay: float,
                rng: random.Random, stats: Stats) -> None:
    started = time.perf_counter()
    page = await open_page(browser, base, path)
    async with page.socket(browser) as socket:
        stats.page_loads.append((time.perf_counter() - started) * 1000)
        until = time.monotonic() + stay
        clicks = 0
        while (left := until - time.monotonic()) > 0:
            await socket.idle(min(left, CLICK_SECONDS * (0.6 + 0.8 * rng.random())))
            if time.monotonic() >= until:
                break
            target = _click_target(page, scenario, clicks)
            if target is None:
                continue
            element, value = target
            clicked = time.perf_counter()
            if value is not None:
                await socket.send_value(value[0], value[1])
            await socket.click(element)
            try:
                await socket.wait_for('update', timeout=TIMEOUT_SECONDS)
            except TimeoutError:
                stats.error('event without an answer')
                continue
            stats.events.append((time.perf_counter() - clicked) * 1000)
            clicks += 1


def _click_target(page: Page, scenario: str, clicks: int) -> tuple[str, tuple[str, str] | None] | None:
    if scenario == 'login':  # the password's show/hide eye: answered by the server, each time with a change
        return page.element_with('tag', None, 'q-icon'), None
    if scenario == 'desk':
        number = page.element_with('props', 'label', 'Appointment confirmation number')
        return page.element_with('props', 'label', 'Go'), (number, '1000001')
    if not page.path.startswith('/portal/registration'):
        return None  # the home page is read, not clicked
    # Start (saves step 1) and Previous (saves step 0) alternately: each click is one registration step saved.
    label = 'Start' if clicks % 2 == 0 else 'Previous'
    return page.element_with('props', 'label', label), None


# ------------------------------------------------------------------------------------- NiceGUI's protocol, client

class Page:
    def __init__(self, base: str, path: str, html: str) -> None:
        self.base, self.path = base, path
        raw = re.search(r'parseElements\(String\.raw`(.*?)`\)', html, re.S)
        query = re.search(r'\n\s*query: (\{.*?\}),\n', html)
        if raw is None or query is None:
            raise PageGone('no NiceGUI page')
        raw_text = raw.group(1)
        for escaped, plain in (('&#36;', '$'), ('&#96;', '`'), ('&gt;', '>'), ('&lt;', '<'), ('&amp;', '&')):
            raw_text = raw_text.replace(escaped, plain)  # nicegui.js's parseElements, in its order
        self.elements: dict[str, dict] = json.loads(raw_text)
        self.query: dict = ast.literal_eval(query.group(1))  # a Python dict as the template writes it

    def element_with(self, where: str, key: str | None, value: str) -> str:
        for element_id, element in self.elements.items():
            found = element.get(where) if key is None else (element.get(where) or {}).get(key)
            if isinstance(found, str) and found.removesuffix(' *') == value and element.get('events'):  # required: ' *'
                return element_id
        raise PageGone(f'{self.path} has no element with {key} {value!r}')

    def listener(self, element_id: str, event_type: str) -> str:
        for event in self.elements[element_id].get('events', []):
            if event['type'] == event_type:
                return event['listener_id']
        raise PageGone(f'element {element_id} of {self.path} has no {event_type} listener')

    def socket(self, browser: aiohttp.ClientSession) -> Socket:
        return Socket(self, browser)


async def open_page(browser: aiohttp.ClientSession, base: str, path: str) -> Page:
    # A connection of its own, as a browser's websocket has (uvicorn's keep-alive timer, armed by the GET, would
    # close the connection under a websocket that reused it).
    async with browser.get(base + path, timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS),
                           headers={'Connection': 'close'}) as response:
        html = await response.text()
        if response.status != 200:
            raise PageGone(f'HTTP {response.status}')
        if response.url.path != path.split('?')[0]:
            raise PageGone(f'sent to {response.url.path}')
    return Page(base, path, html)


class Socket:
    """One page's socket.io connection: engine.io v4 packets over a websocket (0 open, 2 ping / 3 pong, 4 message;
    socket.io 0 connect, 2 event, 4 connect error)."""

    def __init__(self, page: Page, browser: aiohttp.ClientSession) -> None:
        self.page, self.browser = page, browser
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.next_message_id = int(page.query.get('next_message_id', 0))
        self.acked = -1
        self.messages: asyncio.Queue[tuple[str, dict] | None] = asyncio.Queue()
        self.reader: asyncio.Task | None = None

    async def __aenter__(self) -> Socket:
        query = {**{k: v for k, v in self.page.query.items() if v is not None}, 'document_id': str(uuid.uuid4()),
                 'tab_id': str(uuid.uuid4()), 'EIO': '4', 'transport': 'websocket'}
        query = {k: str(v).lower() if isinstance(v, bool) else v for k, v in query.items()}
        url = self.page.base.replace('http', 'ws', 1) + '/_nicegui_ws/socket.io/?' + urlencode(query)
        self.ws = await asyncio.wait_for(self.browser.ws_connect(url), TIMEOUT_SECONDS)
        try:
            opened = await asyncio.wait_for(self.ws.receive_str(), TIMEOUT_SECONDS)
            if not opened.startswith('0'):
                raise PageGone(f'engine.io open expected, got {opened[:20]!r}')
            await self.ws.send_str('40')
            while True:
                packet = await asyncio.wait_for(self.ws.receive_str(), TIMEOUT_SECONDS)
                if packet.startswith('40'):
                    break
                if packet.startswith('44'):
                    raise PageGone('handshake refused')
                await self._handle(packet)
        except BaseException:
            await self.ws.close()
            raise
        # The browser reads its socket all the time (pings, updates), whatever the person does.
        self.reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.reader is not None:
            self.reader.cancel()
        if self.ws is not None:
            await self.ws.close()

    async def send_value(self, element_id: str, value: str) -> None:
        await self._event(element_id, 'update:value', [json.dumps(value)])

    async def click(self, element_id: str) -> None:
        while not self.messages.empty():  # what came before the click is not its answer
            self.messages.get_nowait()
        await self._event(element_id, 'click', [])

    async def _event(self, element_id: str, event_type: str, args: list) -> None:
        message = {'id': int(element_id), 'client_id': self.page.query['client_id'],
                   'listener_id': self.page.listener(element_id, event_type), 'args': args}
        await self.ws.send_str('42' + json.dumps(['event', message]))

    async def wait_for(self, kind: str, *, timeout: float) -> dict:
        """Until the server sends a message of this kind."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            message = await asyncio.wait_for(self.messages.get(), left)
            if message is None:
                raise aiohttp.ClientConnectionError('socket closed')
            if message[0] == kind:
                return message[1]

    async def idle(self, seconds: float) -> None:
        if self.reader is not None and self.reader.done():
            raise aiohttp.ClientConnectionError('socket closed')
        await asyncio.sleep(seconds)

    async def _read(self) -> None:
        try:
            async for packet in self.ws:
                if packet.type != aiohttp.WSMsgType.TEXT:
                    break
                if (message := await self._handle(packet.data)) is not None:
                    self.messages.put_nowait(message)
        finally:
            self.messages.put_nowait(None)

    async def _handle(self, packet: str) -> tuple[str, dict] | None:
        if packet == '2':
            await self.ws.send_str('3')
            if self.acked < self.next_message_id:  # as nicegui.js every 3 s: the server prunes its message history
                await self.ws.send_str('42' + json.dumps(['ack', {'client_id': self.page.query['client_id'],
                                                                  'next_message_id': self.next_message_id}]))
                self.acked = self.next_message_id
            return None
        if packet.startswith('42'):
            kind, *rest = json.loads(packet[2:])
            data = rest[0] if rest else {}
            if isinstance(data, dict) and '_id' in data:
                self.next_message_id = max(self.next_message_id, data['_id'] + 1)
            return kind, data
        return None


# ------------------------------------------------------------------------------------------ database and servers

class ScratchDatabase:
    def __enter__(self) -> ScratchDatabase:
        import psycopg
        self.name = f'cvms_load_{os.getpid()}'
        self.admin = PG_ADMIN
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE {self.name}')
        self.url = self.admin.rsplit('/', 1)[0] + '/' + self.name
        return self

    def __exit__(self, *exc: object) -> None:
        import psycopg
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS {self.name} WITH (FORCE)')


def prepare(url: str, *, users: int) -> list[str]:
    """The demo data, and `users` portal accounts (each a recipient with its own log-in) with one password."""
    os.environ.update({'CVMS_DATABASE_URL': url, **FAST_ARGON2})
    from services.core.settings import reset_settings
    reset_settings()
    from datetime import date

    from sqlmodel import select

    from models import Location, Recipient, User
    from services import demo
    from services.accounts.passwords import hash_password
    from services.core import db
    from services.portal.accounts import attach_recipient
    from services.recipients.identity import fold, identity_key

    started = time.perf_counter()
    db.migrate()
    demo.seed_demo()
    password_hash = hash_password(PASSWORD)
    emails = [f'load-{i}@bench.cvms.example.org' for i in range(users)]
    with db.session_scope() as session:
        clinic = session.exec(select(Location).where(Location.code == 'DEMO1')).one()
        for i, email in enumerate(emails):
            born = date(1950 + i % 50, 1 + i % 12, 1 + i % 28)
            person = Recipient(first_name=f'Load{i}', last_name='Bench', date_of_birth=born, email=email,
                               location_id=clinic.id, organization_id=clinic.organization_id,
                               identity_key=identity_key(f'Load{i}', 'Bench', born), first_name_key=fold(f'Load{i}'),
                               last_name_key=fold('Bench'))
            session.add(person)
            session.flush()
            attach_recipient(session, person)
        session.flush()
        for user in session.exec(select(User).where(User.email.in_(emails))):  # type: ignore[attr-defined]
            user.password_hash = password_hash
            session.add(user)
    print(f'prepared: demo data and {users} portal accounts in {time.perf_counter() - started:.1f} s')
    return emails


class Servers:
    """The app processes under test, each with GET /_debug/stats on (full-GC pauses, RSS, connected clients)."""

    def __init__(self, mode: str, database_url: str, extra_env: dict[str, str]) -> None:
        self.mode, self.database_url, self.extra_env = mode, database_url, extra_env
        self.processes: list[subprocess.Popen] = []
        self.ports: list[int] = []
        self.url = ''
        self.tmp = Path(tempfile.mkdtemp(prefix='cvms-load-'))
        self.redis_prefix = f'cvms-load-{uuid.uuid4().hex[:8]}:'

    def __enter__(self) -> Servers:
        env = {k: v for k, v in os.environ.items() if k != 'PYTEST_CURRENT_TEST'}
        env.update({'CVMS_DATABASE_URL': self.database_url, 'CVMS_REDIS_URL': REDIS_URL, 'CVMS_DEBUG_STATS': 'true',
                    'NICEGUI_REDIS_KEY_PREFIX': self.redis_prefix,
                    'CVMS_STORAGE_SECRET': uuid.uuid4().hex + uuid.uuid4().hex, 'CVMS_HOST': '127.0.0.1',
                    **FAST_ARGON2, **self.extra_env})
        try:
            if self.mode == 'nginx':
                port = _free_port()
                subprocess.run([sys.executable, str(ROOT / 'deploy' / 'cluster.py'), '--run-dir', str(self.tmp),
                                'start', '--serve', '2', '--workers', '0', '--port', str(port)],
                               env=env, check=True, stdout=subprocess.DEVNULL)
                state = json.loads((self.tmp / 'cluster.json').read_text())
                self.ports = [p['port'] for p in state['serve']]
                self.url = f'http://127.0.0.1:{port}'
            else:
                for i in range(1 if self.mode == 'one' else 2):
                    port = _free_port()
                    log = open(self.tmp / f'serve-{i}.log', 'wb')  # noqa: SIM115 - closed with the process
                    self.processes.append(subprocess.Popen(
                        [sys.executable, str(ROOT / 'main.py'), 'serve'], cwd=ROOT, stdout=log,
                        stderr=subprocess.STDOUT,
                        env={**env, 'CVMS_PORT': str(port), 'CVMS_DATA_DIR': str(self.tmp / f'data-{i}')}))
                    self.ports.append(port)
                for port in self.ports:
                    _wait_http(f'http://127.0.0.1:{port}/healthz', 120)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.mode == 'nginx':
            subprocess.run([sys.executable, str(ROOT / 'deploy' / 'cluster.py'), '--run-dir', str(self.tmp), 'stop'],
                           check=False, stdout=subprocess.DEVNULL)
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)
        import redis
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f'{self.redis_prefix}*'):  # the simulated browsers' storage
            client.delete(key)

    def url_for(self, index: int) -> str:
        if self.mode == 'nginx':
            return self.url
        return f'http://127.0.0.1:{self.ports[index % len(self.ports)]}'  # sticky: a user keeps its process

    async def stats(self, http: aiohttp.ClientSession) -> list[dict]:
        found = []
        for port in self.ports:
            try:
                async with http.get(f'http://127.0.0.1:{port}/_debug/stats',
                                    timeout=aiohttp.ClientTimeout(total=30)) as response:
                    found.append(await response.json())
            except (TimeoutError, aiohttp.ClientError):
                found.append({})
        return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def _wait_http(url: str, seconds: float) -> None:
    import urllib.request
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):  # noqa: S310 - 127.0.0.1 only
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f'{url} did not answer within {seconds:.0f} s')


if __name__ == '__main__':
    sys.exit(main())
