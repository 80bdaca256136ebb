#!/usr/bin/env python3
"""CVMS: the app (NiceGUI) and its small admin CLI. Only `serve` (and the tests' simulated user) load NiceGUI and
the pages: the other commands load only the database layer and what they use (tests/unit/test_cli.py).

    python main.py serve [--demo] [--no-jobs]   start the app (default command), with its background work
    python main.py worker             background work only (High Volume jobs, mail, clinic jobs); no web server
    python main.py init-db            create or upgrade the database schema
    python main.py seed-demo          add the demo data to an empty database
    python main.py create-user --email E --role R [--location CODE] [--password-stdin]
    python main.py import-recipients PATH --location CODE [--as EMAIL] [--high-volume] [--json]
    python main.py clinic-jobs        send due dose reminders, mark past no-shows (for cron)
    python main.py verify-audit       check the audit trail's hash chain (exit 1 at the first broken row)
"""
from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import pkgutil
import sys

from services.core.settings import SettingsError, get_settings

# NiceGUI reads its storage folder at import: keep all of the app's state in the data folder.
os.environ.setdefault('NICEGUI_STORAGE_PATH', str((get_settings().data_dir / 'nicegui').resolve()))

from services.bulk import cli as bulk_cli  # noqa: E402
from services.clinic import events, reminders  # noqa: E402
from services.core import audit, db, health, runtime  # noqa: E402
from services.fhir import cli as fhir_cli  # noqa: E402
from services.registry import cli as registry_cli  # noqa: E402

log = logging.getLogger('cvms')


def build_app(*, run_jobs: bool | None = None) -> None:
    """Register pages, API routes and start-up jobs (runs again for every simulated test user). NiceGUI is imported
    here, not at the top: `main.py worker` and the other commands never load it."""
    from fastapi.responses import JSONResponse
    from nicegui import Client, app, background_tasks
    from nicegui.storage import Storage

    import pages
    from components import error_pages
    from services import background
    from services.core.http_headers import SecurityHeaders
    from services.core.upload_limit import UploadSizeLimit

    settings = get_settings()
    from components import speedups
    speedups.install()  # NiceGUI's per-element signature checks, once per function
    if settings.redis_url:
        Storage.redis_url = settings.redis_url  # several app instances share user storage
    for module in pkgutil.walk_packages(pages.__path__, 'pages.'):  # every screen module registers its own routes
        importlib.import_module(module.name)
    # Security headers on every response and the app's own 404/500 pages (docs/adr/0012-security-headers.md).
    app.add_middleware(SecurityHeaders, https=settings.uses_https)
    # Upload bodies past the Bulk Registration limit (the largest of the app's uploads) are cut off as they arrive.
    app.add_middleware(UploadSizeLimit, limit_bytes=lambda: get_settings().bulk_max_file_mb * 1024 * 1024)
    error_pages.register()
    from pages.fhir.api import router as fhir_routes
    app.include_router(fhir_routes)  # the FHIR read API (and the health cards' public keys)
    from components import theme
    theme.register_static()

    @app.get('/healthz')
    def healthz(require: str = '') -> JSONResponse:
        healthy, report = health.check(require_jobs=require == 'jobs')
        report['live_updates'] = events.live_updates_state()  # reported only: the desks' slow refresh covers a gap
        return JSONResponse(report, status_code=200 if healthy else 503)

    if settings.debug_stats:
        pauses = runtime.record_gc_pauses()

        @app.get('/_debug/stats')
        async def debug_stats() -> JSONResponse:  # on the event loop, which changes Client.instances
            clients = list(Client.instances.values())
            return JSONResponse({**pauses.report(), 'clients': len(clients),
                                 'clients_connected': sum(client.has_socket_connection for client in clients),
                                 'elements': sum(len(client.elements) for client in clients)})

    stop = asyncio.Event()
    app.on_startup(stop.clear)
    app.on_shutdown(stop.set)
    # Every instance with desks hears the others' appointment changes, web-only ones too (docs/adr/0011).
    app.on_startup(lambda: background_tasks.create(events.listen_across_instances(stop),
                                                   name='desk updates from other instances'))
    if not (settings.run_jobs if run_jobs is None else run_jobs):
        return  # a web-only instance: `main.py worker` processes run the background work
    # Not cancelled at shutdown but stopped by `stop` and awaited: the job engine hands its jobs back and closes
    # its connection pool (cancelled midway, the pool's tasks outlive the event loop and hang its close).
    run_background = background_tasks.await_on_shutdown(background.run_background)
    app.on_startup(lambda: background_tasks.create(run_background(stop), name='background work'))


def run_server(*, demo_data: bool, run_jobs: bool | None = None) -> None:
    from nicegui import ui

    settings = get_settings()
    storage_secret = settings.resolved_storage_secret  # refuses to start when instances would sign cookies apart
    db.migrate()
    if demo_data:
        from services import demo
        if demo.database_is_empty():
            _print_logins(demo.seed_demo())
            demo.seed_dose_history()
    build_app(run_jobs=run_jobs)
    # Once the app has started, what the imports and pages built is frozen out of later collections (not in the
    # tests' simulated user, whose process runs many apps one after another).
    from nicegui import app

    from components.theme import LANGUAGE
    app.on_startup(lambda: log.info('Garbage collector thresholds %s', runtime.tune_gc(enabled=settings.gc_tuning)))
    ui.run(host=settings.host, port=settings.port, title='CVMS', reload=False, show=False, language=LANGUAGE,
           storage_secret=storage_secret, favicon='💉',
           session_middleware_kwargs={'same_site': 'lax', 'https_only': settings.uses_https},
           proxy_headers=True, forwarded_allow_ips=settings.forwarded_allow_ips)


def _print_logins(logins: list[tuple[str, str, str]]) -> None:
    print('Demo data created. Log in at', get_settings().base_url, 'with:')
    for email, role, password in logins:
        print(f'  {role:<20} {email:<36} {password}')


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog='main.py', description='CVMS vaccine management system')
    commands = parser.add_subparsers(dest='command')
    serve = commands.add_parser('serve', help='start the app (default)')
    serve.add_argument('--demo', action='store_true', help='seed demo data into an empty database')
    serve.add_argument('--no-jobs', action='store_true',
                       help='web only: leave background work to `main.py worker` processes (or CVMS_RUN_JOBS=false)')
    commands.add_parser('worker', help='run background work only: High Volume jobs, mail, clinic jobs')
    commands.add_parser('init-db', help='create or upgrade the database schema')
    commands.add_parser('seed-demo', help='add demo data (only into an empty database)')
    create = commands.add_parser('create-user', help='create a user account')
    create.add_argument('--email', required=True)
    create.add_argument('--role', required=True, help='state_admin, location_manager, healthcare_provider, '
                                                      'employer or recipient')
    create.add_argument('--name', default='')
    create.add_argument('--location', help='location code (location managers and healthcare providers)')
    create.add_argument('--organization-id', type=int)
    create.add_argument('--password-stdin', action='store_true',
                        help='read the password from standard input instead of emailing a set-password link')
    for register in CLI_EXTENSIONS:
        register(commands)
    args = parser.parse_args(argv)

    command = args.command or 'serve'
    if command == 'serve':
        try:
            run_server(demo_data=getattr(args, 'demo', False),
                       run_jobs=False if getattr(args, 'no_jobs', False) else None)
        except SettingsError as error:
            print(f'Error: {error}', file=sys.stderr)
            return 2
        return 0
    db.migrate()
    if command == 'worker':
        from services import background
        return background.run_worker_process()
    if command == 'init-db':
        print('Database is up to date.')
        return 0
    if command == 'seed-demo':
        from services import demo  # every area's demo data: loaded only by this command and `serve --demo`
        if not demo.database_is_empty():
            print('The database already holds data; demo data is only added to an empty database.', file=sys.stderr)
            return 1
        _print_logins(demo.seed_demo())
        demo.seed_dose_history()
        return 0
    if command == 'create-user':
        return _create_user(args)
    return args.handler(args)


def _create_user(args: argparse.Namespace) -> int:
    from services.accounts.staff import create_user
    from services.core.errors import ServiceError

    password = sys.stdin.readline().rstrip('\n') if args.password_stdin else None
    try:
        with db.session_scope() as session:
            user = create_user(session, email=args.email, role=args.role, full_name=args.name,
                               location_code=args.location, organization_id=args.organization_id, password=password)
            print(f'Created {user.role} {user.email} (id {user.id}).'
                  + ('' if password else ' A welcome email with a set-password link is in the outbox.'))
    except ServiceError as error:
        print(f'Error: {error}', file=sys.stderr)
        return 2
    return 0


# Other modules add subcommands here: each is a function taking the subparsers object and
# setting `handler` (a function of the parsed args returning an exit code) on its parser.
CLI_EXTENSIONS: list = []
CLI_EXTENSIONS.append(bulk_cli.register)  # import-recipients
CLI_EXTENSIONS.append(reminders.register_cli)  # clinic-jobs
CLI_EXTENSIONS.append(registry_cli.register)  # iis-export
CLI_EXTENSIONS.append(audit.register_cli)  # verify-audit
CLI_EXTENSIONS.append(fhir_cli.register)  # health-card, health-card-key

if __name__ in {'__main__', '__mp_main__'}:
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    if os.environ.get('NICEGUI_USER_SIMULATION'):  # pytest's `user` fixture runs this file
        from nicegui import ui
        build_app()
        from components.theme import LANGUAGE
        ui.run(storage_secret=get_settings().resolved_storage_secret, language=LANGUAGE)
    else:
        sys.exit(cli(sys.argv[1:]))
