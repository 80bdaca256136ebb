"""Coded demographic values: what is stored is a standard code, what people read is its label in their language.

- Sex: HL7 administrative sex (table 0001): F, M, U; X only where the state allows it (CVMS_ALLOW_SEX_X).
- Race and ethnicity: CDC Race & Ethnicity codes (CDCREC), plus the HL7 null flavor UNK ("unknown"), which the
  CDC immunization messaging guide accepts for both, for people who do not know or prefer not to say.

`to_code` reads what people type, pick or upload ("Female", "female", "F", "f", "Femenino", "2106-3"), `label`
gives the label in a language, `options` the choices a screen offers. See docs/adr/0007-recipient-module.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from services.core.i18n import LANGUAGES, translator
from services.core.i18n import marked as _
from services.core.settings import get_settings
from services.recipients.identity import fold

SEX_X = 'X'
UNKNOWN_SEX = 'U'
UNKNOWN = 'UNK'  # HL7 null flavor, for race and ethnicity


@dataclass(frozen=True)
class Coded:
    code: str
    label: str  # the English label, also the catalog's message id
    aliases: tuple[str, ...] = ()  # other spellings people use (and the values stored before the codes)


SEX = (
    Coded('F', _('Female')),
    Coded('M', _('Male')),
    Coded(SEX_X, _('Non-binary (X)'), ('non-binary', 'nonbinary')),
    Coded(UNKNOWN_SEX, _('Unknown or prefer not to say'), ('unknown', 'prefer not to say')),
)
RACE = (
    Coded('1002-5', _('American Indian or Alaska Native'), ('american_indian',)),
    Coded('2028-9', _('Asian'), ('asian',)),
    Coded('2054-5', _('Black or African American'), ('black',)),
    Coded('2076-8', _('Native Hawaiian or Other Pacific Islander'), ('pacific_islander',)),
    Coded('2106-3', _('White'), ('white',)),
    Coded('2131-1', _('Other race'), ('other',)),
    Coded(UNKNOWN, _('Unknown or prefer not to say'), ('unknown', 'prefer not to say')),
)
ETHNICITY = (
    Coded('2135-2', _('Hispanic or Latino'), ('hispanic',)),
    Coded('2186-5', _('Not Hispanic or Latino'), ('not_hispanic',)),
    Coded(UNKNOWN, _('Unknown or prefer not to say'), ('unknown', 'prefer not to say')),
)
CODED_FIELDS = {'sex': SEX, 'race': RACE, 'ethnicity': ETHNICITY}


class UnknownValue(ValueError):
    """The value is none of the field's codes, labels or known spellings (or X where the state does not allow it)."""


def to_code(field: str, value: str | None) -> str | None:
    """The code of a value as typed, picked or uploaded; None when blank."""
    text = fold(value or '')
    if not text:
        return None
    code = _spellings(field).get(text)
    if code is None or (code == SEX_X and field == 'sex' and not sex_x_allowed()):
        raise UnknownValue(value)
    return code


def label(field: str, code: str | None, lang: str | None = None) -> str:
    """The label of a stored code in the reader's language ('' for none; an unknown value is shown as it is)."""
    if not code:
        return ''
    for item in CODED_FIELDS[field]:
        if item.code == code:
            return translator(lang)(item.label)
    return code


def options(field: str, lang: str | None = None) -> dict[str, str]:
    """code -> label, in the order screens and paper forms list them."""
    t = translator(lang)
    return {item.code: t(item.label) for item in CODED_FIELDS[field]
            if not (field == 'sex' and item.code == SEX_X and not sex_x_allowed())}


def sex_x_allowed() -> bool:
    return get_settings().allow_sex_x


@cache
def _spellings(field: str) -> dict[str, str]:
    """Folded spelling -> code: the code itself, its label in every language, its aliases (read-only once built)."""
    spellings: dict[str, str] = {}
    for item in CODED_FIELDS[field]:
        labels = [translator(lang)(item.label) for lang in LANGUAGES]
        for text in (item.code, item.label, *labels, *item.aliases):
            spellings.setdefault(fold(text), item.code)
    return spellings


# Where recipients live: the USPS codes of the states, DC, the territories and the military "states".
US_STATES = frozenset((
    'AL', 'AK', 'AZ', 'AR', 'CA', 'CO', 'CT', 'DE', 'DC', 'FL', 'GA', 'HI', 'ID', 'IL', 'IN', 'IA', 'KS', 'KY', 'LA',
    'ME', 'MD', 'MA', 'MI', 'MN', 'MS', 'MO', 'MT', 'NE', 'NV', 'NH', 'NJ', 'NM', 'NY', 'NC', 'ND', 'OH', 'OK', 'OR',
    'PA', 'RI', 'SC', 'SD', 'TN', 'TX', 'UT', 'VT', 'VA', 'WA', 'WV', 'WI', 'WY', 'AS', 'GU', 'MP', 'PR', 'VI', 'AA',
    'AE', 'AP',
))
HOME_STATE = 'NC'
NC_COUNTIES = (
    'Alamance', 'Alexander', 'Alleghany', 'Anson', 'Ashe', 'Avery', 'Beaufort', 'Bertie', 'Bladen', 'Brunswick',
    'Buncombe', 'Burke', 'Cabarrus', 'Caldwell', 'Camden', 'Carteret', 'Caswell', 'Catawba', 'Chatham', 'Cherokee',
    'Chowan', 'Clay', 'Cleveland', 'Columbus', 'Craven', 'Cumberland', 'Currituck', 'Dare', 'Davidson', 'Davie',
    'Duplin', 'Durham', 'Edgecombe', 'Forsyth', 'Franklin', 'Gaston', 'Gates', 'Graham', 'Granville', 'Greene',
    'Guilford', 'Halifax', 'Harnett', 'Haywood', 'Henderson', 'Hertford', 'Hoke', 'Hyde', 'Iredell', 'Jackson',
    'Johnston', 'Jones', 'Lee', 'Lenoir', 'Lincoln', 'Macon', 'Madison', 'Martin', 'McDowell', 'Mecklenburg',
    'Mitchell', 'Montgomery', 'Moore', 'Nash', 'New Hanover', 'Northampton', 'Onslow', 'Orange', 'Pamlico',
    'Pasquotank', 'Pender', 'Perquimans', 'Person', 'Pitt', 'Polk', 'Randolph', 'Richmond', 'Robeson', 'Rockingham',
    'Rowan', 'Rutherford', 'Sampson', 'Scotland', 'Stanly', 'Stokes', 'Surry', 'Swain', 'Transylvania', 'Tyrrell',
    'Union', 'Vance', 'Wake', 'Warren', 'Washington', 'Watauga', 'Wayne', 'Wilkes', 'Wilson', 'Yadkin', 'Yancey',
)
