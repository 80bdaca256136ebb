"""Help desk cases (services/helpdesk/cases.py): numbers, intake rules, states, the conversation both ways by
email, internal notes, resolution, re-opening, the queue and its filters, audit."""
from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from models import AuditEvent, Role, User, utcnow
from models.helpdesk import Case
from services.core import mail
from services.core.csv_safe import to_csv_bytes
from services.core.db import session_scope
from services.core.errors import NotAllowed, ValidationFailed
from services.helpdesk import cases
from services.helpdesk.cases import FieldProblems, NewFile
from tests import factories as fx
from tests.conftest import body_of

RECIPIENT_FILE = to_csv_bytes(['First name', 'Last name', 'Date of birth', 'Email'],
                              [['Uma', 'Upload', '01/02/1980', 'uma@example.org']])
BULK_FIELDS = {'request_type': 'Recipient Bulk Upload', 'vfc_pin': 'NCA650001', 'organization': 'Demo Health System',
               'requestor_name': 'Maria Manager', 'requestor_email': fx.MANAGER}


def technical(email: str = fx.MANAGER, subject: str = 'Printer stopped', **more) -> cases.CaseSummary:  # noqa: ANN003
    return cases.open_case(principal=fx.principal(email), request_type='technical', subject=subject,
                           description='It prints blank pages.', **more)


def audit_actions(case_id: int) -> list[str]:
    with session_scope(read_only=True) as session:
        return list(session.exec(select(AuditEvent.action).where(AuditEvent.entity_type == 'case')
                                 .where(AuditEvent.entity_id == str(case_id)).order_by(col(AuditEvent.id))))


def test_numbers_are_vachcp_and_seven_digits_in_sequence(demo) -> None:  # noqa: ANN001
    numbers = [technical(subject=f'Case {n}').number for n in range(3)]
    assert numbers == ['VACHCP0000001', 'VACHCP0000002', 'VACHCP0000003']


def test_numbers_stay_unique_and_gapless_when_cases_open_at_once(demo) -> None:  # noqa: ANN001
    manager = fx.principal(fx.MANAGER)
    numbers: list[str] = []
    errors: list[Exception] = []

    def open_some() -> None:
        try:
            for _ in range(5):
                numbers.append(cases.open_case(principal=manager, request_type='technical', subject='Same time',
                                               description='x').number)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=open_some) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(numbers) == [f'VACHCP{n:07d}' for n in range(1, 21)]


def test_intake_names_each_missing_field(demo) -> None:  # noqa: ANN001
    manager = fx.principal(fx.MANAGER)
    with pytest.raises(FieldProblems) as refused:
        cases.open_case(principal=manager, request_type='bulk_upload', subject='', fields={'vfc_pin': 'NCA650001'})
    assert set(refused.value.problems) == {'subject', 'request_type', 'organization', 'requestor_name',
                                           'requestor_email', 'file'}
    with pytest.raises(FieldProblems) as refused:
        cases.open_case(principal=manager, request_type='technical', subject='Help', description=' ')
    assert set(refused.value.problems) == {'description'}


def test_bulk_upload_file_is_checked_as_bulk_registration_checks_it(demo) -> None:  # noqa: ANN001
    manager = fx.principal(fx.MANAGER)
    bad_header = to_csv_bytes(['Name', 'Birthday'], [['Uma', '01/02/1980']])
    for name, data, says in (('people.csv', bad_header, 'missing the required column'),
                             ('people.xlsx', RECIPIENT_FILE, 'not a XLSX file'),
                             ('people.csv', b'\x00\x01binary', 'file'),
                             ('people.exe', b'MZ', 'Attach the Recipient Bulk Upload file')):
        with pytest.raises(FieldProblems) as refused:
            cases.open_case(principal=manager, request_type='bulk_upload', subject='Please load',
                            fields=BULK_FIELDS, attachments=[NewFile(name, data)])
        assert says in refused.value.problems['file'], (name, refused.value.problems)
    with pytest.raises(FieldProblems) as refused:
        cases.open_case(principal=manager, request_type='technical', subject='Screenshot', description='See it',
                        attachments=[NewFile('screen.png', b'GIF89a not a png')])
    assert 'not a PNG file' in refused.value.problems['attachments']
    assert fx.count_rows(Case) == 0


async def test_bulk_upload_case_routes_to_onboarding_and_confirms_by_email(demo, smtp_server) -> None:  # noqa: ANN001
    case = cases.open_case(principal=fx.principal(fx.MANAGER), request_type='bulk_upload', subject='Please load',
                           fields=BULK_FIELDS, attachments=[NewFile('../../people.csv', RECIPIENT_FILE)])
    assert case.assignment_group == 'Provider Onboarding' and case.state == 'new' and case.priority == 3
    view = cases.case_view(principal=fx.help_desk_agent(), case_id=case.id)
    assert view.fields['vfc_pin'] == 'NCA650001' and view.summary.organization_name == 'Demo Health System'
    assert [a.filename for a in view.attachments] == ['people.csv']  # never a path from the browser
    await mail.deliver_due()
    [confirmation] = smtp_server.to(fx.MANAGER)
    assert confirmation['Subject'] == f'{case.number}: we received your request'
    assert fx.link_in(body_of(confirmation), '/support/cases/') == f'/support/cases/{case.number}'


async def test_conversation_both_ways_notes_resolution_and_closing(demo, smtp_server) -> None:  # noqa: ANN001
    manager, agent = fx.principal(fx.MANAGER), fx.help_desk_agent()
    case = technical()
    cases.assign(principal=fx.principal(fx.ADMIN), case_id=case.id, group='Technical Support',
                 agent_user_id=agent.user_id)
    cases.add_comment(principal=agent, case_id=case.id, body='Which printer model?')
    cases.add_comment(principal=agent, case_id=case.id, body='Probably the toner again', internal=True)
    cases.set_state(principal=agent, case_id=case.id, state='awaiting_requester')
    cases.add_comment(principal=manager, case_id=case.id, body='A Zebra ZD421',
                      attachments=[NewFile('label.pdf', b'%PDF-1.4 label')])
    seen_by_requester = cases.case_view(principal=manager, case_id=case.id)
    assert seen_by_requester.summary.state == 'in_progress'  # the requester's answer puts it back in progress
    assert 'Probably the toner again' not in [e.body for e in seen_by_requester.entries]
    assert 'Probably the toner again' in [e.body for e in cases.case_view(principal=agent, case_id=case.id).entries]
    with pytest.raises(NotAllowed):
        cases.add_comment(principal=manager, case_id=case.id, body='sneaky', internal=True)
    with pytest.raises(FieldProblems):
        cases.resolve(principal=agent, case_id=case.id, notes='  ')
    cases.resolve(principal=agent, case_id=case.id, notes='Replaced the print head.')
    await mail.deliver_due()
    to_requester = {m['Subject']: body_of(m) for m in smtp_server.to(fx.MANAGER)}
    assert 'Which printer model?' in to_requester[f'{case.number}: the help desk answered']
    assert 'Replaced the print head.' in to_requester[f'{case.number} resolved: Printer stopped']
    assert not any('toner' in body for body in to_requester.values())
    to_agent = {m['Subject']: body_of(m) for m in smtp_server.to(fx.AGENT)}
    assert 'A Zebra ZD421' in to_agent[f'{case.number}: new comment from the requester']
    assert 'label.pdf' in to_agent[f'{case.number}: new comment from the requester']
    cases.close_case(principal=manager, case_id=case.id)
    assert cases.case_view(principal=manager, case_id=case.id).summary.state == 'closed'
    with pytest.raises(ValidationFailed):
        cases.add_comment(principal=manager, case_id=case.id, body='one more thing')
    assert audit_actions(case.id) == ['case_opened', 'case_assigned', 'case_comment_added', 'case_note_added',
                                      'case_state_changed', 'case_file_attached', 'case_comment_added',
                                      'case_state_changed', 'case_state_changed']


async def test_a_comment_on_an_unassigned_case_reaches_every_active_agent(demo, smtp_server) -> None:  # noqa: ANN001
    with session_scope() as session:
        session.add(User(email='second.agent@demo.cvms.example.org', full_name='Second Agent',
                         role=Role.HELP_DESK_AGENT))
        session.add(User(email='former.agent@demo.cvms.example.org', full_name='Former Agent',
                         role=Role.HELP_DESK_AGENT, is_active=False))
    case = technical()
    cases.add_comment(principal=fx.principal(fx.MANAGER), case_id=case.id, body='Any news?')
    key = cases.ask_as_recipient(name='Rosa Reyes', date_of_birth=date(1980, 2, 3), email='rosa@example.org',
                                 question='Where is my card?')
    with session_scope(read_only=True) as session:
        view_key = session.exec(select(Case.view_key).where(Case.id == key.id)).one()
    cases.add_comment_with_key(number=key.number, key=view_key, body='Still waiting.')  # no account, no agent
    await mail.deliver_due()
    subject = f'{case.number}: new comment from the requester'
    for agent in (fx.AGENT, 'second.agent@demo.cvms.example.org'):
        got = {m['Subject']: body_of(m) for m in smtp_server.to(agent)}
        assert 'Any news?' in got[subject] and 'the Technical Support group' in got[subject]
        assert 'Still waiting.' in got[f'{key.number}: new comment from the requester']
    assert smtp_server.to('former.agent@demo.cvms.example.org') == []
    assert smtp_server.to(fx.ADMIN) == []  # state admins hear only when the desk has no agent at all


def test_requester_reopens_a_resolved_case_within_seven_days_only(demo) -> None:  # noqa: ANN001
    manager, agent = fx.principal(fx.MANAGER), fx.help_desk_agent()
    case = technical()
    cases.resolve(principal=agent, case_id=case.id, notes='Restarted it.')
    cases.reopen_case(principal=manager, case_id=case.id, reason='It stopped again.')
    assert cases.case_view(principal=manager, case_id=case.id).summary.state == 'in_progress'
    cases.resolve(principal=agent, case_id=case.id, notes='Restarted it twice.')
    with session_scope() as session:
        session.execute(update(Case).where(col(Case.id) == case.id)
                        .values(resolved_at=utcnow() - timedelta(days=8)))
    assert cases.case_view(principal=manager, case_id=case.id).may_reopen is False
    with pytest.raises(ValidationFailed, match='more than 7 days'):
        cases.reopen_case(principal=manager, case_id=case.id)


def test_only_agents_and_admins_work_cases(demo) -> None:  # noqa: ANN001
    case = technical()
    for email in (fx.MANAGER, fx.PROVIDER, fx.EMPLOYER, fx.RECIPIENT):
        with pytest.raises(NotAllowed):
            cases.queue(principal=fx.principal(email))
        with pytest.raises(NotAllowed):
            cases.set_state(principal=fx.principal(email), case_id=case.id, state='in_progress')
    cases.set_priority(principal=fx.principal(fx.ADMIN), case_id=case.id, priority=1)
    assert cases.queue(principal=fx.principal(fx.ADMIN)).rows[0].priority_label == '1 - Critical'
    with pytest.raises(NotAllowed):  # a provider of the same location does not see the manager's case
        cases.case_view(principal=fx.principal(fx.PROVIDER), case_id=case.id)


def test_queue_filters_counts_oldest_first_search_and_pages(demo) -> None:  # noqa: ANN001
    agent = fx.help_desk_agent()
    first = technical(subject='Old one')
    second = cases.open_case(principal=fx.principal(fx.EMPLOYER), request_type='inventory', subject='Short shipment',
                             description='Two vials missing')
    third = technical(email=fx.PROVIDER, subject='Newest')
    with session_scope() as session:
        session.execute(update(Case).where(col(Case.id) == first.id)
                        .values(created_at=utcnow() - timedelta(days=10)))
    cases.set_priority(principal=agent, case_id=third.id, priority=2)
    page = cases.queue(principal=agent)
    assert [c.number for c in page.rows] == [first.number, second.number, third.number] and page.total == 3
    assert page.counts_by_group['Technical Support'] == 2 and page.counts_by_group['Inventory & Shipments'] == 1
    assert [c.id for c in cases.queue(principal=agent, group='Inventory & Shipments').rows] == [second.id]
    assert [c.id for c in cases.queue(principal=agent, priority=2).rows] == [third.id]
    assert [c.id for c in cases.queue(principal=agent, older_than_days=7).rows] == [first.id]
    assert [c.id for c in cases.queue(principal=agent, search=second.number.lower()).rows] == [second.id]
    assert [c.id for c in cases.queue(principal=agent, search='pat provider').rows] == [third.id]
    assert {c.id for c in cases.queue(principal=agent, search='demo health').rows} == {first.id, third.id}
    paged = cases.queue(principal=agent, page=1, page_size=2)
    assert [c.id for c in paged.rows] == [third.id] and paged.total == 3
    cases.resolve(principal=agent, case_id=first.id, notes='Done')
    assert first.id not in [c.id for c in cases.queue(principal=agent).rows]
    assert [c.id for c in cases.queue(principal=agent, state='resolved').rows] == [first.id]


async def test_recipient_question_without_an_account_answered_in_spanish(demo, smtp_server) -> None:  # noqa: ANN001
    with pytest.raises(FieldProblems) as refused:
        cases.ask_as_recipient(name='', date_of_birth=None, email='not-an-email', question='', language='es')
    assert set(refused.value.problems) == {'name', 'date_of_birth', 'email', 'question'}
    case = cases.ask_as_recipient(name='Rosa Reyes', date_of_birth=date(1980, 2, 3), email='Rosa@Example.org',
                                  question='¿Dónde está mi segunda dosis?', language='es')
    assert case.assignment_group == 'Recipient Support' and case.requester_email == 'rosa@example.org'
    agent = fx.help_desk_agent()
    cases.add_comment(principal=agent, case_id=case.id, body='Su segunda dosis está programada.')
    await mail.deliver_due()
    confirmation, answer = smtp_server.to('rosa@example.org')
    assert case.number in confirmation['Subject'] and 'recibimos' in confirmation['Subject']
    path = fx.link_in(body_of(confirmation), '/help/case/')
    key = path.split('key=')[1]
    view = cases.case_view_with_key(number=case.number, key=key)
    assert view.summary.number == case.number and view.may_work is False
    with pytest.raises(NotAllowed):
        cases.case_view_with_key(number=case.number, key='wrong' + key)
    assert 'Su segunda dosis está programada.' in body_of(answer)
    cases.add_comment_with_key(number=case.number, key=key, body='¡Gracias!')
    assert cases.case_view(principal=agent, case_id=case.id).entries[-1].body == '¡Gracias!'


def test_the_public_recipient_form_takes_a_few_questions_an_hour_per_address(demo) -> None:  # noqa: ANN001
    for n in range(cases.PUBLIC_QUESTIONS_PER_HOUR):
        cases.ask_as_recipient(name='Rosa Reyes', date_of_birth=date(1980, 2, 3), email='rosa@example.org',
                               question=f'Question {n}')
    with pytest.raises(FieldProblems) as refused:
        cases.ask_as_recipient(name='Rosa Reyes', date_of_birth=date(1980, 2, 3), email='ROSA@example.org',
                               question='One more')
    assert 'several questions in the last hour' in refused.value.problems['question']
    assert fx.count_rows(Case) == cases.PUBLIC_QUESTIONS_PER_HOUR
