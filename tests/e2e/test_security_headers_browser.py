"""The Content-Security-Policy in real Chromium: every staff and portal page draws and works without a single CSP
violation, and a wrong address shows the app's page (issue 12 item 6, issue 16)."""
from __future__ import annotations

import pytest

from tests.factories import ADMIN, EMPLOYER, MANAGER, RECIPIENT

pytestmark = pytest.mark.browser

# Collects CSP violations (and errors) from the first script on, on every page the tab opens.
WATCH = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`);
});
"""

PAGES = {
    MANAGER: ['/', '/recipients', '/appointments', '/desk/standby', '/desk/register', '/desk/back-entry', '/desk/doses',
              '/bulk-registration', '/inventory', '/shipments', '/reports', '/forms', '/forms/registration',
              '/account/password'],
    ADMIN: ['/', '/recipients', '/reports', '/admin/products', '/admin/allocation', '/admin/organizations',
            '/admin/portal', '/admin/users', '/admin/fhir-tokens', '/outbox', '/audit'],
    EMPLOYER: ['/', '/invitations', '/bulk-registration'],
    RECIPIENT: ['/portal', '/portal/registration', '/portal/household', '/portal/appointments', '/portal/record',
                '/portal/password'],
}
PUBLIC = ['/login', '/forgot-password', '/portal/sign-up', '/set-password/not-a-token', '/no-such-page']


def _visit(tab, url: str, problems: list[str]) -> None:  # noqa: ANN001
    tab.goto(url)
    tab.wait_for_load_state('load')
    tab.wait_for_function('window.did_handshake === true')  # the page's websocket is allowed too
    tab.wait_for_timeout(300)  # styles and updates that come after the handshake
    problems.extend(f'{url}: {v}' for v in tab.evaluate('window.__cspViolations'))


def _log_in(tab, base_url: str, email: str) -> None:  # noqa: ANN001
    tab.goto(f'{base_url}/login')
    tab.get_by_label('Email').fill(email)
    tab.get_by_label('Password').fill('Demo-Password-2021')
    tab.get_by_role('button', name='Log in').click()
    tab.wait_for_url(lambda url: '/login' not in url)


def _watched(browser):  # noqa: ANN001, ANN202
    context = browser.new_context(viewport={'width': 1280, 'height': 900})
    context.add_init_script(WATCH)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    return context, tab


@pytest.mark.parametrize('email', list(PAGES))
def test_every_page_of_each_role_runs_without_csp_violations(live_app: str, browser, email: str) -> None:  # noqa: ANN001
    context, tab = _watched(browser)
    console: list[str] = []
    tab.on('console', lambda m: console.append(m.text) if 'Content Security Policy' in m.text else None)
    problems: list[str] = []
    try:
        _log_in(tab, live_app, email)
        for path in PAGES[email]:
            _visit(tab, live_app + path, problems)
    finally:
        context.close()
    assert not problems and not console, problems + console


def test_public_pages_and_the_not_found_page_run_without_csp_violations(live_app: str, browser) -> None:  # noqa: ANN001
    context, tab = _watched(browser)
    problems: list[str] = []
    try:
        for path in PUBLIC:
            _visit(tab, live_app + path, problems)
        tab.goto(live_app + '/no-such-page')
        tab.get_by_role('heading', name='Page not found').wait_for()
        tab.get_by_role('link', name='Go to the home page').click()
        tab.wait_for_url('**/login?next=/')
    finally:
        context.close()
    assert not problems, problems
