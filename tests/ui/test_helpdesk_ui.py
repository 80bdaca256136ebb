"""The help desk through the simulated browser: provider registration, the intake form with its required fields and
file, the agents' queue and case page, and the Vaccine Recipient form in Spanish."""
from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from nicegui import ui
from nicegui.testing import User
from sqlalchemy import update
from sqlmodel import col, select

from models import Recipient, utcnow
from models import User as Account
from models.helpdesk import Case
from services.bulk import registration as bulk
from services.core.csv_safe import to_csv_bytes
from services.core.db import session_scope
from services.core.errors import NotAllowed, ValidationFailed
from services.helpdesk import cases
from services.helpdesk.cases import NewFile
from services.principal import SYSTEM
from tests import factories as fx
from tests.factories import log_in, set_value

PEOPLE = to_csv_bytes(['First name', 'Last name', 'Date of birth', 'Email'],
                      [['Ida', 'Intake', '01/02/1980', 'ida@example.org'],
                       ['Ivo', 'Intake', '02/03/1981', 'not-an-email']])


async def upload(user: User, marker: str, name: str, data: bytes) -> None:
    element = user.find(marker=marker).elements.pop()
    await element.handle_uploads([ui.upload.SmallFileUpload(name, 'text/csv', data)])


async def test_provider_registers_for_the_support_portal(demo, user: User) -> None:  # noqa: ANN001
    await user.open('/login')
    user.find('Providers: register for the Vaccine Support Portal').click()
    await user.should_see('Register for the Vaccine Support Portal', retries=50)
    user.find(marker='register-email').type('not-an-email')
    user.find(marker='register-code').type('ABC123')
    user.find(marker='register-submit').click()
    await user.should_see('Enter your first name.', retries=50)
    await user.should_see('Enter a valid business email address, like name@clinic.org.', retries=50)
    await user.should_see('A registration code is your provider PIN: NCA and six digits', retries=50)
    set_value(user, 'register-first', 'Nora')
    set_value(user, 'register-last', 'New')
    set_value(user, 'register-email', 'nora@newclinic.org')
    set_value(user, 'register-code', 'VAC2021')
    user.find(marker='register-submit').click()
    await user.should_see('Check your email: we sent your username and a link to set your password', retries=50)
    with session_scope(read_only=True) as session:
        assert session.exec(select(Account.role).where(Account.email == 'nora@newclinic.org')).one() == 'support_user'


async def test_intake_marks_missing_fields_then_opens_a_bulk_upload_case(demo, user: User) -> None:  # noqa: ANN001
    await log_in(user, fx.MANAGER)
    await user.open('/support')
    await user.should_see('You have no cases yet.', retries=50)
    user.find(marker='open-case').click()
    await user.should_see('What is your request about? *', retries=50)
    user.find(marker='case-submit').click()
    await user.should_see('Choose what your request is about.', retries=50)
    set_value(user, 'case-type', 'bulk_upload')
    await user.should_see('HCP Onboarding & Recipient Bulk Upload', retries=50)
    user.find(marker='case-submit').click()
    await user.should_see('Enter a subject: a few words saying what you need.', retries=50)
    await user.should_see('Attach the Recipient Bulk Upload file (.csv or .xlsx).', retries=50)
    set_value(user, 'case-subject', 'BulkError lines')  # the knowledge base suggests its articles
    await user.should_see('These articles may answer it:', retries=50)
    await user.should_see('Fix and re-upload BulkError.csv')
    set_value(user, 'case-subject', 'Please load our staff')
    with user:  # why a file is refused is read out on the file input itself (assets/a11y.js carries the link)
        box = user.find(marker='bulk-file').elements.pop()
        assert box.props.get('data-cvms-aria-describedby', '').startswith('c')
    await upload(user, 'bulk-file', 'staff.csv', PEOPLE)
    await user.should_see('staff.csv', retries=50)
    user.find(marker='case-submit').click()
    await user.should_see('VACHCP0000001: Please load our staff', retries=100)
    await user.should_see('Demo Health System')  # the account (organization) in the summary
    await user.should_see('NCA650001')  # the VFC Pin filled from the manager's organization


async def test_agent_queue_case_page_comment_and_resolution(demo, user: User) -> None:  # noqa: ANN001
    manager = fx.principal(fx.MANAGER)
    printer = cases.open_case(principal=manager, request_type='technical', subject='Printer stopped',
                              description='Blank pages')
    cases.open_case(principal=fx.principal(fx.EMPLOYER), request_type='inventory', subject='Short shipment',
                    description='Two vials missing')
    await log_in(user, fx.AGENT)
    await user.should_see('Help Desk', retries=50)  # the agent's home is the queue
    await user.should_see('Technical Support (1)', retries=50)
    table = user.find(marker='queue-table').elements.pop()
    assert [row['subject'] for row in table.rows] == ['Printer stopped', 'Short shipment']
    user.find(marker='group-Inventory & Shipments').click()
    await user.should_see('1–1 of 1', retries=50)
    assert [row['subject'] for row in table.rows] == ['Short shipment']
    await user.open(f'/help-desk/cases/{printer.id}')
    await user.should_see(f'{printer.number}: Printer stopped', retries=50)
    user.find(marker='case-comment').type('Which model is it?')
    user.find(marker='case-send').click()
    await user.should_see('Comment sent; the requester was emailed.', retries=50)
    await user.should_see(marker='case-entry-comment', retries=50)  # the page drawn again with the comment
    user.find(marker='case-resolve').click()
    await user.should_see('Write the resolution notes: the requester receives them.', retries=50)
    user.find(marker='case-resolution-notes').type('Replaced the print head.')
    user.find(marker='case-resolve').click()
    await user.should_see('Resolved; the requester was emailed.', retries=50)
    view = cases.case_view(principal=manager, case_id=printer.id)
    assert view.summary.state == 'resolved' and [e.body for e in view.entries if e.kind == 'comment'] == \
        ['Which model is it?']


async def test_agent_loads_a_bulk_upload_case_file_in_one_click(demo, user: User) -> None:  # noqa: ANN001
    case = cases.open_case(principal=fx.principal(fx.MANAGER), request_type='bulk_upload', subject='Load please',
                           fields=cases.intake_defaults(principal=fx.principal(fx.MANAGER)),
                           attachments=[NewFile('staff.csv', PEOPLE)])
    await log_in(user, fx.AGENT)
    await user.open(f'/help-desk/cases/{case.id}')
    await user.should_see('Load the file for the provider', retries=50)
    user.find(marker='bulk-load').click()
    await user.should_see('Loading: the requester is emailed the result.', retries=50)
    upload_id = cases.case_view(principal=fx.help_desk_agent(), case_id=case.id).bulk_upload_id
    assert upload_id is not None
    bulk.run_job(upload_id)  # unless the app's own job runner has it already: then wait for it
    for _ in range(200):
        if bulk.upload_status(principal=SYSTEM, upload_id=upload_id).status == 'done':
            break
        await asyncio.sleep(0.1)
    with session_scope(read_only=True) as session:
        assert session.exec(select(Recipient.first_name).where(Recipient.last_name == 'Intake')).all() == ['Ida']
    await user.open(f'/help-desk/cases/{case.id}')
    await user.should_see('Number of Records Successfully Loaded: 1', retries=50)
    await user.should_see('BulkError.csv', retries=50)


async def test_vaccine_recipient_form_in_spanish(demo, user: User) -> None:  # noqa: ANN001
    await user.open('/login')
    user.find('Vaccine Recipient: ask the help desk').click()
    await user.should_see('Ask the state help desk a question about your vaccination. We answer by email.', retries=50)
    user.find(marker='portal-language').click()
    await user.should_see('Haga una pregunta sobre su vacunación', retries=50)
    user.find(marker='ask-submit').click()
    await user.should_see('Escriba su nombre.', retries=50)
    set_value(user, 'ask-name', 'Rosa Reyes')
    set_value(user, 'ask-dob', '02/03/1980')
    set_value(user, 'ask-email', 'rosa@example.org')
    set_value(user, 'ask-question', 'olvidó contraseña')
    await user.should_see('¿Olvidó su contraseña? Cómo restablecerla', retries=50)
    set_value(user, 'ask-question', '¿Dónde está mi segunda dosis?')
    user.find(marker='ask-submit').click()
    await user.should_see('Gracias. Su pregunta es el caso VACHCP0000001', retries=50)


async def test_requester_without_an_account_closes_and_reopens_through_the_key_link(demo, user: User) -> None:  # noqa: ANN001
    asked = cases.ask_as_recipient(name='Rosa Reyes', date_of_birth=date(1980, 2, 3), email='rosa@example.org',
                                   question='Where is my second dose?')
    with session_scope(read_only=True) as session:
        key = session.exec(select(Case.view_key).where(Case.id == asked.id)).one()
    agent = fx.help_desk_agent()
    cases.resolve(principal=agent, case_id=asked.id, notes='It is on your record now.')
    await user.open(f'/help/case/{asked.number}?key={key}')
    await user.should_see('It is on your record now.', retries=50)
    user.find(marker='case-reopen').click()
    await user.should_see('The case is open again.', retries=50)
    assert cases.case_view(principal=agent, case_id=asked.id).summary.state == 'in_progress'
    # the page redraws with its Close button after the message shows: at load 8 the find came first
    await user.should_see(marker='case-close', retries=50)
    user.find(marker='case-close').click()  # the requester closes it themselves, before any resolution
    await user.should_see('The case is closed.', retries=50)
    view = cases.case_view(principal=agent, case_id=asked.id)
    assert view.summary.state == 'closed' and view.entries[-1].author == 'Rosa Reyes'
    await user.should_not_see(marker='case-close')
    await user.should_not_see(marker='case-reopen')
    with pytest.raises(ValidationFailed, match='already closed'):  # the same rules as for account holders
        cases.close_case_with_key(number=asked.number, key=key)
    other = cases.ask_as_recipient(name='Rosa Reyes', date_of_birth=date(1980, 2, 3), email='rosa@example.org',
                                   question='And my card?')
    cases.resolve(principal=agent, case_id=other.id, notes='Printed.')
    with session_scope() as session:
        session.execute(update(Case).where(col(Case.id) == other.id).values(resolved_at=utcnow() - timedelta(days=8)))
        other_key = session.exec(select(Case.view_key).where(Case.id == other.id)).one()
    with pytest.raises(NotAllowed):
        cases.reopen_case_with_key(number=other.number, key=key)  # another case's key
    with pytest.raises(ValidationFailed, match='more than 7 days'):
        cases.reopen_case_with_key(number=other.number, key=other_key)
    await user.open(f'/help/case/{other.number}?key={other_key}')
    await user.should_see('Printed.', retries=50)
    await user.should_see(marker='case-close')
    await user.should_not_see(marker='case-reopen')
