"""Registry messages reach the registry simulator (tests/registry_sim.py) over real MLLP and SOAP connections, on
SQLite and PostgreSQL: each answer ends in its status (Accepted, Accepted with warnings, Rejected with the reason in
plain words, Retrying with a back-off), an update waits for its add, a rejection blocks nothing, and workers
claiming at once never send a message twice."""
from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import text
from sqlmodel import col, select

from models import utcnow
from models.registry import RegistryMessage
from services.clinic import administration
from services.core.db import is_postgres, session_scope
from services.registry import ack, sending, transport
from tests import factories as fx


def _message_of(dose_id: int) -> RegistryMessage:
    with session_scope(read_only=True) as session:
        return session.exec(select(RegistryMessage).where(RegistryMessage.administration_id == dose_id)
                            .order_by(col(RegistryMessage.id))).first()


def _all_of(dose_ids: list[int]) -> list[RegistryMessage]:
    with session_scope(read_only=True) as session:
        return list(session.exec(select(RegistryMessage).where(col(RegistryMessage.administration_id).in_(dose_ids))
                                 .order_by(col(RegistryMessage.id))))


def _due_now(message_id: int) -> None:
    """Skip the back-off, as time would."""
    with session_scope() as session:
        message = session.get(RegistryMessage, message_id)
        message.next_attempt_at = utcnow() - timedelta(seconds=1)
        session.add(message)


def test_an_accepted_message(demo, registry) -> None:
    dose = fx.walk_in_dose('Ada', 'Accepted')
    sending.send_due()
    message = _message_of(dose)
    assert (message.status, message.ack_code, message.attempts, message.claimed_by) == ('accepted', 'AA', 1, None)
    assert message.answered_at is not None and message.ack_body.startswith('MSH|')
    assert registry.control_ids().count(message.control_id) == 1
    assert registry.vxus()[-1] == message.body  # the stored text is what went out


def test_accepted_with_warnings_tells_the_warning_in_plain_words(demo, registry) -> None:
    registry.answer = 'AE'
    message = _message_of(fx.walk_in_dose('Wanda', 'Warned'))
    sending.send_due()
    message = _message_of(message.administration_id)
    assert (message.status, message.ack_code) == ('accepted_with_warnings', 'AE')
    assert message.ack_text == ('Warning in the manufacturer (RXA-17): Table value not found. Manufacturer code not '
                                'recognized; the dose was recorded without it')


def test_a_rejected_message_says_why_and_blocks_no_other(demo, registry) -> None:
    registry.by_family_name['Rejected'] = 'AR'
    refused = fx.walk_in_dose('Rita', 'Rejected')
    fine = fx.walk_in_dose('Otto', 'Other')
    sending.send_due()
    rejected, accepted = _message_of(refused), _message_of(fine)
    assert (rejected.status, rejected.ack_code, rejected.next_attempt_at) == ('rejected', 'AR', None)
    assert rejected.ack_text.splitlines() == [
        'Error in the date of birth (PID-7): Required field missing. Patient birth date is required',
        'Error in the vaccine (RXA-5): Table value not found. Vaccine code 999 is unknown']
    assert accepted.status == 'accepted'
    sending.send_due()  # final: never sent again
    assert registry.control_ids().count(rejected.control_id) == 1


def test_a_registry_that_does_not_answer_in_time_is_tried_again_later(demo, registry) -> None:
    registry.answer = 'timeout'
    dose = fx.walk_in_dose('Tim', 'Timeout')
    second = fx.walk_in_dose('Sue', 'Second')
    before = utcnow()
    counts = sending.send_due()
    assert (counts.sent, counts.retrying) == (0, 1)  # the second is not tried against a registry out of reach
    message = _message_of(dose)
    assert (message.status, message.attempts, message.claimed_by) == ('retrying', 1, None)
    assert 'did not answer within 1 seconds' in message.last_error
    assert message.next_attempt_at >= before + timedelta(seconds=29)
    assert _message_of(second).status == 'queued'
    registry.answer = 'AA'
    sending.send_due()  # the second goes; the first waits for its back-off
    assert (_message_of(dose).status, _message_of(second).status) == ('retrying', 'accepted')
    _due_now(message.id)
    sending.send_due()
    message = _message_of(dose)
    assert (message.status, message.attempts, message.last_error) == ('accepted', 2, None)


def test_a_registry_out_of_reach_and_an_answer_that_is_no_ack_mean_retrying(demo, registry) -> None:
    registry.answer = 'garbage'
    dose = fx.walk_in_dose('Gary', 'Garbage')
    sending.send_due()
    message = _message_of(dose)
    assert message.status == 'retrying' and 'not an HL7 acknowledgement' in message.last_error
    registry.stop()
    _due_now(message.id)
    sending.send_due()
    message = _message_of(dose)
    assert (message.status, message.attempts) == ('retrying', 2) and 'could not be reached' in message.last_error
    assert message.next_attempt_at - utcnow() > timedelta(seconds=45)  # the back-off doubles


def test_an_update_never_overtakes_its_add(demo, registry) -> None:
    dose = fx.walk_in_dose('Una', 'Update')
    with session_scope(read_only=True) as session:
        from models.clinic import Administration
        lot_id = session.get(Administration, dose).lot_id
    registry.answer = 'timeout'
    sending.send_due()
    administration.correct_administration(principal=fx.principal(fx.MANAGER), administration_id=dose,
                                          reason='Wrong arm', details=administration.DoseDetails(
                                              lot_id=lot_id, site='Right deltoid', screening={}, consent=True))
    added, updated = _all_of([dose, dose + 1])[:2]
    assert (added.action, updated.action, added.status) == ('A', 'U', 'retrying')
    registry.answer = 'AA'
    sending.send_due()
    assert _message_of(updated.administration_id).status == 'queued'  # waits behind its add
    assert updated.control_id not in registry.control_ids()
    _due_now(added.id)
    sending.send_message(added.id)  # the job of the add sends the update waiting behind it too
    assert registry.control_ids()[-2:] == [added.control_id, updated.control_id]
    assert [m.status for m in _all_of([dose, updated.administration_id])] == ['accepted', 'accepted']


def test_workers_claiming_at_once_never_send_a_message_twice(demo, registry) -> None:
    doses = [fx.walk_in_dose(f'Par{i}', 'Allel') for i in range(8)]
    mine = {m.control_id for m in _all_of(doses)}
    start = threading.Barrier(3)
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            sending.send_due()
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures
    sent = [c for c in registry.control_ids() if c in mine]
    assert sorted(sent) == sorted(mine)  # every message once, none twice
    assert {m.status for m in _all_of(doses)} == {'accepted'}


def test_a_dead_workers_claim_expires_and_another_worker_takes_the_message(demo, registry) -> None:
    held, orphaned = fx.walk_in_dose('Hal', 'Held'), fx.walk_in_dose('Orla', 'Orphan')
    with session_scope() as session:
        for dose, until in ((held, utcnow() + timedelta(seconds=60)), (orphaned, utcnow() - timedelta(seconds=1))):
            message = session.exec(select(RegistryMessage).where(RegistryMessage.administration_id == dose)).one()
            message.claimed_by, message.claimed_until = 'dead-or-alive:1', until
            session.add(message)
    sending.send_due()
    assert _message_of(held).status == 'queued' and _message_of(held).claimed_by == 'dead-or-alive:1'
    assert _message_of(orphaned).status == 'accepted'
    assert _message_of(held).control_id not in registry.control_ids()


def test_an_answer_is_recorded_only_by_the_worker_holding_the_claim(demo, registry) -> None:
    dose = fx.walk_in_dose('Fen', 'Fenced')
    claimed = sending._claim('slow-worker')
    assert claimed is not None and claimed.id == _message_of(dose).id
    with session_scope() as session:  # judged dead: its lease ran out and another worker took the message
        message = session.get(RegistryMessage, claimed.id)
        message.claimed_by = 'other-worker'
        session.add(message)
    assert sending._send_claimed(claimed, 'slow-worker') == 'lost'
    message = _message_of(dose)
    assert (message.status, message.attempts, message.claimed_by) == ('queued', 0, 'other-worker')


def test_a_new_message_is_deferred_to_the_job_engine_on_postgres(demo, registry) -> None:
    dose = fx.walk_in_dose('Jo', 'Job')
    message = _message_of(dose)
    if is_postgres():
        with session_scope(read_only=True) as session:
            jobs = session.execute(text("SELECT args->>'message_id' FROM procrastinate_jobs "
                                        "WHERE task_name = 'registry.send_message'")).scalars().all()
        assert jobs == [str(message.id)]
    sending.send_message(message.id)  # the task's body
    assert _message_of(dose).status == 'accepted'


def test_without_a_registry_messages_wait_for_the_batch_file(demo) -> None:
    dose = fx.walk_in_dose('Bea', 'Batch')
    assert not transport.configured()
    assert sending.send_due().sent == 0 and sending.send_message(_message_of(dose).id).sent == 0
    assert _message_of(dose).status == 'queued' and _message_of(dose).attempts == 0


def test_a_message_in_a_batch_file_is_not_sent_and_holds_nothing_back(demo, registry, tmp_path) -> None:
    from services.principal import SYSTEM
    from services.registry import reporting
    dose = fx.walk_in_dose('Fay', 'File')
    reporting.export_batch(principal=SYSTEM, location_code='DEMO1', output=tmp_path / 'out.hl7')
    with session_scope(read_only=True) as session:
        from models.clinic import Administration
        lot_id = session.get(Administration, dose).lot_id
    corrected = administration.correct_administration(
        principal=fx.principal(fx.MANAGER), administration_id=dose, reason='Wrong arm',
        details=administration.DoseDetails(lot_id=lot_id, site='Right deltoid', screening={}, consent=True))
    sending.send_due()
    added, updated = _message_of(dose), _message_of(corrected.administration_id)
    assert added.status == 'queued' and added.control_id not in registry.control_ids()  # the file carried it
    assert updated.status == 'accepted'


# ---------------------------------------------------------------- SOAP

def test_soap_submit_single_message(demo, soap_registry) -> None:
    dose = fx.walk_in_dose('Sol', 'Soap')
    sending.send_due()
    message = _message_of(dose)
    assert (message.status, message.ack_code) == ('accepted', 'AA')
    request = soap_registry.soap_requests[-1]
    assert b'urn:cdc:iisb:2011' in request and b'http://www.w3.org/2003/05/soap-envelope' in request
    for part in (b'submitSingleMessage', b'>cvms<', b'>secret<', b'>NC0001<'):
        assert part in request
    assert soap_registry.vxus()[-1] == message.body  # carriage returns arrive as carriage returns


def test_soap_answers_rejected_with_warnings_and_silence(demo, soap_registry) -> None:
    soap_registry.by_family_name.update({'Rejected': 'AR', 'Warned': 'AE', 'Silent': 'timeout'})
    rejected, warned, silent = (fx.walk_in_dose('A', 'Rejected'), fx.walk_in_dose('B', 'Warned'),
                                fx.walk_in_dose('C', 'Silent'))
    sending.send_due()
    assert [_message_of(d).status for d in (rejected, warned, silent)] == [
        'rejected', 'accepted_with_warnings', 'retrying']
    assert 'Patient birth date is required' in _message_of(rejected).ack_text


def test_soap_faults(demo, soap_registry) -> None:
    soap_registry.soap_fault = 'SecurityFault'
    dose = fx.walk_in_dose('Sec', 'Fault')
    sending.send_due()
    message = _message_of(dose)
    assert message.status == 'retrying' and 'refused our credentials' in message.last_error
    soap_registry.soap_fault = 'MessageTooLargeFault'
    _due_now(message.id)
    sending.send_due()
    message = _message_of(dose)
    assert message.status == 'rejected' and 'too large' in message.ack_text


# ---------------------------------------------------------------- reading acknowledgements

def test_ack_reading() -> None:
    aa = ack.parse_ack('MSH|^~\\&|IIS|IIS|CVMS|CVMS|20261202||ACK^V04^ACK|1|P|2.5.1\rMSA|AA|X1\r', answering='X1')
    assert (aa.status, aa.plain) == ('accepted', '')
    informed = ack.parse_ack('MSA|AA|X1\nERR||PID^1^13|0^Message accepted^HL70357|I||||Phone not stored\n')
    assert informed.status == 'accepted'
    old_style = ack.parse_ack('MSA|AR|X2|Bad message\rERR|RXA^1^15^101&Required field missing&HL70357\r')
    assert old_style.status == 'rejected'
    assert old_style.plain == 'Bad message\nError in the lot number (RXA-15): Required field missing'
    assert ack.parse_ack('MSA|AR|X3\r').plain == 'The registry rejected the message without giving a reason.'
    for unreadable in ('', 'HELLO', 'MSA|ZZ|X1\r'):
        try:
            ack.parse_ack(unreadable)
        except ack.AnswerUnreadable:
            continue
        raise AssertionError(f'{unreadable!r} was read as an acknowledgement')
    try:
        ack.parse_ack('MSA|AA|OTHER\r', answering='X1')
    except ack.AnswerUnreadable as error:
        assert 'OTHER' in str(error)
    else:
        raise AssertionError('an answer to another message was taken')
