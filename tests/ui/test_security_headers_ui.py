"""Security headers on every response and the app's own 404 and 500 pages (issue 12 item 6, issue 16)."""
from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.testing import User

from services.core.http_headers import CONTENT_SECURITY_POLICY

EXPECTED = {
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'same-origin',
}


@pytest.mark.parametrize('path', ['/login', '/healthz', '/no-such-page', '/portal/sign-up'])
async def test_every_response_carries_the_security_headers(db, user: User, path: str) -> None:
    response = await user.http_client.get(path)
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (path, name, response.headers.get(name))
    assert "frame-ancestors 'none'" in response.headers['content-security-policy']
    assert 'strict-transport-security' not in response.headers  # only on https


async def test_a_wrong_address_shows_the_apps_page_with_a_way_home(db, user: User) -> None:
    response = await user.http_client.get('/no-such-page')
    assert response.status_code == 404
    for text in ('Page not found', 'There is no page at /no-such-page', 'Go to the home page'):
        assert text in response.text
    assert 'HTTPException' not in response.text
    api = await user.http_client.get('/healthz/no-such-thing')
    assert api.status_code == 404


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
