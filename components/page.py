"""One decorator for every screen behind a log-in, staff and recipient alike: who may enter, and the frame drawn
around the page for its audience (the staff header with the role's navigation, or the recipient portal's
phone-first frame in the person's language)."""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from contextlib import AbstractContextManager
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from fastapi.responses import RedirectResponse, Response
from nicegui import ui

from services.core.errors import NotAllowed
from services.permissions import Action, can, deny
from services.principal import Principal

from .frame import frame, not_allowed
from .guard import principal_now, redirect
from .portal_frame import load_portal_context, portal_frame


class Audience(StrEnum):
    STAFF = 'staff'  # the page function receives the Principal
    PORTAL = 'portal'  # the page function receives a PortalContext (language, household member being looked at)


STAFF, PORTAL = Audience.STAFF, Audience.PORTAL
# How long an async page may take to build before NiceGUI gives up (its default, 3 s, counts the wait for a worker
# thread, which grows with the load; a page that answers late is better than an error page).
PAGE_SECONDS = 30.0


def page(path: str, *, title: str, action: Action, audience: Audience = STAFF, public: bool = False) -> Callable:
    """@ui.page that sends strangers to /login (and back here after it), checks `action` and draws the decorated
    function inside its audience's frame. Staff without `action` see a "Not allowed" page (audited); signed-in people
    without it on a portal page go to their home page. A portal `title` is a catalog message id (mark it with `_`),
    shown in the person's language; `public` portal pages (sign-up, proof checks) also open without a log-in."""

    async def enter() -> tuple[Any, AbstractContextManager] | RedirectResponse | None:
        principal = await principal_now()
        if principal is None and not public:
            return redirect(f'/login?next={quote(ui.context.client.request.url.path)}')
        if audience is PORTAL:
            return await _enter_portal(principal, action=action, title=title, public=public)
        return _enter_staff(principal, action=action, path=path, title=title)

    def decorator(func: Callable) -> Callable:
        # Always async: the session check and the portal's reader run in worker threads (principal_now), whether the
        # page function itself is sync or async.
        @functools.wraps(func)
        async def wrapper(*args, **kwargs):  # noqa: ANN202
            entered = await enter()
            if not isinstance(entered, tuple):
                return entered
            argument, framed = entered
            with framed:
                result = func(argument, *args, **kwargs)
                return _answered(await result if inspect.isawaitable(result) else result)

        # NiceGUI passes path and query parameters by name: hide the first parameter, which the frame supplies.
        parameters = list(inspect.signature(func).parameters.values())[1:]
        wrapper.__signature__ = inspect.signature(func).replace(parameters=parameters)  # type: ignore[attr-defined]
        return ui.page(path, title=f'{title} · CVMS', response_timeout=PAGE_SECONDS)(wrapper)
    return decorator


def _answered(result: Any) -> Any:
    """A page function that answers with a response (a redirect) drew no page: its client goes now."""
    if isinstance(result, Response) and not ui.context.client.is_deleted:
        ui.context.client.delete()
    return result


def _enter_staff(principal: Principal, *, action: Action, path: str,
                 title: str) -> tuple[Principal, AbstractContextManager] | None:
    if not can(principal, action):
        try:
            deny(principal, action=f'page {path}')  # audits the refusal
        except NotAllowed:
            pass
        with frame(principal, 'Not allowed'):
            not_allowed()
        return None
    return principal, frame(principal, title)


async def _enter_portal(principal: Principal | None, *, action: Action, public: bool,
                        title: str) -> tuple[Any, AbstractContextManager] | RedirectResponse:
    if principal is None or not can(principal, action):
        if not public:
            return redirect('/')  # staff who typed a portal address: their own home page
        principal = None  # a public page shows the same to everyone who is not a signed-in recipient
    ctx = await load_portal_context(principal)
    return ctx, portal_frame(ctx, ctx.t(title))
