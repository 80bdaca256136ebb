"""The field rules of a recipient, once: every way people come in calls them (Bulk Registration row by row, the
desk's point-of-care registration, the portal's registration, sign-up and household, paper back-entry), so all
accept the same values and refuse the others with the same message.

Where the entry paths used to disagree, the state's Recipient Bulk Upload User Guide decides (trained users know
it), else the stricter sensible rule (docs/adr/0007-recipient-module.md). A rule returns a `Problem` (or None);
`Problem.text(lang)` words it in the reader's language. Messages start with the guide's own wording
("FirstName: invalid characters: ...") and then say what to fix."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import DOT_ATOM_TEXT_INTL
from email_validator.syntax import validate_email_local_part

from services.core.csv_safe import FORMULA_STARTS
from services.core.i18n import marked as _
from services.core.i18n import translator
from services.core.localtime import local_today
from services.recipients import codes
from services.recipients.identity import identity_key

NAME_MAX = 80
CITY_MAX = 100
ADDRESS_MAX = 200
IDENTITY_KEY_MAX = 400  # the stored identity key's column
OLDEST_YEARS = 120  # a date of birth further back is a typing mistake

# The names in messages: the guide's error file says FirstName, LastName, Date of birth, Email.
FIELD_LABELS = {
    'first_name': _('FirstName'), 'last_name': _('LastName'), 'date_of_birth': _('Date of birth'),
    'email': _('Email'), 'phone': _('Phone'), 'address_line1': _('Street address'), 'city': _('City'),
    'county': _('County'), 'state': _('State'), 'zip_code': _('ZIP code'), 'sex': _('Sex'), 'race': _('Race'),
    'ethnicity': _('Ethnicity'), 'preferred_language': _('Preferred language'),
}
RECIPIENT_FIELDS = tuple(FIELD_LABELS)

MISSING = _('Required fields are missing: [{fields}]')
TOO_LONG = _('{field}: too long (at most {maximum} characters): {value}')
INVALID_CHARACTERS = _('{field}: invalid characters: {value} (use only letters, digits, spaces, hyphens, apostrophes '
                       'and periods)')
NO_LETTER = _('{field}: invalid characters: {value} (a name needs at least one letter)')
CONTROL_CHARACTERS = _('{field}: invalid characters: {value} (remove tabs, line breaks and other control characters)')
INVALID_DATE_OF_BIRTH = _('{field}: invalid {field}: {value} (enter it as MM/DD/YYYY)')
FUTURE_DATE_OF_BIRTH = _('{field}: invalid {field}: {value} (it is in the future)')
OLD_DATE_OF_BIRTH = _('{field}: invalid {field}: {value} (more than {maximum} years ago)')
INVALID_EMAIL = _('{field}: invalid email address: {value} (enter an address like name@example.org)')
INVALID_PHONE = _('{field}: invalid phone number: {value} (enter a 10-digit phone number, like 919-555-0100)')
INVALID_ZIP = _('{field}: invalid ZIP code: {value} (enter 5 digits, or ZIP+4 like 27603-1234)')
INVALID_STATE = _('{field}: invalid state: {value} (enter the 2-letter code, like NC)')
NOT_A_COUNTY = _('{field}: not a North Carolina county: {value} (choose one of the 100 counties, like Wake)')
INVALID_CODE = _('{field}: invalid value: {value} (choose one of: {choices})')
DUPLICATE = _('Duplicate recipient: a recipient with this first name, last name and date of birth is already '
              'registered (find that record instead of registering the person again)')


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with one field (or, for MISSING, with several), as a message id and its values."""
    field: str
    message: str
    value: str = ''
    maximum: int = 0
    fields: tuple[str, ...] = ()  # the missing ones

    def text(self, lang: str | None = None) -> str:
        t = translator(lang)
        choices = ', '.join(codes.options(self.field, lang).values()) if self.field in codes.CODED_FIELDS else ''
        return t(self.message).format(field=t(FIELD_LABELS[self.field]) if self.field in FIELD_LABELS else '',
                                      value=self.value, maximum=self.maximum, choices=choices,
                                      fields=', '.join(t(FIELD_LABELS[name]) for name in self.fields))


def problems_text(problems: Iterable[Problem], lang: str | None = None) -> str:
    """Several problems as one message, as a Bulk Registration error cell joins them."""
    return '; '.join(problem.text(lang) for problem in problems)


DUPLICATE_PROBLEM = Problem('identity', DUPLICATE)


@dataclass
class Checked:
    """One recipient's values after the rules: cleaned (codes, a date, trimmed text; None for blank) and the
    problems, in the order of the form."""
    values: dict[str, object]
    problems: list[Problem]


def check_recipient(values: Mapping[str, object], *, required: Iterable[str],
                    today: date | None = None) -> Checked:
    """Every rule for the fields given (a missing key is a blank field), for one record typed on a screen."""
    text = {name: clean_text(values.get(name)) for name in RECIPIENT_FIELDS if name != 'date_of_birth'}
    born_given = values.get('date_of_birth')
    born_text = born_given if isinstance(born_given, date) else clean_text(born_given)
    required = set(required)
    missing = [name for name in RECIPIENT_FIELDS if name in required
               and not (born_text if name == 'date_of_birth' else text[name])]
    problems = [missing_problem(missing)] if missing else []
    clean: dict[str, object] = {name: value or None for name, value in text.items()}
    for name in ('first_name', 'last_name'):
        if text[name] and (problem := name_problem(name, text[name])):
            problems.append(problem)
    clean['date_of_birth'] = None
    if born_text:
        clean['date_of_birth'], problem = parse_date_of_birth(born_text, today)
        if problem:
            problems.append(problem)
    if text['email']:
        clean['email'] = text['email'].lower()
        if problem := email_address_problem(text['email']):
            problems.append(problem)
    state = text['state'].upper()
    clean['state'] = state or None
    clean['county'] = county_name(text['county'], state) if text['county'] else None
    problems += [problem for problem in (
        phone_problem(text['phone']), address_line_problem(text['address_line1']), city_problem(text['city']),
        state_problem(state), county_problem(text['county'], state), zip_code_problem(text['zip_code'])) if problem]
    for name in codes.CODED_FIELDS:
        clean[name], problem = coded_value(name, text[name])
        if problem:
            problems.append(problem)
    if not problems and text['first_name'] and text['last_name'] and isinstance(clean['date_of_birth'], date):
        key = identity_key(text['first_name'], text['last_name'], clean['date_of_birth'])
        if problem := identity_key_problem(text['first_name'], key):
            problems.append(problem)
    return Checked(clean, problems)


def today() -> date:
    """The day birth dates are checked against, for every entry path: the state's calendar day."""
    return local_today()


_today = today  # for the rules whose `today` argument hides this function


# ---------------------------------------------------------------- one rule per field


_SPACES = re.compile(' {2,}')


def clean_text(value: object) -> str:
    """A single-line field as stored: trimmed, runs of spaces as one (a tab stays, for the rules to refuse)."""
    if value is None:
        return ''
    text = str(value).strip()
    return _SPACES.sub(' ', text) if '  ' in text else text


def missing_problem(fields: Iterable[str]) -> Problem:
    return Problem('required', MISSING, fields=tuple(fields))


_NAME_PUNCTUATION = frozenset(" '’.-")
_ASCII_NAME = re.compile(r"(?=[^A-Za-z]*[A-Za-z])[A-Za-z0-9 '’.\-]+\Z")


def name_problem(field: str, value: str) -> Problem | None:
    """A first or last name, trimmed (a blank one is the required rule's). The guide refuses special characters
    and loads names with digits ("Ashley1"): letters of any script with their accents, digits, spaces,
    apostrophes, hyphens and periods, with at least one letter."""
    if len(value) > NAME_MAX:
        return Problem(field, TOO_LONG, value, NAME_MAX)
    if not value or _ASCII_NAME.match(value):
        return None
    return _letters_problem(field, value)


def identity_key_problem(first_name: str, key: str) -> Problem | None:
    """Names that fit their columns but whose identity key (services.recipients.identity) would not: rare
    characters expand when normalized."""
    return Problem('first_name', TOO_LONG, first_name, NAME_MAX) if len(key) > IDENTITY_KEY_MAX else None


_DATE = re.compile(r'([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})\Z')


def parse_date_of_birth(value: str | date, today: date | None = None) -> tuple[date | None, Problem | None]:
    """(date, None) or (None, problem). Text must be MM/DD/YYYY, the only format the guide accepts; a date comes
    from a picker or a spreadsheet cell. Not in the future, not more than OLDEST_YEARS years ago."""
    day = today or _today()
    if isinstance(value, date):
        problem = _range_problem(value, f'{value:%m/%d/%Y}', day)
        return (None, problem) if problem else (value, None)
    return _parse_date_of_birth(value.strip(), day)


def email_address_problem(value: str) -> Problem | None:
    return Problem('email', INVALID_EMAIL, value) if value and email_problem(value) is not None else None


_PHONE = re.compile(r'[0-9 ()+.\-]+\Z')


def phone_problem(value: str) -> Problem | None:
    """A US phone number (NANP): 10 digits, or 11 with the leading 1; area code and exchange start with 2-9."""
    if not value:
        return None
    digits = ''.join(ch for ch in value if '0' <= ch <= '9')
    if len(digits) == 11 and digits[0] == '1':
        digits = digits[1:]
    if _PHONE.match(value) and len(digits) == 10 and digits[0] not in '01' and digits[3] not in '01':
        return None
    return Problem('phone', INVALID_PHONE, value)


_ZIP = re.compile(r'[0-9]{5}(-[0-9]{4})?\Z')


def zip_code_problem(value: str) -> Problem | None:
    return None if not value or _ZIP.match(value) else Problem('zip_code', INVALID_ZIP, value)


def address_line_problem(value: str) -> Problem | None:
    if len(value) > ADDRESS_MAX:
        return Problem('address_line1', TOO_LONG, value, ADDRESS_MAX)
    if any(unicodedata.category(ch)[0] == 'C' for ch in value):
        return Problem('address_line1', CONTROL_CHARACTERS, value)
    return None


def city_problem(value: str) -> Problem | None:
    if len(value) > CITY_MAX:
        return Problem('city', TOO_LONG, value, CITY_MAX)
    return _letters_problem('city', value) if value else None


def state_problem(value: str) -> Problem | None:
    """The USPS code, upper case."""
    return None if not value or value in codes.US_STATES else Problem('state', INVALID_STATE, value)


def county_name(value: str, state: str) -> str:
    """The county as stored: in North Carolina (or no state given), its official spelling ("wake county" -> Wake)."""
    if state in ('', codes.HOME_STATE):
        return _nc_counties().get(_county_key(value), value)
    return value


def county_problem(value: str, state: str) -> Problem | None:
    if not value:
        return None
    if state in ('', codes.HOME_STATE):
        return None if _county_key(value) in _nc_counties() else Problem('county', NOT_A_COUNTY, value)
    if len(value) > CITY_MAX:
        return Problem('county', TOO_LONG, value, CITY_MAX)
    return _letters_problem('county', value)


def coded_value(field: str, value: str) -> tuple[str | None, Problem | None]:
    """(code, None) for sex, race or ethnicity as typed or picked; (None, problem) for a value none of them."""
    try:
        return codes.to_code(field, value), None
    except codes.UnknownValue:
        return None, Problem(field, INVALID_CODE, value)


# ---------------------------------------------------------------- helpers


def _letters_problem(field: str, value: str) -> Problem | None:
    letter = False
    for ch in value:
        if ch in _NAME_PUNCTUATION:
            continue
        category = unicodedata.category(ch)
        if category[0] == 'L':
            letter = True
        elif category[0] != 'M' and category != 'Nd':
            return Problem(field, INVALID_CHARACTERS, value)
    return None if letter else Problem(field, NO_LETTER, value)


@lru_cache(maxsize=65536)
def _parse_date_of_birth(text: str, day: date) -> tuple[date | None, Problem | None]:
    """Cached: a file of 100,000 people holds a few tens of thousands of distinct birth dates."""
    match = _DATE.match(text)
    if match:
        month, day_of_month, year = (int(g) for g in match.groups())
        try:
            born = date(year, month, day_of_month)
        except ValueError:
            pass
        else:
            problem = _range_problem(born, text, day)
            return (None, problem) if problem else (born, None)
    return None, Problem('date_of_birth', INVALID_DATE_OF_BIRTH, text)


def _range_problem(born: date, text: str, day: date) -> Problem | None:
    if born > day:
        return Problem('date_of_birth', FUTURE_DATE_OF_BIRTH, text)
    try:
        oldest = day.replace(year=day.year - OLDEST_YEARS)
    except ValueError:  # 29 February
        oldest = day.replace(year=day.year - OLDEST_YEARS, day=28)
    if born < oldest:
        return Problem('date_of_birth', OLD_DATE_OF_BIRTH, text, OLDEST_YEARS)
    return None


def _county_key(value: str) -> str:
    key = ' '.join(value.split()).casefold()
    return key.removesuffix(' county')


@lru_cache(maxsize=1)
def _nc_counties() -> dict[str, str]:
    return {county.casefold(): county for county in codes.NC_COUNTIES}


# ---------------------------------------------------------------- email syntax

# RFC 5322 dot-atom in ASCII: what nearly every real address's local part is. email-validator accepts exactly
# these (and more), so for them only the domain needs its full check, and domains repeat across a file.
_ASCII_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z")
_LOCAL_MAX = 64
_EMAIL_MAX = 254


@lru_cache(maxsize=65536)
def _domain_check(domain: str) -> tuple[str | None, int, int]:
    """(problem, length of the ASCII form, UTF-8 length of the normalized form) of a domain; cached because
    everyone at one employer shares it."""
    try:
        result = validate_email(f'a@{domain}', check_deliverability=False)
    except EmailNotValidError as error:
        return str(error), 0, 0
    return None, len(result.ascii_domain or result.domain), len(result.domain.encode())


def email_problem(email: str) -> str | None:
    """None for a syntactically valid address (international domains allowed, no network look-up).

    The fast paths give the same answer as email-validator (the one source of truth): ASCII dot-atom local parts,
    and unquoted international dot-atom local parts already in NFC, checked by email-validator's own local-part
    function with the address lengths it checks. Anything else (quoted, not normalized, errors, odd lengths) gets
    email-validator's full check, which also words the problem."""
    local, sep, domain = email.rpartition('@')
    if not sep or not local or not domain:
        return 'an email address needs one @ with a name before it and a domain after it'
    if email.startswith(FORMULA_STARTS):  # valid by the RFC, but a spreadsheet opening a list runs it as a formula
        return f'an email address cannot start with {email[0]!r} (a spreadsheet would read it as a formula)'
    problem, ascii_domain_length, domain_length = _domain_check(domain)
    if problem is not None:
        return problem
    if (len(local) <= _LOCAL_MAX and len(local) + 1 + ascii_domain_length <= _EMAIL_MAX
            and _ASCII_DOT_ATOM.match(local)):
        return None
    if DOT_ATOM_TEXT_INTL.match(local) and unicodedata.is_normalized('NFC', local) and _intl_local_ok(local):
        local_length = len(local.encode())
        if (len(email.encode()) <= _EMAIL_MAX and local_length + 1 + domain_length <= _EMAIL_MAX
                and local_length + 1 + ascii_domain_length <= _EMAIL_MAX):
            return None
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as error:
        return str(error)
    return None


def _intl_local_ok(local: str) -> bool:
    try:
        validate_email_local_part(local)
    except EmailNotValidError:
        return False
    return True
