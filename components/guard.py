"""Who is at the keyboard: resolves the session for page loads and for every event handler. Pages are guarded by
components.page."""
from __future__ import annotations

from nicegui import app, ui

from services.accounts import auth
from services.core.errors import NotAllowed
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
    return auth.resolve_session(token=app.storage.user.get(TOKEN_KEY), client_ip=client_ip())


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
    auth.logout(token=app.storage.user.get(TOKEN_KEY))
    forget_session()
