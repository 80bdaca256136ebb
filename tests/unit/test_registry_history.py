"""The desk's history query (QBP^Q11 Z44) against the registry simulator over real MLLP and SOAP connections: Z42
gives doses given elsewhere and the next dose due, Z31 several candidates, Z33 none or too many; silence past the
timeout is "unavailable", quickly. The query itself is a conformant QBP (hl7apy, strict 2.5.1)."""
from __future__ import annotations

import time
from datetime import date

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from models import Recipient, utcnow
from services.core.errors import NotAllowed
from services.registry import history
from tests import factories as fx


def _ask(person: int) -> history.RegistryHistory:
    return history.query_history(principal=fx.principal(fx.PROVIDER), recipient_id=person)


def test_the_query_is_a_z44_qbp(demo, registry) -> None:
    person = fx.recipient('Quinn', 'Query', born=date(2001, 2, 3))
    _ask(person)
    [query] = [m for m in registry.received if '|QBP^Q11' in m]
    parsed = parse_message(query, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    assert parsed.msh.msh_9.to_er7() == 'QBP^Q11^QBP_Q11' and parsed.msh.msh_21.to_er7() == 'Z44^CDCPHINVS'
    segments = {line.split('|')[0]: line.split('|') for line in query.rstrip('\r').split('\r')}
    qpd = segments['QPD']
    assert qpd[1] == 'Z44^Request Evaluated History and Forecast^CDCPHINVS'
    assert qpd[3] == f'{person}^^^CVMS^MR' and qpd[4] == 'Query^Quinn^^^^^L' and qpd[6] == '20010203'
    assert segments['RCP'] == ['RCP', 'I', '5^RD&Records&HL70126', 'R']


def test_z42_shows_doses_given_elsewhere_and_the_next_dose_due(demo, registry) -> None:
    answer = _ask(fx.recipient('Hana', 'History'))
    assert answer.outcome == history.FOUND
    [dose] = answer.given_elsewhere
    assert (dose.given_on, dose.cvx, dose.where) == (date(2025, 3, 1), '208', 'ELSEWHERE CLINIC')
    [forecast] = answer.forecasts
    assert (forecast.vaccine, forecast.due, forecast.earliest) == ('COVID-19', date(2025, 11, 15), date(2025, 11, 1))


def test_z31_lists_the_candidates(demo, registry) -> None:
    registry.query_answer = 'Z31'
    person = fx.recipient('Cara', 'Candidate', born=date(1990, 1, 2))
    answer = _ask(person)
    assert answer.outcome == history.CANDIDATES and answer.doses == []
    assert [(c.name, c.date_of_birth, c.address, c.registry_id) for c in answer.candidates] == [
        ('Cara Candidate', date(1990, 1, 2), '12 Oak St, Raleigh, NC', 'IIS-1001^^^NCIR^SR'),
        ('Cara Ann Candidate', date(1990, 1, 2), '9 Elm Rd, Durham, NC', 'IIS-1002^^^NCIR^SR')]
    picked = history.query_history(principal=fx.principal(fx.PROVIDER), recipient_id=person,
                                   candidate=answer.candidates[1].registry_id)
    assert picked.outcome == history.FOUND
    assert registry.received[-1].split('\r')[1].split('|')[3] == f'{person}^^^CVMS^MR~IIS-1002^^^NCIR^SR'


@pytest.mark.parametrize(('answer', 'outcome', 'words'), [
    ('Z33', history.NONE, 'no record of this person'), ('Z33-TM', history.TOO_MANY, 'too many people')])
def test_z33_none_or_too_many(demo, registry, answer: str, outcome: str, words: str) -> None:
    registry.query_answer = answer
    found = _ask(fx.recipient('Nora', 'Nobody'))
    assert found.outcome == outcome and words in found.message


def test_a_silent_registry_is_unavailable_within_the_timeout(demo, registry) -> None:
    registry.query_answer = 'timeout'
    started = time.monotonic()
    answer = _ask(fx.recipient('Tess', 'Timeout'))
    assert answer.outcome == history.UNAVAILABLE and 'did not answer within 1 seconds' in answer.message
    assert 'The desk works without it.' in answer.message
    assert time.monotonic() - started < 2.5
    registry.stop()
    assert _ask(fx.recipient('Una', 'Unreachable')).outcome == history.UNAVAILABLE


def test_the_query_over_soap(demo, soap_registry) -> None:
    answer = _ask(fx.recipient('Sid', 'Soap'))
    assert answer.outcome == history.FOUND and answer.forecasts[0].due == date(2025, 11, 15)
    assert b'QBP^Q11^QBP_Q11' in soap_registry.soap_requests[-1]


def test_a_person_the_desk_cannot_reach_is_not_asked_about(demo, registry) -> None:
    elsewhere = fx.recipient('Olga', 'Other', born=date(1970, 5, 6), code='DEMO2')
    with pytest.raises(NotAllowed):
        _ask(elsewhere)
    assert registry.received == []
    named = history.query_history(principal=fx.principal(fx.PROVIDER), recipient_id=elsewhere,
                                  named=('Olga', 'Other', date(1970, 5, 6)))  # Walk-In's exact match
    assert named.outcome == history.FOUND


def test_query_text_is_built_from_the_record() -> None:
    person = Recipient(id=7, first_name='Ann|e', last_name='Lee', date_of_birth=date(1999, 9, 9), location_id=1,
                       organization_id=1, identity_key='k', first_name_key='ann', last_name_key='lee',
                       phone='(919) 555-0100')
    text = history.build_query(person, control='Q1', at=utcnow())
    assert 'Lee^Ann\\F\\e^^^^^L' in text and '^PRN^PH^^^919^5550100' in text
