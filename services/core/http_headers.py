"""Security headers on every HTTP response (pages, downloads, API routes, NiceGUI's static files): a plain ASGI
middleware, so it imports no web framework and adds nothing but headers (docs/adr/0012-security-headers.md).

The Content-Security-Policy allows what NiceGUI 3.18 and Quasar need and nothing from other origins. NiceGUI puts
the page's elements in an inline module script, evaluates `:prop` values and JavaScript handlers with eval/new
Function, and Tailwind and Quasar add inline styles: script-src needs 'unsafe-inline' and 'unsafe-eval', style-src
'unsafe-inline'. What the policy still buys: no script, style, font, image or connection from another origin (an
injected script cannot load code or send data elsewhere), no plugins, no <base> rewriting, forms post only here,
and no framing at all (frame-ancestors 'none', with X-Frame-Options for old browsers)."""
from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CONTENT_SECURITY_POLICY = '; '.join((
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",  # the page's own websocket (socket.io) and downloads
    "media-src 'self' blob:",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
HSTS = 'max-age=31536000; includeSubDomains'  # a year: only sent when the app is served over https


def security_headers(*, https: bool) -> list[tuple[bytes, bytes]]:
    """The headers every response carries (HSTS only on https: over http a browser ignores it anyway, and a
    development server on http://localhost must not pin https for the host)."""
    headers = [
        ('Content-Security-Policy', CONTENT_SECURITY_POLICY),
        ('X-Frame-Options', 'DENY'),
        ('X-Content-Type-Options', 'nosniff'),
        ('Referrer-Policy', 'same-origin'),  # password links and search terms in URLs never leave the site
        ('Permissions-Policy', 'camera=(self), microphone=(), geolocation=()'),  # camera: scanning at the desk
    ]
    if https:
        headers.append(('Strict-Transport-Security', HSTS))
    return [(name.lower().encode(), value.encode()) for name, value in headers]


class SecurityHeaders:
    """Adds security_headers() to every HTTP response, replacing any header of the same name a route set."""

    def __init__(self, app: ASGIApp, *, https: bool = False) -> None:
        self.app = app
        self.headers = security_headers(https=https)
        self.names = {name for name, _ in self.headers}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message['type'] == 'http.response.start':
                kept = [(k, v) for k, v in message.get('headers', []) if k.lower() not in self.names]
                message['headers'] = kept + self.headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
