"""Who is at the keyboard: resolves the session for page loads and for every event handler."""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from urllib.parse import quote

from fastapi.responses import RedirectResponse
from nicegui import app, ui

from services.accounts import auth
from services.core.errors import NotAllowed
from services.permissions import Action, can, deny
from services.principal import Principal

TOKEN_KEY = 'auth_token'
LANG_KEY = 'portal_lang'  # the language chosen before signing in (log-in pages, sign-up)
KEPT_AT_SIGN_IN = (LANG_KEY,)


def client_ip() -> str | None:
    try:
        request = ui.context.client.request
    except (RuntimeError, AttributeError):
        return None
    return request.client.host if request and request.client else None


def current_principal() -> Principal | None:
    """The signed-in person, checked against the database on every call (timeouts, log-out, password change)."""
    return auth.resolve_session(app.storage.user.get(TOKEN_KEY), client_ip=client_ip())


def acting() -> Principal:
    """For event handlers: the principal now, or NotAllowed when the session has ended meanwhile."""
    principal = current_principal()
    if principal is None:
        ui.navigate.to('/login')
        raise NotAllowed('Your session has ended. Please log in again.')
    return principal


def forget_session() -> None:
    """Drop everything this browser kept for the session but the language choice."""
    kept = {key: app.storage.user[key] for key in KEPT_AT_SIGN_IN if key in app.storage.user}
    app.storage.user.clear()
    app.storage.user.update(kept)


def sign_in(token: str) -> None:
    forget_session()  # nothing from before the log-in survives it but the language
    app.storage.user[TOKEN_KEY] = token


def sign_out() -> None:
    auth.logout(app.storage.user.get(TOKEN_KEY))
    forget_session()


def protected_page(path: str, action: Action, *, title: str) -> Callable:
    """@ui.page that sends strangers to /login and shows a clear "not allowed" page to roles without `action`.
    The decorated function receives the principal as its first argument and draws inside the page frame."""
    from .frame import frame, not_allowed  # frame imports this module

    def decorator(func: Callable) -> Callable:
        def check() -> Principal | RedirectResponse | None:
            principal = current_principal()
            if principal is None:
                return RedirectResponse(f'/login?next={quote(ui.context.client.request.url.path)}')
            if not can(principal, action):
                try:
                    deny(principal, action=f'page {path}')
                except NotAllowed:
                    pass
                with frame(principal, 'Not allowed'):
                    not_allowed()
                return None
            return principal

        if inspect.iscoroutinefunction(func):
            @functools.wraps(func)
            async def wrapper(*args, **kwargs):  # noqa: ANN202
                principal = check()
                if not isinstance(principal, Principal):
                    return principal
                with frame(principal, title):
                    return await func(principal, *args, **kwargs)
        else:
            @functools.wraps(func)
            def wrapper(*args, **kwargs):  # noqa: ANN202
                principal = check()
                if not isinstance(principal, Principal):
                    return principal
                with frame(principal, title):
                    return func(principal, *args, **kwargs)

        parameters = list(inspect.signature(func).parameters.values())[1:]
        wrapper.__signature__ = inspect.signature(func).replace(parameters=parameters)  # type: ignore[attr-defined]
        return ui.page(path, title=f'{title} · CVMS')(wrapper)
    return decorator
