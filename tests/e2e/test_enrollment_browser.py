"""Provider enrollment in real Chromium, end to end over real SMTP: the state admin invites a provider, its contact
sets a password from the email, fills Sections A and B, both officers sign, the contact submits; the state admin
approves; the new location's manager sets a password from their email, logs in to their location and adds a
healthcare provider, who sets her password from her email and sees the desk."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SmtpServer
from tests.e2e.axe import violations
from tests.e2e.conftest import log_in, screenshot, start_app, stop_app
from tests.e2e.test_portal_browser import choose, wait_for_mail

CONTACT = 'enroll@sandhills.example.org'
COORDINATOR = 'casey.coord@sandhills.example.org'
NURSE = 'nia.nurse@sandhills.example.org'
PASSWORD = 'a long enrollment passphrase'


@pytest.fixture(scope='module')
def enrollment_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, SmtpServer]]:
    smtp = SmtpServer()
    smtp.start()
    data_dir = tmp_path_factory.mktemp('enrollment-app')
    process, base_url = start_app(data_dir, extra_env={'CVMS_SMTP_HOST': '127.0.0.1', 'CVMS_SMTP_PORT': str(smtp.port)})
    yield base_url, data_dir, smtp
    stop_app(process)
    smtp.stop()


@pytest.fixture
def tab(browser) -> Iterator[object]:  # noqa: ANN001
    # bypass_csp: axe is injected as a script tag, which a strict Content-Security-Policy would refuse.
    context = browser.new_context(viewport={'width': 1280, 'height': 900}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def accessible(page, where: str) -> None:  # noqa: ANN001
    """axe-core, every rule and impact, as the staff pages' sweep (the stepper's steps are not reached by it)."""
    page.wait_for_timeout(300)  # the last round trip drawn
    found = [(v['id'], v['impact'], v['nodes']) for v in violations(page)]
    assert not found, f'axe-core on {where}: {found}'


def set_password_from(page, smtp: SmtpServer, address: str, subject: str) -> None:  # noqa: ANN001
    body = wait_for_mail(smtp, address, subject)
    page.goto(re.search(r'http://\S+/set-password/\S+', body).group(0))
    page.get_by_text(f'Username: {address}').wait_for()
    page.get_by_label(re.compile(r'^New password( \*)?$')).fill(PASSWORD)
    page.get_by_label('Repeat new password').fill(PASSWORD)
    page.get_by_role('button', name='Set password').click()


def fill(page, label: str, value: str, nth: int = 0) -> None:  # noqa: ANN001
    page.get_by_label(label, exact=True).nth(nth).fill(value)


def test_provider_enrolls_and_the_approved_location_manager_logs_in(enrollment_app, tab) -> None:  # noqa: ANN001
    base_url, _data_dir, smtp = enrollment_app
    page = tab

    # The state admin invites the provider organization.
    log_in(page, base_url, 'admin@demo.cvms.example.org')
    page.goto(base_url + '/admin/enrollments')
    fill(page, 'Organization name *', 'Sandhills Pharmacy')
    fill(page, 'Contact email *', CONTACT)
    choose(page, 'Priority group *', 'Group 1: Health care workers and long-term care staff and residents')
    page.get_by_role('button', name='Send invitation').click()
    page.get_by_text('Sandhills Pharmacy was invited').wait_for()
    page.get_by_role('button', name='Log out').click()
    page.wait_for_url(re.compile(r'/login'))

    # The contact creates the enrollment account from the email and lands on the Provider Agreement.
    set_password_from(page, smtp, CONTACT, 'Enroll in the COVID-19 Vaccination Program')
    page.get_by_text('Enrollment status: Invited').wait_for()
    page.get_by_role('button', name='Next').click()  # nothing entered yet: the error summary and the fields
    page.get_by_text('There is a problem').wait_for()
    accessible(page, 'Section A with its errors')
    assert page.get_by_label('Legal name of the organization *').input_value() == 'Sandhills Pharmacy'
    choose(page, 'Type of organization *', 'Pharmacy')
    fill(page, 'Street address *', '14 Pine Street')
    fill(page, 'City *', 'Southern Pines')
    choose(page, 'County *', 'Moore', type_to_filter=True)
    fill(page, 'ZIP code *', '28387')
    fill(page, 'Phone *', '910-555-0100', 0)
    for nth, (name, title, email, phone) in enumerate([
            ('Dana Okafor', 'PharmD, license 12345', 'dokafor@sandhills.example.org', '910-555-0101'),
            ('Lee Whitfield', 'Owner', 'lwhitfield@sandhills.example.org', '910-555-0102')]):
        fill(page, 'Name *', name, nth)
        fill(page, 'License number or title *', title, nth)
        fill(page, 'Email *', email, nth)
        fill(page, 'Phone *', phone, nth + 1)
    screenshot(page, 'enrollment-section-a')
    page.get_by_role('button', name='Next').click()

    # Both officers sign: every requirement ticked, the name typed.
    page.get_by_text('Not signed yet.').first.wait_for()
    accessible(page, 'Signatures')
    boxes = page.get_by_role('checkbox')
    for box in boxes.all():
        box.click()  # the server ticks it: wait for the round trip below
    page.locator('[role=checkbox][aria-checked=false]').first.wait_for(state='detached')
    assert boxes.count() == 2 * 8
    fill(page, "Type the chief medical officer's name to sign *", 'Dana Okafor')
    page.get_by_role('button', name='Sign', exact=True).nth(0).click()
    page.get_by_text('Signed by Dana Okafor').wait_for()
    fill(page, "Type the chief executive officer's name to sign *", 'Lee Whitfield')
    page.get_by_role('button', name='Sign', exact=True).nth(1).click()
    page.get_by_text('Signed by Lee Whitfield').wait_for()
    page.get_by_role('button', name='Next').click()

    # Section B: one location.
    fill(page, 'Location name *', 'Sandhills Pharmacy Pine Street')
    fill(page, 'Street address *', '14 Pine Street')
    fill(page, 'City *', 'Southern Pines')
    choose(page, 'County *', 'Moore', type_to_filter=True)
    fill(page, 'ZIP code *', '28387')
    fill(page, 'Hours of operation *', 'Mon-Sat 9:00-18:00')
    fill(page, 'Primary vaccine coordinator *', 'Casey Coord')
    fill(page, 'Primary coordinator email *', COORDINATOR)
    fill(page, 'Primary coordinator phone *', '910-555-0103')
    fill(page, 'Backup vaccine coordinator *', 'Robin Backup')
    fill(page, 'Backup coordinator email *', 'robin@sandhills.example.org')
    fill(page, 'Backup coordinator phone *', '910-555-0104')
    choose(page, 'Population served *', 'General public')
    fill(page, 'Expected people vaccinated per week *', '150')
    fill(page, 'Capacity (doses) *', '900')
    screenshot(page, 'enrollment-section-b')
    accessible(page, 'Section B')
    page.get_by_role('button', name='Next').click()
    page.get_by_text('We will redistribute vaccine between our locations').wait_for()
    page.get_by_role('button', name='Next').click()
    page.get_by_text('Location 1: Sandhills Pharmacy Pine Street, Southern Pines; coordinator Casey Coord').wait_for()
    accessible(page, 'Review and submit')
    page.get_by_role('button', name='Submit the agreement').click()
    page.get_by_text('Enrollment status: Submitted').wait_for()
    wait_for_mail(smtp, CONTACT, 'Provider Agreement received')
    page.get_by_role('button', name='Log out').click()
    page.wait_for_url(re.compile(r'/login'))

    # The state admin approves it from the review queue.
    log_in(page, base_url, 'admin@demo.cvms.example.org')
    page.goto(base_url + '/admin/enrollments')
    page.get_by_role('link', name='Review Sandhills Pharmacy').click()
    page.get_by_text('Primary vaccine coordinator: Casey Coord').wait_for()
    accessible(page, 'the state admin\'s review of the agreement')
    page.get_by_role('button', name='Approve', exact=True).click()
    page.get_by_text('Enrollment status: Approved').wait_for()
    pin = re.search(r'Provider PIN: (NCA\d{6})', page.get_by_text('Provider PIN:').inner_text()).group(1)
    screenshot(page, 'enrollment-approved')
    assert pin in wait_for_mail(smtp, CONTACT, 'Provider Agreement approved')
    page.get_by_role('button', name='Log out').click()
    page.wait_for_url(re.compile(r'/login'))

    # The location's first manager sets a password from their own email and logs in to the new location.
    set_password_from(page, smtp, COORDINATOR, 'Your Vaccine Management System account')
    page.get_by_role('button', name='Log out').wait_for()
    page.get_by_text('Sandhills Pharmacy Pine Street').first.wait_for()
    page.get_by_role('button', name='Log out').click()
    page.wait_for_url(re.compile(r'/login'))
    log_in(page, base_url, COORDINATOR, PASSWORD)
    page.get_by_text('Sandhills Pharmacy Pine Street').first.wait_for()

    # The manager adds the nurse who starts on Monday (Users, engineer "staff"'s screen); she sees the desk.
    page.goto(base_url + '/admin/users')
    fill(page, 'Name *', 'Nia Nurse')
    fill(page, 'Email *', NURSE)
    page.get_by_role('button', name='Add staff account').click()
    page.get_by_text(f'{NURSE} was added').wait_for()
    page.get_by_role('button', name='Log out').click()
    page.wait_for_url(re.compile(r'/login'))
    set_password_from(page, smtp, NURSE, 'Your Vaccine Management System account')
    page.get_by_text('Recipient Check-In').first.wait_for()
    page.get_by_text('Sandhills Pharmacy Pine Street').first.wait_for()
    screenshot(page, 'enrollment-new-provider-desk')
