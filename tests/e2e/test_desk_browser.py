"""The desk flow in real Chromium, scanner-style: a scheduled person's QR code is read by a USB barcode scanner
(it types the confirmation number and Enter), then Check in, consent, Save. At most 4 clicks or key presses."""
from __future__ import annotations

import re

from tests.e2e.conftest import log_in, screenshot
from tests.factories import PROVIDER


def test_desk_flow_from_scan_to_saved_dose_in_four_actions(live_app: str, page) -> None:  # noqa: ANN001
    log_in(page, live_app, PROVIDER)
    row = page.locator('tr', has_text='Grace Mid Wilms Dose 1 Scheduled')
    row.wait_for()
    case_number = re.search(r'\b\d{8}\b', row.inner_text()).group(0)
    number_field = page.get_by_label('Appointment confirmation number')
    assert number_field.evaluate('el => el === document.activeElement'), 'the scanner types into the focused field'

    actions = 0
    page.keyboard.type(case_number, delay=5)  # the scanner's keystrokes: the number itself is not a user action
    page.keyboard.press('Enter')
    actions += 1
    page.get_by_text('Date of birth: 07/01/1990').wait_for()
    page.get_by_role('button', name='Check in').click()
    actions += 1
    page.get_by_role('heading', name='Record vaccination').wait_for()
    page.get_by_text('Dose 1', exact=True).wait_for()
    assert 'EK5730' in page.get_by_label('Product and lot').locator('xpath=ancestor::label').inner_text()
    page.get_by_role('checkbox', name='The recipient (or guardian) gave consent to vaccination').click()
    actions += 1
    page.get_by_role('button', name='Save').click()
    actions += 1
    page.get_by_text(re.compile(r'Dose 1 of .+ recorded \(lot EK5730\)')).wait_for()
    page.get_by_text(re.compile('Dose 2 is due on or after')).wait_for()
    screenshot(page, 'desk-flow')
    assert actions <= 4

    page.get_by_role('button', name='Back to the desk').click()
    page.locator('tr', has_text='Grace Mid Wilms Dose 1 Completed').wait_for()
