"""The "page not found" and "something went wrong" pages: the app's header and a way home instead of NiceGUI's
sad face with the raw exception text (which told an attacker the exception's class and message). Plain pages that
read nothing from the database or the session, so a flood of wrong addresses costs nothing."""
from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import PlainTextResponse, Response
from nicegui import Client, app, ui
from starlette.exceptions import HTTPException

from .theme import apply_theme, heading, main_region, skip_link

log = logging.getLogger('cvms.errors')


def register() -> None:
    """Install the handlers (again for every simulated test user: the app object is reused)."""
    app.exception_handler(404)(_not_found)
    app.exception_handler(Exception)(_server_error_outside_pages)
    app.on_page_exception(_server_error_in_page)


def not_found_content(path: str) -> None:
    with _frame('Page not found'):
        ui.label(f'There is no page at {path[:200]}. The address may be mistyped, or the page has moved.')
        ui.link('Go to the home page', '/').classes('text-lg').mark('home-link')


def server_error_content(reference: str) -> None:
    with _frame('Something went wrong'):
        ui.label('The page could not be shown because of an error on our side. Nothing you entered was lost '
                 'unless a message said so. Try again in a moment.')
        ui.label(f'If it happens again, tell the state help desk this reference: {reference}').mark('error-reference')
        ui.link('Go to the home page', '/').classes('text-lg').mark('home-link')


async def _not_found(request: Request, exception: Exception) -> Response:
    endpoint = request.scope.get('endpoint')
    if endpoint is not None and endpoint is not app and not request.scope.get('nicegui_page_path') \
            and isinstance(exception, HTTPException):
        return await http_exception_handler(request, exception)  # an API route's 404 stays JSON
    with Client(ui.page(''), request=request) as client:
        not_found_content(request.url.path)
    return client.build_response(request, 404)


async def _server_error_outside_pages(request: Request, exception: Exception) -> Response:
    """Replaces NiceGUI's handler, which drew the exception text. A page's error is drawn by
    _server_error_in_page; NiceGUI then calls this handler too and drops its answer."""
    if not request.scope.get('nicegui_page_path'):
        raise exception  # an API route: the server's plain "Internal Server Error"
    return PlainTextResponse('Internal Server Error', status_code=500)


def _server_error_in_page(exception: Exception) -> None:
    server_error_content(_logged(exception))


def _logged(exception: Exception) -> str:
    """Log the error with a short reference the person can quote; the page shows only the reference."""
    reference = secrets.token_hex(4)
    log.error('page error %s', reference, exc_info=exception)
    return reference


@contextmanager
def _frame(title: str) -> Iterator[None]:
    """The staff header's look without its navigation (nobody is looked up), and the title."""
    apply_theme()
    ui.page_title(f'{title} · CVMS')
    main = main_region('w-full max-w-screen-md mx-auto p-4 column gap-4')
    with ui.header().classes('cvms-header items-center px-4 py-2'):
        skip_link(main)
        ui.link('CVMS', '/').classes('text-lg font-bold text-white no-underline') \
            .props('aria-label="Vaccine Management System, home"')
    with main:
        heading(title, level=1).props('tabindex=-1')
        yield
