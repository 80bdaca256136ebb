"""The Content-Security-Policy in real Chromium: every staff and portal page draws and works without a single CSP
violation, no page of the app can be shown inside a frame, and a wrong address shows the app's page (issue 12
item 6, issue 16)."""
from __future__ import annotations

import re

import pytest

from tests.factories import ADMIN, EMPLOYER, MANAGER, PROVIDER, RECIPIENT

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
    PROVIDER: ['/', '/appointments', '/desk/register', '/desk/back-entry', '/desk/doses', '/forms/administration',
               '/forms/inventory-levels', '/inventory', '/shipments'],
    EMPLOYER: ['/', '/invitations', '/bulk-registration'],
    RECIPIENT: ['/portal', '/portal/registration', '/portal/household', '/portal/appointments', '/portal/record',
                '/portal/password'],
}
PUBLIC = ['/login', '/forgot-password', '/portal/sign-up', '/set-password/not-a-token', '/verify/not-a-code',
          '/no-such-page']


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


def test_the_desk_dose_form_runs_without_csp_violations(live_app: str, browser) -> None:  # noqa: ANN001
    """The one page reached only through a check-in: a demo appointment of today, checked in at the desk."""
    context, tab = _watched(browser)
    problems: list[str] = []
    try:
        _log_in(tab, live_app, PROVIDER)
        row = tab.locator('tr', has_text='Dose 1 Scheduled').first
        row.wait_for()
        number = re.search(r'\b\d{8}\b', row.inner_text()).group(0)
        tab.get_by_label('Appointment confirmation number').fill(number)
        tab.keyboard.press('Enter')
        tab.get_by_role('button', name='Check in').click()
        tab.wait_for_url(re.compile(r'/desk/vaccinate/\d+'))
        _visit(tab, tab.url, problems)  # drawn afresh, watched from its first script
        tab.get_by_role('heading', name='Record vaccination').wait_for()
    finally:
        context.close()
    assert not problems, problems


FRAMED = '''<iframe id="framed-control" srcdoc="<button>Log in</button>"></iframe>
<iframe id="framed-app" src="{url}"></iframe>'''


def _shown_in_frame(tab, frame_id: str) -> bool:  # noqa: ANN001
    return tab.frame_locator(f'#{frame_id}').get_by_role('button', name='Log in').count() > 0


@pytest.mark.parametrize('host', ['another site', 'the app itself'])
def test_no_page_of_the_app_can_be_framed(live_app: str, browser, host: str) -> None:  # noqa: ANN001
    """A page of another site (or of the app) that frames the log-in page shows nothing of it: Chromium refuses it
    for frame-ancestors 'none' / X-Frame-Options DENY, so nobody can overlay it to steal clicks or passwords."""
    context = browser.new_context()
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    refusals: list[str] = []
    tab.on('console', lambda m: refusals.append(m.text) if 'frame' in m.text else None)
    try:
        if host == 'the app itself':
            tab.goto(f'{live_app}/login')
            tab.evaluate('(html) => document.body.insertAdjacentHTML("beforeend", html)',
                         FRAMED.format(url=f'{live_app}/login'))
        else:
            tab.set_content(FRAMED.format(url=f'{live_app}/login'))
        tab.frame_locator('#framed-control').get_by_role('button', name='Log in').wait_for()  # a frame that may show
        tab.wait_for_function('document.getElementById("framed-app").contentWindow !== null')
        tab.wait_for_timeout(2000)  # time enough for the log-in page to draw, were it allowed
        assert not _shown_in_frame(tab, 'framed-app')
        assert any("frame-ancestors 'none'" in text or 'X-Frame-Options' in text for text in refusals), refusals
    finally:
        context.close()
