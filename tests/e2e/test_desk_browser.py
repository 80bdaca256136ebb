"""The desk flow in real Chromium, scanner-style: a scheduled person's QR code is read by a USB barcode scanner
(it types the confirmation number and Enter), then Enter checks in, "None of these apply" answers the screening,
consent, Save. From the scan to the saved dose: at most 4 clicks or key presses."""
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
    page.keyboard.type(case_number + '\n', delay=5)  # the scan: the scanner types the number and Enter
    page.get_by_text('Date of birth: 07/01/1990').wait_for()
    check_in = page.get_by_role('button', name='Check in')
    page.wait_for_function('document.activeElement.textContent.trim() === "Check in"')  # not the number field
    page.keyboard.press('Enter')  # checks in (a second look-up before)
    actions += 1
    page.get_by_role('heading', name='Record vaccination').wait_for()
    assert check_in.count() == 0
    page.get_by_text('Dose 1', exact=True).wait_for()
    assert 'EK5730' in page.get_by_label('Product and lot').locator('xpath=ancestor::label').inner_text()
    page.get_by_role('button', name='None of these apply').click()  # the screening, asked: nothing was pre-filled
    actions += 1
    page.get_by_role('checkbox', name=re.compile('The recipient \\(or guardian\\) gave consent')).click()
    actions += 1
    page.get_by_role('button', name='Save').click()
    actions += 1
    page.get_by_text(re.compile(r'Dose 1 of .+ recorded \(lot EK5730\)')).first.wait_for()
    page.get_by_text(re.compile('Dose 2 is due on or after')).first.wait_for()
    screenshot(page, 'desk-flow')
    assert actions <= 4

    page.get_by_role('button', name='Back to the desk').click()
    page.locator('tr', has_text='Grace Mid Wilms Dose 1 Completed').wait_for()
