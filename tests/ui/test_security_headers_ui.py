"""Security headers on every response and the app's own 404 and 500 pages (issue 12 item 6, issue 16)."""
from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.testing import User

from services.core.http_headers import CONTENT_SECURITY_POLICY
from tests.conftest import sqlite_only

EXPECTED = {
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'same-origin',
}


@sqlite_only
@pytest.mark.parametrize('path', ['/login', '/healthz', '/no-such-page', '/portal/sign-up'])
async def test_every_response_carries_the_security_headers(db, user: User, path: str) -> None:
    response = await user.http_client.get(path)
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (path, name, response.headers.get(name))
    assert "frame-ancestors 'none'" in response.headers['content-security-policy']
    assert 'strict-transport-security' not in response.headers  # only on https


@sqlite_only
async def test_a_wrong_address_shows_the_apps_page_with_a_way_home(db, user: User) -> None:
    response = await user.http_client.get('/no-such-page')
    assert response.status_code == 404
    for text in ('Page not found', 'There is no page at /no-such-page', 'Go to the home page'):
        assert text in response.text
    assert 'HTTPException' not in response.text
    api = await user.http_client.get('/healthz/no-such-thing')
    assert api.status_code == 404


@sqlite_only
async def test_an_error_in_a_page_shows_a_reference_not_the_exception(db, user: User, caplog) -> None:
    @ui.page('/test-broken-page')
    def broken() -> None:
        raise RuntimeError('secret internals: table recipient')

    response = await user.http_client.get('/test-broken-page')
    assert response.status_code == 500
    assert 'secret internals' not in response.text and 'RuntimeError' not in response.text
    assert 'Something went wrong' in response.text and 'Go to the home page' in response.text
    reference = response.text.split('this reference: ')[1][:8]
    assert f'page error {reference}' in caplog.text and 'secret internals' in caplog.text  # for the operators
    caplog.clear()  # the error was expected: the fixture fails a test on ERROR logs


async def test_on_https_responses_pin_https_and_the_session_cookie_is_secure(monkeypatch: pytest.MonkeyPatch) -> None:
    """Served as https (CVMS_BASE_URL), every response carries Strict-Transport-Security and the session cookie
    is Secure, HttpOnly and SameSite; over plain http neither is pinned (the test above)."""
    import httpx
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse

    from components.guard import SESSION_COOKIE, set_session_cookie
    from services.core.http_headers import HSTS, SecurityHeaders
    from services.core.settings import get_settings, reset_settings

    monkeypatch.setenv('CVMS_BASE_URL', 'https://cvms.example.org')
    reset_settings()
    try:
        assert get_settings().uses_https
        site = FastAPI()

        @site.get('/signed-in')
        def signed_in() -> PlainTextResponse:
            response = PlainTextResponse('ok')
            set_session_cookie(response, 'a-token')
            return response

        site.add_middleware(SecurityHeaders, https=get_settings().uses_https)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=site), base_url='https://cvms.example.org') \
                as client:
            response = await client.get('/signed-in')
        assert response.headers['strict-transport-security'] == HSTS
        cookie = response.headers['set-cookie'].lower()
        assert cookie.startswith(f'{SESSION_COOKIE}=a-token') and '; secure' in cookie and '; httponly' in cookie \
            and 'samesite=lax' in cookie
    finally:
        monkeypatch.undo()
        reset_settings()
