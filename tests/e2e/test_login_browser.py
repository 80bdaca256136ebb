"""The foundation's browser test: a location manager logs in and sees the desk dashboard."""
from __future__ import annotations

from tests.e2e.conftest import log_in, screenshot
from tests.factories import MANAGER


def test_location_manager_logs_in_and_sees_the_dashboard(live_app: str, page) -> None:  # noqa: ANN001
    page.goto(live_app + '/')
    page.wait_for_url('**/login?next=/')  # not logged in: sent to the log-in page
    log_in(page, live_app, MANAGER)
    for panel in ('Recipient Check-In', "Today's Appointments", 'Appointment Walk-In'):
        assert page.get_by_text(panel, exact=True).is_visible()
    assert page.get_by_text('Maria Manager').is_visible()
    assert page.get_by_text('Clinic Location1').first.is_visible()
    screenshot(page, 'location-manager-dashboard')
