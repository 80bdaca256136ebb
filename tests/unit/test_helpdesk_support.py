"""The support portal's provider accounts (services/helpdesk/support_accounts.py) and the bulk upload an agent
loads on a provider's behalf (services/helpdesk/bulk_loads.py), with its result on the case and by email."""
from __future__ import annotations

import pytest
from sqlmodel import select

from models import Recipient, Role, User
from services.bulk import registration as bulk
from services.core import mail
from services.core.csv_safe import to_csv_bytes
from services.core.db import session_scope
from services.core.errors import ValidationFailed
from services.helpdesk import bulk_loads, cases, support_accounts
from services.helpdesk.cases import FieldProblems, NewFile
from tests import factories as fx
from tests.conftest import body_of

PEOPLE = to_csv_bytes(['First name', 'Last name', 'Date of birth', 'Email'],
                      [['Ada', 'Onbehalf', '01/02/1980', 'ada@example.org'],
                       ['Ben', 'Onbehalf', '03/04/1975', 'ben@example.org'],
                       ['', 'Nameless', '13/45/1980', 'bad-email']])


def bulk_case(email: str) -> cases.CaseSummary:
    return cases.open_case(principal=fx.principal(email), request_type='bulk_upload', subject='Our staff list',
                           fields={'request_type': 'Recipient Bulk Upload', 'vfc_pin': 'NCA650001',
                                   'organization': 'Demo Health System', 'requestor_name': 'Nora New',
                                   'requestor_email': email},
                           attachments=[NewFile('staff.csv', PEOPLE)])


async def test_provider_registers_with_the_generic_code_and_gets_a_set_password_link(demo, smtp_server) -> None:  # noqa: ANN001
    registered = support_accounts.register_provider(first_name='Nora', last_name='New', email='Nora@NewClinic.org',
                                                    registration_code=' vac2021 ')
    assert registered.email == 'nora@newclinic.org' and registered.organization_name == ''
    with session_scope(read_only=True) as session:
        user = session.exec(select(User).where(User.email == 'nora@newclinic.org')).one()
        assert user.role == Role.SUPPORT_USER and user.password_hash is None and user.organization_id is None
    await mail.deliver_due()
    [welcome] = smtp_server.to('nora@newclinic.org')
    body = body_of(welcome)
    assert 'Username: nora@newclinic.org' in body and fx.link_in(body, '/set-password/')
    assert 'password:' not in body.lower().replace('set your password', '')
    case = cases.open_case(principal=fx.principal('nora@newclinic.org'), request_type='technical',
                           subject='Cannot log in', description='The portal says no.')
    assert case.unregistered_provider is True


def test_registration_with_a_provider_pin_carries_the_organization(demo) -> None:  # noqa: ANN001
    registered = support_accounts.register_provider(first_name='Olu', last_name='Pin', email='olu@demo-health.org',
                                                    registration_code='NCA650001')
    assert registered.organization_name == 'Demo Health System'
    case = bulk_case('olu@demo-health.org')
    assert case.unregistered_provider is False and case.organization_name == 'Demo Health System'


def test_registration_names_each_field_to_fix(demo) -> None:  # noqa: ANN001
    with pytest.raises(FieldProblems) as refused:
        support_accounts.register_provider(first_name='', last_name=' ', email='nope', registration_code='ABC')
    assert set(refused.value.problems) == {'first_name', 'last_name', 'email', 'registration_code'}
    with pytest.raises(FieldProblems) as refused:
        support_accounts.register_provider(first_name='A', last_name='B', email=fx.MANAGER,
                                           registration_code='NCA999999')
    assert 'No enrolled provider' in refused.value.problems['registration_code']
    assert 'already exists' in refused.value.problems['email']


async def test_agent_loads_the_file_on_the_providers_behalf(demo, smtp_server) -> None:  # noqa: ANN001
    support_accounts.register_provider(first_name='Olu', last_name='Pin', email='olu@demo-health.org',
                                       registration_code='NCA650001')
    case = bulk_case('olu@demo-health.org')
    agent = fx.help_desk_agent()
    choices = bulk_loads.load_choices(principal=agent, case_id=case.id)
    assert [name for _, name in choices.files] == ['staff.csv'] and choices.upload is None
    assert [name for _, name in choices.locations] == ['Clinic Location1 (DEMO1)', 'Clinic Location2 (DEMO2)']
    with pytest.raises(ValidationFailed):  # another organization's location
        bulk_loads.load_on_behalf(principal=agent, case_id=case.id, attachment_id=choices.files[0][0],
                                  location_id=10_000)
    upload = bulk_loads.load_on_behalf(principal=agent, case_id=case.id, attachment_id=choices.files[0][0],
                                       location_id=fx.location_id('DEMO1'))
    assert upload.total == 3
    with pytest.raises(ValidationFailed, match='loaded already'):
        bulk_loads.load_on_behalf(principal=agent, case_id=case.id, attachment_id=choices.files[0][0],
                                  location_id=fx.location_id('DEMO1'))
    bulk.run_job(upload.id)  # the High Volume runner
    with session_scope(read_only=True) as session:
        loaded = session.exec(select(Recipient.first_name, Recipient.location_id)
                              .where(Recipient.last_name == 'Onbehalf')).all()
    assert sorted(loaded) == [('Ada', fx.location_id('DEMO1')), ('Ben', fx.location_id('DEMO1'))]
    view = cases.case_view(principal=fx.principal('olu@demo-health.org'), case_id=case.id)
    assert view.summary.state == 'in_progress'
    assert 'Number of Records Successfully Loaded: 2' in view.entries[-1].body
    assert [a.filename for a in view.attachments] == ['staff.csv', 'BulkError.csv']
    name, _type, data = cases.attachment_file(principal=fx.principal('olu@demo-health.org'),
                                              attachment_id=view.attachments[1].id)
    assert name == 'BulkError.csv' and b'Nameless' in data
    await mail.deliver_due()
    result = [m for m in smtp_server.to('olu@demo-health.org') if 'was loaded' in m['Subject']]
    assert len(result) == 1
    assert 'Number of Records Failed: 1' in body_of(result[0])
    assert [part.get_filename() for part in result[0].iter_attachments()] == ['BulkError.csv']
    with pytest.raises(ValidationFailed, match='Only an HCP Onboarding'):
        technical = cases.open_case(principal=fx.principal(fx.MANAGER), request_type='technical', subject='x',
                                    description='y', attachments=[NewFile('staff.csv', PEOPLE)])
        [attached] = cases.case_view(principal=agent, case_id=technical.id).attachments
        bulk_loads.load_on_behalf(principal=agent, case_id=technical.id, attachment_id=attached.id,
                                  location_id=fx.location_id('DEMO1'))


async def test_a_load_whose_job_stops_says_so_on_the_case_and_emails_the_requester(
        demo, smtp_server, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    case = bulk_case(fx.MANAGER)
    agent = fx.help_desk_agent()
    choices = bulk_loads.load_choices(principal=agent, case_id=case.id)
    upload = bulk_loads.load_on_behalf(principal=agent, case_id=case.id, attachment_id=choices.files[0][0],
                                       location_id=fx.location_id('DEMO1'))

    def stops(*_args, **_kwargs) -> int:  # noqa: ANN002, ANN003
        raise OSError('disk full')

    monkeypatch.setattr(bulk, '_process', stops)
    assert bulk.run_job(upload.id) is None
    last = cases.case_view(principal=agent, case_id=case.id).entries[-1]
    assert last.kind == 'event' and 'stopped: Processing stopped: disk full' in last.body
    assert bulk_loads.load_choices(principal=agent, case_id=case.id).upload.status == 'failed'
    await mail.deliver_due()
    [told] = [m for m in smtp_server.to(fx.MANAGER) if 'stopped' in m['Subject']]
    assert told['Subject'] == f'{case.number}: loading your recipient file stopped'
    assert 'staff.csv' in body_of(told) and f'/support/cases/{case.number}' in body_of(told)
