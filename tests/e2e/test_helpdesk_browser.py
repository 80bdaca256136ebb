"""The help desk in real Chromium: a provider registers on the support portal with the generic code VAC2021, sets
their password from the emailed link, submits an HCP Onboarding & Recipient Bulk Upload case with its file; an
agent loads the file into the provider's location in one click; the provider receives the result (with
BulkError.csv) by email and closes the case."""
from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from tests.conftest import SmtpServer, body_of
from tests.e2e.conftest import log_in, screenshot, start_app, stop_app

PROVIDER_EMAIL = 'nora.new@newclinic.org'
PASSWORD = 'a long support portal passphrase'
FILE = (b'First name,Last name,Date of birth,Email\r\n'
        b'Ada,Behalf,01/02/1980,ada.behalf@example.org\r\n'
        b'Ben,Behalf,03/04/1975,ben.behalf@example.org\r\n'
        b'Cy,,05/06/1990,not-an-email\r\n')


@pytest.fixture(scope='module')
def desk_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, SmtpServer]]:
    smtp = SmtpServer()
    smtp.start()
    data_dir = tmp_path_factory.mktemp('helpdesk-app')
    process, base_url = start_app(data_dir, extra_env={'CVMS_SMTP_HOST': '127.0.0.1', 'CVMS_SMTP_PORT': str(smtp.port)})
    yield base_url, smtp
    stop_app(process)
    smtp.stop()


def wait_for_mail(smtp: SmtpServer, address: str, subject_part: str, timeout: float = 30):  # noqa: ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in smtp.to(address):
            if subject_part in message['Subject']:
                return message
        time.sleep(0.2)
    raise AssertionError(f'no email "{subject_part}" to {address}; got {[m["Subject"] for m in smtp.messages]}')


def test_provider_registers_submits_a_bulk_upload_the_agent_loads_it_and_the_provider_closes(
        desk_app, browser) -> None:  # noqa: ANN001
    base_url, smtp = desk_app
    provider = browser.new_context(viewport={'width': 1280, 'height': 900}).new_page()
    provider.set_default_timeout(20_000)

    # Register with the generic code; the email gives the username and a set-password link.
    provider.goto(f'{base_url}/login')
    provider.get_by_role('link', name='Providers: register for the Vaccine Support Portal').click()
    provider.get_by_label('First name *').fill('Nora')
    provider.get_by_label('Last name *').fill('New')
    provider.get_by_label('Business email *').fill(PROVIDER_EMAIL)
    provider.get_by_label('Registration code *').fill('VAC2021')
    provider.get_by_role('button', name='Register').click()
    provider.get_by_text('Check your email').wait_for()
    welcome = body_of(wait_for_mail(smtp, PROVIDER_EMAIL, 'Your Vaccine Support Portal account'))
    assert f'Username: {PROVIDER_EMAIL}' in welcome
    provider.goto(re.search(r'http://\S+/set-password/\S+', welcome).group(0))
    provider.get_by_label(re.compile(r'^New password')).fill(PASSWORD)  # its label may carry the asterisk
    provider.get_by_label(re.compile(r'^Repeat new password')).fill(PASSWORD)
    provider.get_by_role('button', name='Set password').click()
    provider.get_by_role('heading', name='Vaccine Support Portal').wait_for()

    # The bulk upload case, with the guide's fields and the file.
    provider.get_by_role('button', name='Open a case').click()
    provider.get_by_label('What is your request about? *').click()
    provider.get_by_role('option', name='HCP Onboarding & Recipient Bulk Upload').click()
    provider.keyboard.press('Escape')
    provider.get_by_label('Subject *').fill('Please load our staff list')
    provider.get_by_label('VFC Pin *').fill('NCA650001')
    provider.get_by_label('Organization *').fill('Demo Health System')
    provider.locator('.q-uploader__input').first.set_input_files(
        files=[{'name': 'staff.csv', 'mimeType': 'text/csv', 'buffer': FILE}])
    provider.get_by_text('staff.csv').first.wait_for()
    screenshot(provider, 'helpdesk-intake-bulk-upload')
    provider.get_by_role('button', name='Submit').click()
    provider.get_by_text('VACHCP0000001: Please load our staff list').wait_for()
    provider.get_by_text('Unregistered Provider').first.wait_for()
    confirmation = body_of(wait_for_mail(smtp, PROVIDER_EMAIL, 'VACHCP0000001: we received your request'))
    assert '/support/cases/VACHCP0000001' in confirmation

    # The agent finds it in the queue and loads the file in one click.
    agent = browser.new_context(viewport={'width': 1280, 'height': 900}).new_page()
    agent.set_default_timeout(20_000)
    log_in(agent, base_url, 'agent@demo.cvms.example.org')
    agent.get_by_role('button', name='Provider Onboarding (1)').wait_for()
    agent.get_by_role('link', name='VACHCP0000001').click()
    agent.get_by_role('heading', name='Load the file for the provider').wait_for()
    agent.get_by_role('button', name='Load into location').click()
    agent.get_by_text(re.compile(r'staff\.csv: done\. 3 of 3 records read, 2 loaded, 1 failed\.')).wait_for(
        timeout=60_000)
    screenshot(agent, 'helpdesk-agent-case-loaded')

    # The provider receives the result with BulkError.csv, sees it on the case and closes it.
    result = wait_for_mail(smtp, PROVIDER_EMAIL, 'VACHCP0000001: your recipient file was loaded')
    assert 'Number of Records Successfully Loaded: 2' in body_of(result)
    assert [part.get_filename() for part in result.iter_attachments()] == ['BulkError.csv']
    provider.reload()
    provider.get_by_role('button', name='BulkError.csv').wait_for()
    provider.get_by_text('Number of Records Failed: 1').wait_for()
    provider.get_by_role('button', name='Close case').click()
    provider.get_by_text('The case is closed.').wait_for()
    provider.get_by_text('Closed', exact=True).first.wait_for()
    screenshot(provider, 'helpdesk-provider-case-closed')
