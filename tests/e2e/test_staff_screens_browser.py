"""Real Chromium on staff screens: the Outbox pages and filters on the server; the upload box tells nothing
meaningless before a file is chosen."""
from __future__ import annotations

from tests.e2e.conftest import log_in, screenshot
from tests.factories import ADMIN, MANAGER


def test_upload_box_shows_no_empty_size_and_progress(live_app: str, page) -> None:  # noqa: ANN001
    log_in(page, live_app, MANAGER)
    page.goto(live_app + '/bulk-registration')
    page.get_by_text('Drag and Drop CSV file here').wait_for()
    page.get_by_role('tab', name='High Volume (100,000)').click()
    page.get_by_text('Upload or drop CSV file here').wait_for()
    # Quasar's header said "0.0B / 0.00%" before any file was chosen.
    assert page.get_by_text('0.0B / 0.00%').filter(visible=True).count() == 0
    assert page.locator('.q-uploader__subtitle').filter(visible=True).count() == 0


def test_outbox_pages_and_filters(live_app: str, page) -> None:  # noqa: ANN001
    log_in(page, live_app, ADMIN)
    page.goto(live_app + '/outbox')
    page.get_by_text('Page 1', exact=True).wait_for()
    assert 0 < page.locator('.q-expansion-item').count() <= 25
    page.get_by_label('Recipient address (or its beginning)').fill('recipient@demo')
    page.get_by_text('recipient@demo.cvms.example.org').first.wait_for()
    page.wait_for_function("[...document.querySelectorAll('.q-expansion-item')].every("
                           "e => e.textContent.includes('recipient@demo.cvms.example.org'))")
    page.locator('.q-expansion-item').first.click()
    screenshot(page, 'outbox-filtered')
    page.get_by_label('Recipient address (or its beginning)').fill('nobody-has-this-address')
    page.get_by_text('No email matches these filters.').wait_for()
