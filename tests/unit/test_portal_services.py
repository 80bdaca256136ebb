"""Portal rules on SQLite and PostgreSQL: verification codes, self-registration, vaccine-group rules, bookings
and the second dose's interval, employers' view of their invitations (no health data)."""
from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest
from sqlmodel import select

from models import OutboxMessage, PortalAccount, Recipient
from models.portal import ProofCode
from services.clinic import scheduling
from services.core.db import session_scope
from services.core.errors import NotAllowed, ServiceError, ValidationFailed
from services.organizations import employers
from services.portal import (
    booking,
    choices,
    household_members,
    program_status,
    proof,
    registration_form,
    vaccine_groups,
)
from tests.factories import (
    ADMIN,
    EMPLOYER,
    PORTAL_CONTACT,
    RECIPIENT,
    give_dose,
    invite,
    invited_by_employer,
    local_today,
    open_clinic,
    portal_registration,
    principal,
)


def outbox(to: str) -> list[OutboxMessage]:
    with session_scope() as session:
        return list(session.exec(select(OutboxMessage).where(OutboxMessage.to_addr == to).order_by(OutboxMessage.id)))


def test_portal_registration_writes_demographics_and_emails_the_caveat(demo) -> None:
    who, person_id = portal_registration(health_worker='yes', age_65='yes')
    with session_scope() as session:
        grace = session.get(Recipient, person_id)
        # Stored as codes: CDC Race & Ethnicity 2028-9 Asian, 2135-2 Hispanic or Latino; HL7 sex F.
        assert (grace.county, grace.sex, grace.race, grace.ethnicity, grace.preferred_language) == (
            'Wake', 'F', '2028-9', '2135-2', 'es')
    summary = program_status.program_summary(principal=who, recipient_id=person_id)
    assert summary.status == choices.STATUS_ENROLLED
    assert summary.group.code == 'G1'  # the lowest priority number wins
    [mail] = [m for m in outbox(RECIPIENT) if 'Registration is complete' in m.subject]
    assert 'does not mean that you are currently eligible' in mail.body_text


def test_portal_contact_step_names_what_is_missing(demo) -> None:
    who = principal(RECIPIENT)
    registration = registration_form.load_registration(principal=who,
                                                       recipient_id=household_members.household(principal=who)[0].id)
    registration.contact.update({**PORTAL_CONTACT, 'county': '', 'zip_code': '123'})
    with pytest.raises(ValidationFailed) as english:
        registration_form.complete_registration(principal=who, registration=registration, lang='en')
    assert str(english.value) == ('Required fields are missing: [County]; '
                                  'ZIP code: invalid ZIP code: 123 (enter 5 digits, or ZIP+4 like 27603-1234)')
    with pytest.raises(ValidationFailed) as spanish:
        registration_form.complete_registration(principal=who, registration=registration, lang='es')
    assert str(spanish.value) == ('Faltan campos obligatorios: [Condado]; '
                                  'Código postal: código postal no válido: 123 (escriba 5 dígitos, o ZIP+4 como '
                                  '27603-1234)')


def test_portal_state_admin_changes_group_rules_without_code(demo) -> None:
    admin = principal(ADMIN)
    config = vaccine_groups.group_config()
    question = vaccine_groups.save_question(principal=admin, question_id=None, code='teacher',
                                            text_en='Are you a teacher?',
                                    text_es='¿Es usted maestro?', sort_order=5, active=True)
    g3 = next(g for g in config.groups if g.code == 'G3')
    vaccine_groups.add_rule(principal=admin, question_id=question, answer='yes', group_id=g3.id, priority=1)
    config = vaccine_groups.group_config()
    assert vaccine_groups.evaluate_group(config, {'teacher': 'yes', 'health_worker': 'yes'}).code == 'G3'
    assert vaccine_groups.evaluate_group(config, {'teacher': 'no'}).code == 'G5'
    assert next(q for q in config.questions if q.code == 'teacher').text('es') == '¿Es usted maestro?'
    rule = next(r for r in config.rules if r.question_id == question)
    vaccine_groups.delete_rule(principal=admin, rule_id=rule.id)
    assert vaccine_groups.evaluate_group(vaccine_groups.group_config(), {'teacher': 'yes'}).code == 'G5'
    with pytest.raises(NotAllowed):
        vaccine_groups.add_rule(principal=principal(RECIPIENT), question_id=question, answer='yes', group_id=g3.id,
                                priority=1)


def test_portal_self_registration_needs_the_switch_and_a_verified_email(demo) -> None:
    new = dict(first_name='Rosa', last_name='Díaz', date_of_birth=date(1990, 6, 1), email='Rosa@Example.org')
    with pytest.raises(NotAllowed, match='not open yet'):
        registration_form.sign_up(**new, lang='en')
    vaccine_groups.set_self_registration(principal=principal(ADMIN), enabled=True)
    registration_form.sign_up(**new, lang='es')
    [message] = outbox('rosa@example.org')
    assert message.subject == 'Confirme su correo para el Portal de Vacunas COVID-19'
    assert '/set-password/' in message.body_text
    with session_scope() as session:
        account = session.exec(select(PortalAccount).where(PortalAccount.email == 'rosa@example.org')).one()
        assert account.language == 'es'
        rosa = session.exec(select(Recipient).where(Recipient.portal_account_id == account.id)).one()
        assert rosa.source == 'self_registration'
    # Again with the same address: no second account, an email saying so (the page answers the same).
    registration_form.sign_up(**{**new, 'first_name': 'Other'}, lang='en')
    assert outbox('rosa@example.org')[-1].subject == 'You already have a COVID-19 Vaccine Portal account'
    with pytest.raises(ValidationFailed, match='already registered'):
        registration_form.sign_up(**{**new, 'email': 'rosa2@example.org'}, lang='en')


def test_verify_link_shows_only_initials_doses_and_dates_and_nothing_for_a_wrong_code(demo) -> None:
    _product, lot_id = open_clinic(days_ahead=1)
    who, person_id = portal_registration()
    slot = scheduling.open_slots(county='wake')[0]
    booked = booking.book(principal=who, recipient_id=person_id, slot_id=slot.slot_id)
    url = proof.verification_url(principal=who, recipient_id=person_id)
    code = url.rsplit('/', 1)[1]
    assert proof.verify(code) is None  # no dose yet: nothing to show
    give_dose(booked.case_number, lot_id)
    verified = proof.verify(code)
    assert verified.initials == 'G. W.'
    assert [(d.dose_number, d.product_name, d.administered_on) for d in verified.doses] == [
        (1, 'Comirnaty Test', local_today())]
    assert {f.name for f in dataclasses.fields(verified)} == {'initials', 'doses'}
    assert {f.name for f in dataclasses.fields(verified.doses[0])} == {'dose_number', 'product_name',
                                                                      'administered_on'}
    for wrong in ('', 'x', code[:-1], code + 'a', code.upper() if code.upper() != code else code.lower(), 'A' * 200):
        assert proof.verify(wrong) is None
    # Unguessable: 192 random bits, one code per person, stable across downloads.
    assert len(code) >= 32 and proof.verification_url(principal=who, recipient_id=person_id) == url
    with session_scope() as session:
        assert len(session.exec(select(ProofCode)).all()) == 1
    assert proof.proof_pdf(principal=who, recipient_id=person_id, lang='es').startswith(b'%PDF')
    with pytest.raises(NotAllowed):
        proof.verification_url(principal=principal(EMPLOYER), recipient_id=person_id)


def test_portal_booking_reschedule_cancel_and_second_dose_interval(demo) -> None:
    product_id, lot_id = open_clinic(days_ahead=1)
    open_clinic(days_ahead=40, product_id=product_id, lot_number='LOT-LATER')
    who, person_id = portal_registration()
    household_members.set_language(principal=who, lang='es')
    first_day, later_day = (scheduling.open_slots(on_or_after=local_today() + timedelta(days=d))[0]
                            for d in (1, 40))
    booked = booking.book(principal=who, recipient_id=person_id, slot_id=first_day.slot_id)
    confirmation = outbox(RECIPIENT)[-1]  # in the account's language
    assert confirmation.subject == f'Su cita para la vacuna contra el COVID-19 está confirmada ({booked.case_number})'
    assert 'Número de confirmación' in confirmation.body_text
    other = scheduling.open_slots(on_or_after=local_today())[1]
    moved = booking.reschedule_booking(principal=who, appointment_id=booked.id, slot_id=other.slot_id)
    assert moved.case_number == booked.case_number
    booking.cancel_booking(principal=who, appointment_id=booked.id)
    assert booking.upcoming_appointments(principal=who, recipient_id=person_id) == []
    booked = booking.book(principal=who, recipient_id=person_id, slot_id=first_day.slot_id)
    give_dose(booked.case_number, lot_id)
    summary = program_status.program_summary(principal=who, recipient_id=person_id)
    assert summary.status == choices.STATUS_VACCINATED
    assert summary.next_dose_due == local_today() + timedelta(days=28)
    # The second dose is only offered from its due date on.
    assert booking.locations_with_open_slots(on_or_after=summary.next_dose_due)
    with pytest.raises(ValidationFailed, match='a partir del'):
        booking.book(principal=who, recipient_id=person_id, slot_id=first_day.slot_id)
    second = booking.book(principal=who, recipient_id=person_id, slot_id=later_day.slot_id)
    assert second.dose_number == 2


def test_portal_booking_needs_a_completed_registration(demo) -> None:
    open_clinic(days_ahead=1)
    who = principal(RECIPIENT)
    person_id = household_members.household(principal=who)[0].id
    with pytest.raises(ServiceError, match='Complete the COVID-19 Vaccine Registration'):
        booking.book(principal=who, recipient_id=person_id, slot_id=scheduling.open_slots()[0].slot_id)


def test_employer_sees_invitation_status_and_totals_never_health_data(demo) -> None:
    employer = principal(EMPLOYER)
    ids = invited_by_employer([(f'Worker{i}', 'Staff', date(1985, 1, i + 1), f'worker{i}@example.org')
                               for i in range(3)])
    invite('Clinic', 'Patient', date(1980, 1, 1), 'patient@example.org')  # loaded by a clinic: not the employer's
    # Worker0 sets a password and registers (answers, group): the employer sees "Registered", nothing more.
    from services.accounts import auth
    with session_scope() as session:
        account = session.exec(select(PortalAccount).where(PortalAccount.email == 'worker0@example.org')).one()
        token = auth.issue_token(session, account.user_id, 'welcome')
    auth.set_password_with_token(token=token, new_password='worker zero long passphrase', browser='b')
    portal_registration('worker0@example.org', health_worker='yes')
    result = employers.invitations(principal=employer)
    assert (result.invited, result.registered) == (3, 1)
    statuses = {row.name: row.status for row in result.rows}
    assert statuses == {'Worker0 Staff': 'Registered', 'Worker1 Staff': 'Invited', 'Worker2 Staff': 'Invited'}
    assert {f.name for f in dataclasses.fields(result.rows[0])} == {'recipient_id', 'name', 'email', 'invited_at',
                                                                   'status'}
    with pytest.raises(NotAllowed):
        registration_form.load_registration(principal=employer, recipient_id=ids[0])
    with pytest.raises(NotAllowed):
        program_status.vaccination_record(principal=employer, recipient_id=ids[0])
    with pytest.raises(NotAllowed):
        scheduling.appointments_of(principal=employer, recipient_id=ids[0])
    with pytest.raises(NotAllowed):
        employers.invitations(principal=principal(RECIPIENT))


def test_employer_invites_only_once_the_state_approved_the_organization(demo) -> None:
    admin, employer = principal(ADMIN), principal(EMPLOYER)
    employers.require_approved_employer(principal=employer)
    employers.suspend(principal=admin, organization_id=employer.organization_id)
    with pytest.raises(NotAllowed, match='waiting for approval'):
        employers.require_approved_employer(principal=employer)
    from services.bulk.registration import upload_target
    with session_scope() as session, pytest.raises(NotAllowed, match='waiting for approval'):
        upload_target(principal=employer, session=session)  # the Bulk Registration screen refuses the employer's upload
    employers.approve(principal=admin, organization_id=employer.organization_id)
    employers.require_approved_employer(principal=employer)
    with session_scope() as session:
        assert upload_target(principal=employer, session=session).organization_id == employer.organization_id
    with pytest.raises(NotAllowed):
        employers.approve(principal=employer, organization_id=employer.organization_id)


def test_self_registration_switch_is_cached_and_an_admins_change_shows_at_once(demo, monkeypatch) -> None:
    from models.portal import PortalSettings
    assert vaccine_groups.self_registration_enabled() is False
    vaccine_groups.set_self_registration(principal=principal(ADMIN), enabled=True)
    assert vaccine_groups.self_registration_enabled() is True  # no wait for the cached answer to expire
    # Another instance closes it: this one keeps its answer for a few seconds, then reads the new value.
    with session_scope() as session:
        row = session.get(PortalSettings, 1)
        row.self_registration_enabled = False
        session.add(row)
    assert vaccine_groups.self_registration_enabled() is True
    monkeypatch.setattr(vaccine_groups, 'SETTING_SECONDS', 0.0)  # the few seconds have passed
    assert vaccine_groups.self_registration_enabled() is False
    vaccine_groups.set_self_registration(principal=principal(ADMIN), enabled=True)
    assert vaccine_groups.self_registration_enabled() is True
