"""Session fixation, in two real browsers: a cookie planted before the log-in grants nothing after it."""
from __future__ import annotations

from tests.e2e.conftest import log_in
from tests.factories import MANAGER


def test_a_browser_holding_the_victims_pre_login_cookie_is_not_signed_in(live_app: str, browser) -> None:  # noqa: ANN001
    victim = browser.new_context()
    attacker = browser.new_context()
    try:
        victim_tab = victim.new_page()
        victim_tab.goto(f'{live_app}/login')
        planted = victim.cookies()  # what an attacker could have fixed in the victim's browser beforehand
        assert planted and all(cookie['name'] != 'cvms_session' for cookie in planted)
        attacker.add_cookies(planted)

        log_in(victim_tab, live_app, MANAGER)
        attacker_tab = attacker.new_page()
        attacker_tab.goto(f'{live_app}/')
        attacker_tab.wait_for_url('**/login?next=/')  # the shared pre-log-in cookie is worth nothing

        session_cookie = next(c for c in victim.cookies() if c['name'] == 'cvms_session')
        assert session_cookie['httpOnly'] and session_cookie['sameSite'] == 'Lax'
        assert session_cookie['value'] not in {c['value'] for c in planted}
        victim_tab.goto(f'{live_app}/')
        victim_tab.get_by_role('button', name='Log out').wait_for()  # the victim stays signed in

        victim_tab.get_by_role('button', name='Log out').click()
        victim_tab.wait_for_url('**/login')
        assert all(c['name'] != 'cvms_session' for c in victim.cookies())
    finally:
        victim.close()
        attacker.close()
