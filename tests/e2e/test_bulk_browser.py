"""Real Chromium: a location manager drags a CSV onto the Low Volume area, reviews it, and creates the records."""
from __future__ import annotations

import base64

from tests.e2e.conftest import log_in, screenshot
from tests.factories import MANAGER

CSV = ('First name,Last name,Date of birth,Email\r\n'
       'Ashley1,Learn,12/1/1955,Ash1.Example@mailinator.com\r\n'
       'Ashley2,Learn,12/2/1955,Ash2.Example@mailinator.com\r\n'
       'Renée,Learn,12/3/1955,Ash3.Example@mailinator.com\r\n'
       'Nicholas,,12/4/1955,Nicholas.NoEmail@companyemail4.com\r\n')

DROP = '''async ([name, b64]) => {
    const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], name, {type: 'text/csv'}));
    const uploader = document.querySelector('.q-uploader');
    uploader.dispatchEvent(new DragEvent('dragover', {bubbles: true, cancelable: true, dataTransfer: transfer}));
    await new Promise(resolve => setTimeout(resolve, 300));
    const area = uploader.querySelector('.q-uploader__dnd');
    area.dispatchEvent(new DragEvent('drop', {bubbles: true, cancelable: true, dataTransfer: transfer}));
}'''


def test_manager_drags_a_csv_reviews_and_creates_records(live_app: str, page) -> None:  # noqa: ANN001
    log_in(page, live_app, MANAGER)
    page.get_by_role('link', name='Bulk Registration').click()
    page.get_by_text('Drag and Drop CSV file here').wait_for()
    page.evaluate(DROP, ['MKTrocheWITHERRORS.csv', base64.b64encode(CSV.encode()).decode()])
    page.get_by_text('4 records: 3 ready, 1 failed').wait_for()
    assert page.get_by_role('cell', name='Renée').is_visible()
    assert page.get_by_text('Failed: Line 5: Required fields are missing: [LastName]').is_visible()
    screenshot(page, 'bulk-low-volume-preview')
    page.get_by_role('button', name='Create Records').click()
    page.get_by_text('Successful records: 3').wait_for()
    assert page.get_by_text('Failed records: 1').first.is_visible()
    page.get_by_role('button', name='OK').click()
    page.get_by_role('cell', name='Ashley2').first.wait_for()
    # The loaded-recipients list pages on the server: its label counts what the server says (not "1-0 of 0").
    total = int(page.get_by_text('Total number of records:').inner_text().rsplit(':', 1)[1].replace(',', ''))
    page.get_by_text(f'1-{min(total, 25)} of {total}', exact=True).wait_for()
