"""Every dose event becomes an HL7 v2.5.1 VXU that meets the CDC guide's Z22 profile, parsed and validated by an
HL7 library (hl7apy, strict 2.5.1 structures); and the batch file for registries that take files."""
from __future__ import annotations

import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message
from sqlmodel import col, select

from models import Recipient
from models.clinic import Administration
from models.registry import RegistryMessage
from services.clinic import administration
from services.core.db import session_scope
from tests import factories as fx

ROOT = Path(__file__).resolve().parents[2]


def _messages() -> list[RegistryMessage]:
    with session_scope(read_only=True) as session:
        return list(session.exec(select(RegistryMessage).order_by(col(RegistryMessage.id))).all())


def _segments(body: str) -> dict[str, list[list[str]]]:
    assert body.endswith('\r') and '\n' not in body
    found: dict[str, list[list[str]]] = {}
    for line in body.rstrip('\r').split('\r'):
        fields = line.split('|')
        if fields[0] == 'MSH':  # MSH-1 is the separator: number fields as the standard does
            fields = ['MSH', '|', *fields[1:]]
        found.setdefault(fields[0], []).append(fields)
    return found


def _field(segment: list[str], number: int) -> str:
    return segment[number] if number < len(segment) else ''


def assert_z22(body: str) -> dict[str, list[list[str]]]:
    """The Z22 profile's rules this system's messages must meet: required fields present, code systems and
    formats right. Returns the segments for further checks."""
    parse_message(body, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)  # 2.5.1 structure
    seg = _segments(body)
    assert [name for name in seg if name != 'NK1'][:4] == ['MSH', 'PID', 'ORC', 'RXA']
    if 'NK1' in seg:  # the parent or guardian of a minor, right after PID
        assert list(seg)[:3] == ['MSH', 'PID', 'NK1']
        nk1 = seg['NK1'][0]
        assert _field(nk1, 1) == '1' and _field(nk1, 2).endswith('^^^^^L') and _field(nk1, 2).split('^')[0]
        assert _field(nk1, 3) == 'GRD^Guardian^HL70063'
    msh, pid, orc, rxa = seg['MSH'][0], seg['PID'][0], seg['ORC'][0], seg['RXA'][0]
    assert _field(msh, 2) == '^~\\&'
    assert all(_field(msh, n) for n in (3, 4, 5, 6, 7, 10))
    assert re.fullmatch(r'\d{14}[+-]\d{4}', _field(msh, 7))
    assert (_field(msh, 9), _field(msh, 11), _field(msh, 12)) == ('VXU^V04^VXU_V04', 'P', '2.5.1')
    assert (_field(msh, 15), _field(msh, 16), _field(msh, 21)) == ('ER', 'AL', 'Z22^CDCPHINVS')
    assert re.fullmatch(r'[^^]+\^\^\^[^^]+\^MR', _field(pid, 3))  # id, assigning authority, type MR
    assert _field(pid, 5).endswith('^^^^^L') and _field(pid, 5).split('^')[0]  # legal name
    assert re.fullmatch(r'\d{8}', _field(pid, 7))
    assert _field(pid, 8) in ('F', 'M', 'U', 'X', '')
    for number in (10, 22):  # race, ethnicity: CDCREC, or the null flavor
        if _field(pid, number):
            assert re.fullmatch(r'[^^]+\^[^^]+\^(CDCREC|NULLFL)', _field(pid, number))
    assert _field(orc, 1) == 'RE' and re.fullmatch(r'\d+\^[^^]+', _field(orc, 3))
    assert (_field(rxa, 1), _field(rxa, 2)) == ('0', '1')
    assert re.fullmatch(r'\d{14}[+-]\d{4}', _field(rxa, 3))
    assert re.fullmatch(r'\d{2,3}\^[^^]+\^CVX(\^[^^]+\^[^^]+\^NDC)?', _field(rxa, 5))
    assert _field(rxa, 9) in ('00^New immunization record^NIP001',
                              '01^Historical information - source unspecified^NIP001')
    assert _field(rxa, 11).startswith('^^^') and _field(rxa, 11)[3:]
    assert _field(rxa, 20) == 'CP' and _field(rxa, 21) in ('A', 'U', 'D')
    if _field(rxa, 21) != 'D':
        assert re.fullmatch(r'\d+(\.\d+)?', _field(rxa, 6)) and _field(rxa, 7) == 'mL^milliliters^UCUM'
        assert _field(rxa, 15) and re.fullmatch(r'\d{8}', _field(rxa, 16))
        assert re.fullmatch(r'[A-Z]{3}\^[^^]+\^MVX', _field(rxa, 17))
        rxr = seg['RXR'][0]
        assert re.fullmatch(r'C\d+\^[^^]+\^NCIT', _field(rxr, 1))
        assert re.fullmatch(r'[A-Z]{2}\^[^^]+\^HL70163', _field(rxr, 2))
        eligibility, source = seg['OBX']
        assert _field(eligibility, 3) == '64994-7^Vaccine funding program eligibility category^LN'
        assert re.fullmatch(r'V0[1-5]\^[^^]+\^HL70064', _field(eligibility, 5))
        assert _field(eligibility, 11) == 'F' and re.fullmatch(r'\d{8}', _field(eligibility, 14))
        assert _field(eligibility, 17) == 'VXC40^Eligibility captured at the immunization level^CDCPHINVS'
        assert _field(source, 3) == '30963-3^Vaccine funding source^LN'
        assert _field(source, 5) == 'VXC50^Public^CDCPHINVS'
    return seg


def _dose_at_the_desk(first: str = 'Rosa', last: str = 'Reyes', *, stored: dict | None = None) -> int:
    product = fx.product_id('207')
    lot = fx.stocked_lot(product, doses=5)
    fx.clinic_session([product])
    recipient_id = fx.recipient(first, last, born=date(1950, 7, 4))
    if stored:  # values the field rules would refuse today but older or imported records may hold
        with session_scope() as session:
            session.get(Recipient, recipient_id).sqlmodel_update(stored)
    case = fx.appointment(product, recipient_id).case_number
    fx.give_dose(case, lot)
    with session_scope(read_only=True) as session:
        return session.exec(select(Administration.id).where(Administration.recipient_id == recipient_id)).one()


def test_a_recorded_dose_produces_a_z22_vxu(demo) -> None:
    dose_id = _dose_at_the_desk()
    [message] = _messages()
    assert (message.administration_id, message.filler_order_id, message.action, message.status) == (
        dose_id, dose_id, 'A', 'queued')
    seg = assert_z22(message.body)
    assert _field(seg['MSH'][0], 10) == message.control_id
    pid, rxa = seg['PID'][0], seg['RXA'][0]
    assert _field(pid, 5) == 'Reyes^Rosa^^^^^L' and _field(pid, 7) == '19500704'
    assert _field(rxa, 5).startswith('207^Moderna COVID-19 Vaccine^CVX^80777-273-10^')
    assert _field(rxa, 17) == 'MOD^ModernaTX, Inc.^MVX' and _field(rxa, 21) == 'A'
    assert _field(rxa, 11) == '^^^DEMO1' and _field(rxa, 9).startswith('00^')
    assert _field(seg['RXR'][0], 1) == 'C28161^Intramuscular^NCIT'
    assert _field(seg['RXR'][0], 2) == 'LD^Left Deltoid^HL70163'


def test_delimiters_in_stored_text_are_escaped(demo) -> None:
    _dose_at_the_desk(stored={'first_name': 'Ann|Marie', 'last_name': 'O^Neil&Co~x', 'city': 'Back\\slash'})
    body = _messages()[0].body
    message = parse_message(body, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    assert 'O\\S\\Neil\\T\\Co\\R\\x^Ann\\F\\Marie' in body and 'Back\\E\\slash' in body
    assert message.pid.pid_5.xpn_1.value.startswith('O\\S\\Neil')  # one component, not split at the delimiters


def test_a_correction_sends_u_and_a_void_sends_d_for_the_dose_first_reported(demo) -> None:
    dose_id = _dose_at_the_desk()
    manager = fx.principal(fx.MANAGER)
    with session_scope(read_only=True) as session:
        lot_id = session.get(Administration, dose_id).lot_id
    corrected = administration.correct_administration(
        principal=manager, administration_id=dose_id, reason='Wrong arm', details=administration.DoseDetails(
            lot_id=lot_id, site='Right deltoid', screening={}, consent=True))
    administration.void_administration(principal=manager, administration_id=corrected.administration_id,
                                       reason='Entered for the wrong person')
    added, updated, deleted = _messages()
    assert [m.action for m in (added, updated, deleted)] == ['A', 'U', 'D']
    assert {m.filler_order_id for m in (added, updated, deleted)} == {dose_id}  # ORC-3: the dose first reported
    assert updated.administration_id == deleted.administration_id == corrected.administration_id
    for message in (updated, deleted):
        seg = assert_z22(message.body)
        assert _field(seg['ORC'][0], 3).startswith(f'{dose_id}^')
    assert _field(_segments(updated.body)['RXR'][0], 2) == 'RD^Right Deltoid^HL70163'
    assert len({m.control_id for m in (added, updated, deleted)}) == 3


def test_a_paper_record_is_reported_as_historical(demo) -> None:
    manager = fx.principal(fx.MANAGER)
    lot = fx.stocked_lot(fx.product_id('207'), doses=3)
    person = fx.recipient('Paula', 'Paper')
    from datetime import UTC, datetime, timedelta
    administration.record_paper_administration(
        principal=manager, recipient_id=person, details=administration.DoseDetails(
            lot_id=lot, screening={}, consent=True,
            administered_at=datetime.now(UTC) - timedelta(days=2)))
    seg = assert_z22(_messages()[0].body)
    assert _field(seg['RXA'][0], 9) == '01^Historical information - source unspecified^NIP001'


def test_iis_export_writes_a_batch_file_once(demo, tmp_path: Path) -> None:
    import os
    _dose_at_the_desk()
    _dose_at_the_desk('Otto', 'Other')
    env = {**os.environ}
    out = tmp_path / 'demo1.hl7'

    def export(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, 'main.py', 'iis-export', *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120, check=False)

    done = export('--location', 'DEMO1', '--output', str(out))
    assert done.returncode == 0, done.stderr
    assert '2 message(s) from 1 location(s)' in done.stdout
    text = out.read_bytes().decode()
    lines = text.rstrip('\r').split('\r')
    assert lines[0].startswith('FHS|^~\\&|') and lines[1].startswith('BHS|^~\\&|')
    assert lines[-2:] == ['BTS|2', 'FTS|1'] and sum(line.startswith('MSH|') for line in lines) == 2
    for body in re.findall(r'MSH\|.*?(?=MSH\||BTS\|)', text, flags=re.S):
        assert_z22(body)
    again = export('--location', 'DEMO1', '--output', str(tmp_path / 'again.hl7'))
    assert '0 message(s)' in again.stdout and (tmp_path / 'again.hl7').read_text() .count('MSH|') == 0
    everything = export('--location', 'ALL', '--all', '--output', str(tmp_path / 'all.hl7'))
    assert '2 message(s) from 1 location(s)' in everything.stdout
    unknown = export('--location', 'NOPE', '--output', str(tmp_path / 'x.hl7'))
    assert unknown.returncode == 1 and 'No location has the code NOPE' in unknown.stderr


@pytest.mark.parametrize('label', ['Intramuscular (IM)', 'Subcutaneous (SC)'])
def test_every_route_the_desk_offers_has_its_code(label: str) -> None:
    from services.registry import codes
    assert label in administration.ROUTES and label in codes.ROUTE
    assert set(administration.SITES) == set(codes.SITE) and set(administration.ROUTES) == set(codes.ROUTE)


def test_a_minor_s_dose_names_the_household_adult_as_guardian_in_nk1(demo) -> None:
    from datetime import timedelta

    from models import PortalAccount
    with session_scope(read_only=True) as session:
        account = session.exec(select(PortalAccount).where(PortalAccount.email == fx.RECIPIENT)).one()
        adult = session.exec(select(Recipient).where(Recipient.portal_account_id == account.id)).first()
    today = fx.local_today()
    child = fx.recipient('Kiddo', adult.last_name + 'x', born=today.replace(year=today.year - 12))
    grown = fx.recipient('Adulto', adult.last_name + 'y', born=today.replace(year=today.year - 30))
    with session_scope() as session:
        for person in (child, grown):
            session.get(Recipient, person).portal_account_id = account.id
    product = fx.product_id('207')
    lot = fx.stocked_lot(product, doses=5)
    fx.clinic_session([product])
    fx.give_dose(fx.appointment(product, child).case_number, lot)
    fx.give_dose(fx.appointment(product, grown).case_number, lot)
    minor, adult_dose = _messages()
    seg = assert_z22(minor.body)
    assert _field(seg['NK1'][0], 2) == f'{adult.last_name}^{adult.first_name}^^^^^L'  # the oldest adult
    assert 'NK1' not in _segments(adult_dose.body)
    assert adult.date_of_birth < today - timedelta(days=365 * 30)


def test_the_dose_s_funding_eligibility_is_reported_and_kept_by_a_correction(demo) -> None:
    from services.clinic import checkin
    from services.core.errors import ValidationFailed
    product = fx.product_id('207')
    lot = fx.stocked_lot(product, doses=5)
    fx.clinic_session([product])
    manager = fx.principal(fx.MANAGER)
    visit = fx.appointment(product, fx.recipient('Vera', 'Vfc', born=date(2014, 2, 3)))
    checkin.check_in(principal=manager, appointment_id=visit.id)
    answers = {key: 'no' for key, _ in fx.common.SCREENING_QUESTIONS}
    with pytest.raises(ValidationFailed, match='Funding eligibility'):
        administration.record_vaccination(
            principal=manager, appointment_id=visit.id, details=administration.DoseDetails(
                lot_id=lot, screening=answers, consent=True, funding_eligibility='V09'))
    recorded = administration.record_vaccination(
        principal=manager, appointment_id=visit.id, details=administration.DoseDetails(
            lot_id=lot, screening=answers, consent=True, funding_eligibility='V03'))
    administration.correct_administration(principal=manager, administration_id=recorded.administration_id,
                                          reason='Wrong arm', details=administration.DoseDetails(
                                              lot_id=lot, site='Right deltoid'))
    added, updated = _messages()
    for message in (added, updated):
        eligibility = assert_z22(message.body)['OBX'][0]
        assert _field(eligibility, 5) == 'V03^VFC eligible - Uninsured^HL70064'
