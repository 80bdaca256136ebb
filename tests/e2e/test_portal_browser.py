"""The recipient portal in real Chromium at phone width (390x844): welcome email → set password → registration →
booking → proof of vaccination → verification link, with screenshots and axe-core on every recipient page."""
from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest

from services.core.settings import reset_settings
from tests.conftest import SmtpServer, body_of
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import log_in, screenshot, start_app, stop_app
from tests.factories import RECIPIENT

PHONE = {'width': 390, 'height': 844}
EMAIL = 'jon.phone@example.org'
PASSWORD = 'a phone-friendly passphrase'


@contextmanager
def app_database(data_dir: Path, base_url: str) -> Iterator[None]:
    """Run service calls of the test against the live app's database (it owns the SQLite file) and links."""
    before = {name: os.environ.get(name) for name in ('CVMS_DATABASE_URL', 'CVMS_BASE_URL')}
    os.environ.update({'CVMS_DATABASE_URL': f'sqlite:///{data_dir / "cvms.sqlite3"}', 'CVMS_BASE_URL': base_url})
    reset_settings()
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_settings()


@pytest.fixture(scope='module')
def portal_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, SmtpServer]]:
    smtp = SmtpServer()
    smtp.start()
    data_dir = tmp_path_factory.mktemp('portal-app')
    process, base_url = start_app(data_dir, extra_env={'CVMS_SMTP_HOST': '127.0.0.1', 'CVMS_SMTP_PORT': str(smtp.port)})
    yield base_url, data_dir, smtp
    stop_app(process)
    smtp.stop()


def wait_for_mail(smtp: SmtpServer, address: str, subject_part: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in smtp.to(address):
            if subject_part in message['Subject']:
                return body_of(message)
        time.sleep(0.2)
    raise AssertionError(f'no email "{subject_part}" to {address}; got {[m["Subject"] for m in smtp.messages]}')


@pytest.fixture
def phone(browser) -> Iterator[object]:  # noqa: ANN001
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


def no_horizontal_scroll(page) -> None:  # noqa: ANN001
    assert page.evaluate('document.documentElement.scrollWidth') <= PHONE['width'] + 1, 'page is wider than the phone'


def test_portal_on_a_phone_from_welcome_email_to_verified_proof(portal_app, phone) -> None:  # noqa: ANN001
    from tests.factories import give_dose, invite, local_today, open_clinic

    base_url, data_dir, smtp = portal_app
    page = phone
    with app_database(data_dir, base_url):
        _product, lot_id = open_clinic()
        invite('Jon', 'Phone', date(1979, 2, 3), EMAIL)
    body = wait_for_mail(smtp, EMAIL, 'Welcome to the North Carolina Vaccine Management')
    set_password = re.search(r'http://\S+/set-password/\S+', body).group(0)

    page.goto(set_password)
    page.get_by_text(f'Username: {EMAIL}').wait_for()
    assert_accessible(page, 'set password')
    page.get_by_label(re.compile(r'^New password( \*)?$')).fill(PASSWORD)
    page.get_by_label('Repeat new password').fill(PASSWORD)
    page.get_by_role('button', name='Set password').click()
    page.get_by_role('heading', name='Vaccine Program Status').wait_for()
    page.get_by_text('Not Enrolled').wait_for()
    no_horizontal_scroll(page)
    assert_accessible(page, 'portal home')
    screenshot(page, 'portal-home-not-enrolled')

    page.get_by_role('button', name='COVID-19 Vaccine Registration').click()
    page.get_by_text('Vaccine Registration for: Jon Phone').wait_for()
    assert_accessible(page, 'registration introduction')
    page.get_by_role('button', name='Start').click()
    # Required fields carry an asterisk (the guide's convention).
    page.get_by_label('Street address *', exact=True).fill('7 Elm Street')
    page.get_by_label('City *', exact=True).fill('Raleigh')
    choose(page, 'County *', 'Wake', type_to_filter=True)
    page.get_by_label('ZIP code *', exact=True).fill('27603')
    page.get_by_label('Phone *', exact=True).fill('919 555 0199')
    choose(page, 'Sex *', 'Male')
    choose(page, 'Race *', 'Asian')
    choose(page, 'Ethnicity *', 'Not Hispanic or Latino')
    choose(page, 'Preferred language *', 'English')
    no_horizontal_scroll(page)
    assert_accessible(page, 'registration contact step')
    screenshot(page, 'portal-registration-contact')
    page.get_by_role('button', name='Next').click()
    page.get_by_text('Answer a few questions to find your vaccine group.').wait_for()
    page.get_by_role('radiogroup', name='Are you 65 years of age or older?').get_by_role('radio', name='No').click()
    assert_accessible(page, 'registration vaccine group step')
    page.get_by_role('button', name='Next').click()
    page.get_by_text('Are you feeling sick today?').wait_for()
    assert_accessible(page, 'registration health questionnaire')
    page.get_by_role('button', name='Submit registration').click()
    page.get_by_text('Your registration is complete').first.wait_for()
    page.get_by_text('registration does not mean that you are currently eligible').first.wait_for()
    assert_accessible(page, 'registration confirmation')
    screenshot(page, 'portal-registration-complete')

    page.goto(base_url + '/portal/appointments')
    page.get_by_role('button', name='Choose Clinic Location1').click()
    page.get_by_text('Times at Clinic Location1').wait_for()
    assert_accessible(page, 'appointment times')
    page.get_by_role('button').filter(has_text=re.compile(r'\d\d:\d\d [AP]M')).first.click()
    page.get_by_text('Confirmation number:').wait_for()
    case_number = page.get_by_text('Confirmation number:').inner_text().split()[-1]
    assert re.fullmatch(r'\d{8}', case_number)
    no_horizontal_scroll(page)
    assert_accessible(page, 'appointments')
    screenshot(page, 'portal-appointment-booked')
    wait_for_mail(smtp, EMAIL, case_number)

    with app_database(data_dir, base_url):
        give_dose(case_number, lot_id)
        dose_day = local_today()
    page.goto(base_url + '/portal/record')
    page.get_by_text('Dose 1', exact=True).wait_for()
    page.get_by_text('Lot: LOT-PORTAL').wait_for()
    no_horizontal_scroll(page)
    assert_accessible(page, 'vaccination record')
    screenshot(page, 'portal-proof-of-vaccination')
    with page.expect_download() as download:
        page.get_by_role('button', name='Download PDF').click()
    assert download.value.suggested_filename == 'proof-of-vaccination.pdf'
    assert Path(download.value.path()).read_bytes().startswith(b'%PDF')
    verify_url = page.locator('a[href*="/verify/"]').first.get_attribute('href')

    page.goto(base_url + '/portal')
    page.get_by_text('Vaccinated', exact=True).wait_for()
    screenshot(page, 'portal-home-vaccinated')

    # The QR code's link, opened by someone else (no log-in): initials, doses and dates only.
    stranger = page.context.browser.new_context(viewport=PHONE).new_page()
    stranger.goto(verify_url)
    stranger.get_by_text('Valid COVID-19 vaccination record').wait_for()
    text = stranger.locator('main').inner_text()
    assert 'J. P.' in text and f'{dose_day:%m/%d/%Y}' in text
    for hidden in ('Jon', 'Phone', 'LOT-PORTAL', 'Clinic Location1', '1979'):
        assert hidden not in text
    assert_accessible(stranger, 'verification page')
    screenshot(stranger, 'portal-verify-valid')
    stranger.goto(verify_url[:-3] + 'xyz')
    stranger.get_by_text('No record was found for this code.').wait_for()
    assert 'J. P.' not in stranger.locator('main').inner_text()
    stranger.context.close()


def choose(page, label: str, option: str, *, type_to_filter: bool = False) -> None:  # noqa: ANN001
    field = page.get_by_label(label, exact=True)
    if type_to_filter:
        field.fill(option)
    else:
        field.click()
    page.get_by_role('option', name=option, exact=True).click()
    page.keyboard.press('Escape')
    page.get_by_role('listbox').wait_for(state='detached')


def test_portal_spanish_on_a_phone_is_accessible(portal_app, phone) -> None:  # noqa: ANN001
    base_url, _data_dir, _smtp = portal_app
    page = phone
    log_in(page, base_url, RECIPIENT, then='**/portal')
    if page.get_by_role('button', name='English').count():  # another test left the account in Spanish
        page.get_by_role('button', name='English').click()
    page.get_by_role('heading', name='Vaccine Program Status').wait_for()
    page.get_by_role('button', name='Español').click()
    page.get_by_role('heading', name='Estado en el programa de vacunación').wait_for()
    assert page.locator('html').get_attribute('lang') == 'es'
    no_horizontal_scroll(page)
    assert_accessible(page, 'portal home in Spanish')
    screenshot(page, 'portal-home-spanish')
    for path in ('/portal/household', '/portal/appointments', '/portal/record'):
        page.goto(base_url + path)
        page.get_by_role('heading', level=1).wait_for()
        no_horizontal_scroll(page)
        assert_accessible(page, f'{path} in Spanish')
    page.goto(base_url + '/portal/sign-up')
    assert_accessible(page, 'sign-up page')


def test_portal_stepper_on_a_phone_marks_each_missing_field_and_takes_the_person_to_the_first(
        portal_app, phone) -> None:  # noqa: ANN001
    """Next with empty required fields: each field red with its message beside it, the first one scrolled into
    view and focused (the summary at the top of the page is out of view on a phone)."""
    base_url, _data_dir, _smtp = portal_app
    page = phone
    log_in(page, base_url, RECIPIENT, then='**/portal')
    if page.get_by_role('button', name='English').count():  # the Spanish test before left the account in Spanish
        page.get_by_role('button', name='English').click()
    page.get_by_role('heading', name='Vaccine Program Status').wait_for()
    page.goto(base_url + '/portal/registration?review=1')
    page.get_by_role('button', name='Start').click()
    street = page.get_by_label('Street address *', exact=True)
    street.wait_for()
    street.fill('')
    page.get_by_label('City *', exact=True).fill('Raleigh')
    page.get_by_label('ZIP code *', exact=True).fill('2760')
    page.get_by_role('button', name='Next').scroll_into_view_if_needed()
    page.get_by_role('button', name='Next').click()

    # the summary at the top links each field; the same message stands beside the field
    page.get_by_role('link', name='Street address: required').wait_for()
    page.get_by_role('alert').filter(has_text=re.compile(r'^Street address: required$')).wait_for()
    # The summary takes focus in view (the button no longer looks dead); its first link takes the person to the
    # first field, in view and focused (the GOV.UK pattern of the accessibility issue).
    page.wait_for_function("document.activeElement && document.activeElement.getAttribute('role') === 'alert' "
                           "&& document.activeElement.textContent.startsWith('There is a problem')")
    in_view = page.evaluate('() => { const r = document.activeElement.getBoundingClientRect(); '
                            'return r.top >= 0 && r.top < window.innerHeight; }')
    assert in_view
    page.get_by_role('link', name='Street address: required').click()
    page.wait_for_function("document.activeElement && document.activeElement.getAttribute('aria-label') === "
                           "'Street address *'")
    box = street.bounding_box()
    assert box is not None and 0 <= box['y'] and box['y'] + box['height'] <= PHONE['height'], box
    # Each wrong field says what is wrong beside it; a field that is right is not marked.
    page.get_by_role('alert').filter(has_text=re.compile(r'^ZIP code: invalid ZIP code: 2760 \(enter 5')).wait_for()
    page.get_by_role('alert').filter(has_text=re.compile(r'^Preferred language: required$')).wait_for()
    assert page.locator('.q-field--error', has=page.get_by_label('City *', exact=True)).count() == 0
    assert page.locator('.q-field--error').count() == 8
    no_horizontal_scroll(page)
    screenshot(page, 'portal-registration-phone-errors')
    # Fixing a field clears its mark at once.
    street.fill('7 Elm Street')
    page.wait_for_function("document.querySelectorAll('.q-field--error').length === 7")
