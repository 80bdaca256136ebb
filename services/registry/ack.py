"""Reading the registry's answers: the ACK to a VXU (MSA-1 AA / AE / AR and its ERR segments), told in plain words
for the people who must fix a record. Plain segment parsing: an answer is a few short segments, and a registry's
answer that a strict parser refuses must still be read."""
from __future__ import annotations

from dataclasses import dataclass, field

from models.registry import RegistryStatus

# HL7 table 0357, message error condition codes.
ERROR_CODES = {
    '0': 'Message accepted',
    '100': 'Segment sequence error',
    '101': 'Required field missing',
    '102': 'Data type error',
    '103': 'Table value not found',
    '104': 'Value too long',
    '200': 'Unsupported message type',
    '201': 'Unsupported event code',
    '202': 'Unsupported processing id',
    '203': 'Unsupported version id',
    '204': 'Unknown key identifier',
    '205': 'Duplicate key identifier',
    '206': 'Application record locked',
    '207': 'Application internal error',
}
SEVERITIES = {'E': 'Error', 'W': 'Warning', 'I': 'Information'}
# The fields our messages fill, in the words of the screens (ERR-2 names them by segment and position).
FIELD_NAMES = {
    ('MSH', 0): 'message header', ('PID', 0): 'person', ('PID', 3): 'person id', ('PID', 5): 'name',
    ('PID', 7): 'date of birth', ('PID', 8): 'sex', ('PID', 10): 'race', ('PID', 11): 'address',
    ('PID', 13): 'phone', ('PID', 22): 'ethnicity', ('NK1', 0): 'parent or guardian', ('ORC', 3): 'dose id',
    ('RXA', 0): 'dose', ('RXA', 3): 'date given', ('RXA', 5): 'vaccine', ('RXA', 6): 'dose volume',
    ('RXA', 7): 'dose volume unit', ('RXA', 9): 'record source', ('RXA', 10): 'vaccinator',
    ('RXA', 11): 'location', ('RXA', 15): 'lot number', ('RXA', 16): 'lot expiration date',
    ('RXA', 17): 'manufacturer', ('RXA', 21): 'action code', ('RXR', 1): 'route', ('RXR', 2): 'site',
    ('OBX', 0): 'observation', ('OBX', 5): 'funding eligibility',
}


class AnswerUnreadable(ValueError):
    """What came back is no HL7 acknowledgement (or not the one for our message)."""


@dataclass(frozen=True)
class AckError:
    """One ERR segment."""
    location: str  # e.g. RXA-5 (ERR-2: segment, sequence, field)
    code: str  # HL70357
    severity: str  # E, W, I
    text: str  # the registry's own words (ERR-8 user message, else ERR-7, ERR-5)

    @property
    def plain(self) -> str:
        """E.g. "Error in the vaccine (RXA-5): Table value not found. Unknown CVX code"."""
        where = ''
        if self.location:
            segment, _, number = self.location.partition('-')
            name = FIELD_NAMES.get((segment, int(number) if number.isdigit() else 0))
            where = f' in the {name} ({self.location})' if name else f' in {self.location}'
        reason = ERROR_CODES.get(self.code, f'code {self.code}' if self.code else '')
        words = '. '.join(part for part in (reason, self.text) if part)
        return f'{SEVERITIES.get(self.severity, "Error")}{where}' + (f': {words}' if words else '')


@dataclass(frozen=True)
class Ack:
    code: str  # MSA-1: AA, AE, AR (or the original-mode CA, CE, CR)
    control_id: str  # MSA-2: the message this answers
    text: str = ''  # MSA-3, which some registries still fill
    errors: list[AckError] = field(default_factory=list)

    @property
    def status(self) -> RegistryStatus:
        """AR: rejected. AE: accepted with warnings (the registry kept the record and reports problems).
        AA: accepted, or accepted with warnings when an ERR of severity error or warning came with it."""
        if self.code in ('AR', 'CR'):
            return RegistryStatus.REJECTED
        if self.code in ('AE', 'CE') or any(e.severity in ('E', 'W') for e in self.errors):
            return RegistryStatus.WARNINGS
        return RegistryStatus.ACCEPTED

    @property
    def plain(self) -> str:
        """The registry's message in plain words, one sentence per problem."""
        lines = [e.plain for e in self.errors if e.severity != 'I' or self.code != 'AA']
        if self.text:
            lines.insert(0, self.text)
        if not lines and self.status == RegistryStatus.REJECTED:
            return 'The registry rejected the message without giving a reason.'
        return '\n'.join(lines)


def parse_ack(text: str, *, answering: str | None = None) -> Ack:
    """The acknowledgement in `text`. AnswerUnreadable when it holds no MSA segment, or (with `answering`)
    answers another message than the one whose control id (MSH-10) is `answering`."""
    segments = split_segments(text)
    msa = next((s for s in segments if s[0] == 'MSA'), None)
    if msa is None or _at(msa, 1) not in ('AA', 'AE', 'AR', 'CA', 'CE', 'CR'):
        raise AnswerUnreadable('The registry answered with something that is not an HL7 acknowledgement.')
    if answering is not None and _at(msa, 2) and _at(msa, 2) != answering:
        raise AnswerUnreadable(f'The registry acknowledged message {_at(msa, 2)}, not {answering}.')
    return Ack(code=_at(msa, 1), control_id=_at(msa, 2), text=unescape(_at(msa, 3)),
               errors=[_error(s) for s in segments if s[0] == 'ERR'])


def split_segments(text: str) -> list[list[str]]:
    """Segments as lists of fields, numbered as the standard numbers them (MSH-1 is the field separator).
    Carriage returns end segments; line feeds are accepted too (some registries send them)."""
    found = []
    for line in text.replace('\r\n', '\r').replace('\n', '\r').split('\r'):
        line = line.strip('\x0b\x1c ')
        if len(line) < 3:
            continue
        fields = line.split('|')
        if fields[0] == 'MSH':
            fields = ['MSH', '|', *fields[1:]]
        found.append(fields)
    return found


def unescape(text: str) -> str:
    for plain, escaped in (('|', '\\F\\'), ('^', '\\S\\'), ('&', '\\T\\'), ('~', '\\R\\'), ('\\', '\\E\\')):
        text = text.replace(escaped, plain)
    return text


def component(value: str, number: int) -> str:
    parts = value.split('^')
    return parts[number - 1] if 0 < number <= len(parts) else ''


def _at(segment: list[str], number: int) -> str:
    return segment[number] if number < len(segment) else ''


def _error(segment: list[str]) -> AckError:
    where = _at(segment, 2).split('~')[0]
    location = component(where, 1)
    if location and component(where, 3).isdigit():
        location += f'-{component(where, 3)}'
    if not location and _at(segment, 1):  # ERR-1, the 2.4 error location some registries still send
        location = component(_at(segment, 1), 1) + (f'-{component(_at(segment, 1), 3)}'
                                                     if component(_at(segment, 1), 3).isdigit() else '')
    code = component(_at(segment, 3), 1) or component(_at(segment, 1), 4).split('&')[0]
    words = _at(segment, 8) or _at(segment, 7) or component(_at(segment, 5), 2) or component(_at(segment, 3), 2)
    if words == ERROR_CODES.get(code):
        words = ''  # the code's own name is said once
    return AckError(location=location, code=code, severity=_at(segment, 4) or 'E', text=unescape(words))
