"""Asking the state registry for a person's history and forecast at the desk (CDC Implementation Guide release 1.5:
`QBP^Q11^QBP_Q11` with profile Z44; the answer `RSP^K11^RSP_K11` is Z42 (the evaluated history and forecast), Z31
(several people could match: a list of candidates, no history) or Z33 (none found, or too many)). So the desk sees
doses given elsewhere and the next dose due before giving one.

The exchange is a blocking call with a short timeout (CVMS_IIS_QUERY_TIMEOUT_SECONDS), run off the event loop by the
page; a registry out of reach is an answer like any other ("unavailable"), and the desk goes on without it."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

from models import Recipient, utcnow
from services.core.db import session_scope
from services.core.localtime import state_zone
from services.core.settings import get_settings
from services.permissions import Action, fetch, require
from services.principal import Principal
from services.registry import ack, transport, vxu

FOUND, CANDIDATES, NONE, TOO_MANY, UNAVAILABLE, REFUSED = (
    'found', 'candidates', 'none', 'too_many', 'unavailable', 'refused')
NO_VACCINE_GIVEN = '998'  # RXA-5 of a forecast group: "no vaccine administered"
# OBX-3 of the evaluation and forecast observations (LOINC).
VACCINE_TYPE, DUE, EARLIEST, OVERDUE = '30956-7', '30980-7', '30981-5', '59778-1'


@dataclass(frozen=True)
class RegistryDose:
    given_on: date | None
    vaccine: str  # RXA-5 text (CVX code when no text)
    cvx: str
    where: str  # RXA-11's facility, as the registry names it
    ours: bool  # reported by this system (ORC-3 carries our assigning authority)


@dataclass(frozen=True)
class Forecast:
    vaccine: str
    due: date | None
    earliest: date | None
    overdue: date | None


@dataclass(frozen=True)
class Candidate:
    name: str
    date_of_birth: date | None
    address: str
    registry_id: str  # the registry's own id (PID-3, as a CX) to ask again for this one


@dataclass(frozen=True)
class RegistryHistory:
    outcome: str  # FOUND, CANDIDATES, NONE, TOO_MANY, UNAVAILABLE, REFUSED
    message: str  # what the desk reads first
    doses: list[RegistryDose] = field(default_factory=list)
    forecasts: list[Forecast] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def given_elsewhere(self) -> list[RegistryDose]:
        return [d for d in self.doses if not d.ours]


def configured() -> bool:
    """Whether the desk offers the registry look-up (a live registry is configured)."""
    return transport.configured()


def query_history(*, principal: Principal, recipient_id: int, named: tuple[str, str, date] | None = None,
                  candidate: str = '') -> RegistryHistory:
    """The registry's history and forecast for the person (whom the desk may reach: registered here, served here,
    or `named` exactly at Walk-In). `candidate`: the registry id of the candidate the desk picked after a Z31
    answer, sent beside ours in QPD-3."""
    require(principal, Action.CHECK_IN)
    with session_scope(read_only=True) as session:
        person = fetch(session, Recipient, recipient_id, principal=principal, action='query_registry_history',
                       health_data=True, named=named)
        message = build_query(person, control=f'Q{uuid.uuid4().hex[:19]}'.upper(), at=utcnow(), candidate=candidate)
    if not configured():
        return RegistryHistory(UNAVAILABLE, 'No registry is configured.')
    try:
        answer = transport.exchange(message, timeout=get_settings().iis_query_timeout_seconds)
    except (transport.Unreachable, transport.Refused) as error:
        return RegistryHistory(UNAVAILABLE, f'The registry could not be asked: {error} The desk works without it.')
    return read_response(answer)


def build_query(person: Recipient, *, control: str, at: datetime, candidate: str = '') -> str:
    """QBP^Q11 Z44 (MSH-10 and the query tag QPD-2 both `control`): the person by our id, legal name, date of
    birth, sex, address and phone; up to 5 records."""
    settings = get_settings()
    pid = vxu.build_pid_fields(person)  # the same identifiers the VXU sends
    segments = [
        '|'.join(['MSH', '^~\\&', settings.iis_sending_application, settings.iis_sending_facility,
                  settings.iis_receiving_application, settings.iis_receiving_facility,
                  at.astimezone(state_zone()).strftime('%Y%m%d%H%M%S%z'), '', 'QBP^Q11^QBP_Q11', control,
                  settings.iis_processing_id, '2.5.1', '', '', 'NE', 'AL', '', '', '', '', 'Z44^CDCPHINVS']),
        '|'.join(['QPD', 'Z44^Request Evaluated History and Forecast^CDCPHINVS', control,
                  pid['id'] + (f'~{_cx(candidate)}' if candidate else ''),
                  pid['name'], '', pid['birth_date'], pid['sex'], pid['address'], pid['phone']]).rstrip('|'),
        'RCP|I|5^RD&Records&HL70126|R',
    ]
    return vxu.SEGMENT_END.join(segments) + vxu.SEGMENT_END


def read_response(text: str) -> RegistryHistory:
    """The RSP^K11 in words and lists."""
    segments = ack.split_segments(text)
    names = [s[0] for s in segments]
    if 'MSA' not in names:
        return RegistryHistory(UNAVAILABLE, 'The registry answered with something that is not an HL7 response.')
    msa = segments[names.index('MSA')]
    if _at(msa, 1) in ('AE', 'AR', 'CE', 'CR'):
        reply = ack.parse_ack(text)
        return RegistryHistory(REFUSED, 'The registry refused the question. ' + (reply.plain or ''))
    msh = segments[names.index('MSH')] if 'MSH' in names else ['MSH']
    profile = ack.component(_at(msh, 21), 1)
    status = _at(segments[names.index('QAK')], 2) if 'QAK' in names else ''
    people = [s for s in segments if s[0] == 'PID']
    if status == 'NF' or (profile == 'Z33' and status != 'TM'):
        return RegistryHistory(NONE, 'The registry has no record of this person.')
    if status == 'TM':
        return RegistryHistory(TOO_MANY, 'The registry found too many people who could match and shows none. '
                                         'Check the name and date of birth with the person.')
    if status in ('AE', 'AR'):
        return RegistryHistory(REFUSED, 'The registry could not answer the question.')
    if profile == 'Z31' or len(people) > 1:
        return RegistryHistory(CANDIDATES, 'Several people in the registry could be this person, so it shows no '
                                           'history. Compare their details with the person at the desk:',
                               candidates=[_candidate(p) for p in people])
    doses, forecasts = _doses_and_forecasts(segments)
    return RegistryHistory(FOUND, 'The registry\'s record of this person:' if doses or forecasts
                           else 'The registry knows this person but holds no doses.', doses=doses,
                           forecasts=forecasts)


# ---------------------------------------------------------------- reading the answer

def _doses_and_forecasts(segments: list[list[str]]) -> tuple[list[RegistryDose], list[Forecast]]:
    """Each ORC/RXA group with the OBX after it: a dose given, or (RXA-5 998) the forecast of a vaccine series."""
    authority = get_settings().iis_assigning_authority
    doses, forecasts = [], []
    orc: list[str] = []
    group: tuple[list[str], list[list[str]]] | None = None

    def close() -> None:
        if group is None:
            return
        rxa, observations = group
        if ack.component(_at(rxa, 5), 1) == NO_VACCINE_GIVEN:
            forecasts.extend(_forecasts(observations))
        else:
            doses.append(RegistryDose(
                given_on=_date(_at(rxa, 3)), vaccine=ack.unescape(ack.component(_at(rxa, 5), 2)
                                                                  or ack.component(_at(rxa, 5), 1)),
                cvx=ack.component(_at(rxa, 5), 1), where=ack.unescape(_facility(_at(rxa, 11))),
                ours=ack.component(_at(orc, 3), 2) == authority))

    for segment in segments:
        if segment[0] == 'ORC':
            close()
            orc, group = segment, None
        elif segment[0] == 'RXA':
            close()
            group = (segment, [])
        elif segment[0] == 'OBX' and group is not None:
            group[1].append(segment)
    close()
    doses.sort(key=lambda d: d.given_on or date.min)
    return doses, forecasts


def _forecasts(observations: list[list[str]]) -> list[Forecast]:
    """Observations grouped by OBX-4 (sub-id): a vaccine type and its dates."""
    by_group: dict[str, dict[str, str]] = {}
    for obx in observations:
        by_group.setdefault(_at(obx, 4), {})[ack.component(_at(obx, 3), 1)] = _at(obx, 5)
    found = []
    for values in by_group.values():
        if VACCINE_TYPE not in values:
            continue
        kind = values[VACCINE_TYPE]
        found.append(Forecast(vaccine=ack.unescape(ack.component(kind, 2) or ack.component(kind, 1)),
                              due=_date(values.get(DUE, '')), earliest=_date(values.get(EARLIEST, '')),
                              overdue=_date(values.get(OVERDUE, ''))))
    return found


def _candidate(pid: list[str]) -> Candidate:
    name = _at(pid, 5).split('~')[0]
    given = ' '.join(p for p in (ack.component(name, 2), ack.component(name, 3)) if p)
    address = _at(pid, 11).split('~')[0]
    where = ', '.join(p for p in (ack.component(address, 1), ack.component(address, 3), ack.component(address, 4))
                      if p)
    return Candidate(name=ack.unescape(f'{given} {ack.component(name, 1)}'.strip()),
                     date_of_birth=_date(_at(pid, 7)), address=ack.unescape(where),
                     registry_id=_at(pid, 3).split('~')[0])


def _cx(value: str) -> str:
    """A registry id as the registry sent it (id^^^authority^type): only HL7's own delimiters in their places."""
    parts = (value.split('^') + [''] * 5)[:5]
    return '^'.join(vxu.escape(part) for part in parts).rstrip('^')


def _facility(value: str) -> str:
    """RXA-11 (LA2): the facility is its 4th component (code^name^system of a HD in some registries' answers)."""
    facility = ack.component(value, 4)
    return facility.replace('&', ' ').strip() or value.replace('^', ' ').strip()


def _date(value: str) -> date | None:
    digits = value[:8]
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


def _at(segment: list[str], number: int) -> str:
    return segment[number] if number < len(segment) else ''
