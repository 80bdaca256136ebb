"""Who is at the keyboard: resolves the session for page loads and for every event handler. Pages are guarded by
components.page. The session lives in our own HttpOnly cookie, set only when a log-in succeeds (docs/adr/0006);
NiceGUI's browser cookie, which exists before the log-in, carries no grant."""
from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from nicegui import app, run, ui

from services.accounts import auth
from services.core.errors import NotAllowed
from services.core.settings import get_settings
from services.principal import Principal

SESSION_COOKIE = 'cvms_session'
LANG_KEY = 'portal_lang'  # the language chosen before signing in (log-in pages, sign-up)
KEPT_AT_SIGN_IN = (LANG_KEY,)


def client_ip() -> str | None:
    try:
        request = ui.context.client.request
    except (RuntimeError, AttributeError):
        return None
    return request.client.host if request and request.client else None


def session_token() -> str | None:
    """The session cookie of the request that drew this page (event handlers arrive with that page's client)."""
    try:
        request = ui.context.client.request
    except (RuntimeError, AttributeError):
        return None
    return request.cookies.get(SESSION_COOKIE) if request else None


def browser_id() -> str:
    """NiceGUI's per-browser id (from its signed cookie): a sign-in code is bound to it."""
    return str(app.storage.browser['id'])


def redirect(url: str) -> RedirectResponse:
    """What a page function returns to send the browser elsewhere. The page draws nothing a browser could connect
    to, so its client goes now: NiceGUI would keep a client that never connected for a minute, and each log-in passes
    '/' (issue 17: 200 such clients lingered at 100 signed-in users)."""
    ui.context.client.delete()
    return RedirectResponse(url)


def current_principal() -> Principal | None:
    """The signed-in person, checked against the database on every call (timeouts, log-out, password change)."""
    return auth.resolve_session(token=session_token(), client_ip=client_ip())


async def principal_now() -> Principal | None:
    """current_principal for page functions and async handlers: the session check (a few queries, at most every 30 s
    a write) runs in a worker thread, so a page load does not stop every other browser of this process while the
    database answers (issue 17). The request's cookie and address are read here, on the event loop."""
    token, address = session_token(), client_ip()
    if not token:
        return None
    return await run.io_bound(auth.resolve_session, token=token, client_ip=address)


async def acting_now() -> Principal:
    """acting() for async event handlers, with the session checked off the event loop."""
    return _still_signed_in(await principal_now())


def acting() -> Principal:
    """For event handlers: the principal now, or NotAllowed when the session has ended meanwhile."""
    return _still_signed_in(current_principal())


def _still_signed_in(principal: Principal | None) -> Principal:
    if principal is None:
        ui.navigate.to('/login')
        raise NotAllowed('Your session has ended. Please log in again.')
    return principal


def forget_session() -> None:
    """Drop everything this browser kept for the session but the language choice."""
    kept = {key: app.storage.user[key] for key in KEPT_AT_SIGN_IN if key in app.storage.user}
    app.storage.user.clear()
    app.storage.user.update(kept)


def sign_in(sign_in_code: str, target: str) -> None:
    """After a log-in: the browser trades its code at /session/start for the session cookie, then opens `target`."""
    forget_session()  # nothing from before the log-in survives it but the language
    ui.navigate.to(f'/session/start?code={quote(sign_in_code)}&next={quote(target)}')


def set_session_cookie(response: Response, token: str) -> None:
    settings = get_settings()
    response.set_cookie(SESSION_COOKIE, token, max_age=settings.session_absolute_hours * 3600, path='/',
                        httponly=True, samesite='lax', secure=settings.uses_https)


def end_session(request: Request, response: Response) -> None:
    """Log-out over HTTP: the session ends on the server and the browser forgets the cookie."""
    auth.logout(token=request.cookies.get(SESSION_COOKIE))
    forget_session()
    settings = get_settings()
    response.delete_cookie(SESSION_COOKIE, path='/', httponly=True, samesite='lax', secure=settings.uses_https)
