"""The Provider Agreement's questions, attestations and field rules: one definition the form, the review page,
the state's review, the PDF and the submission check all read (modelled on the CDC COVID-19 Vaccination Program
Provider Agreement and its Supplemental COVID-19 Vaccine Redistribution Agreement).

A draft is a plain dict: {'organization': {...}, 'cmo': {...}, 'ceo': {...}, 'locations': [{..., 'storage_units':
[{'type', 'capacity'}]}], 'redistribution': bool}. Problems are keyed by the field's path ('cmo.email',
'locations.0.hours', 'signature.ceo'), so a page can put each message beside its field."""
from __future__ import annotations

from typing import Any

from models.inventory import Storage
from services.core.localtime import zone_problem
from services.recipients.codes import NC_COUNTIES
from services.recipients.fields import email_problem, phone_problem, zip_code_problem

STEPS = ['Section A: Organization', 'Signatures', 'Section B: Locations', 'Redistribution', 'Review and submit']

ORGANIZATION_TYPES = {
    'hospital': 'Hospital or health system', 'pharmacy': 'Pharmacy', 'clinic': 'Medical practice or clinic',
    'lhd': 'Local health department', 'fqhc': 'Federally qualified health center',
    'long_term_care': 'Long-term care facility', 'urgent_care': 'Urgent care', 'other': 'Other',
}
ORGANIZATION_FIELDS = {
    'legal_name': 'Legal name of the organization', 'org_type': 'Type of organization',
    'address_line1': 'Street address', 'city': 'City', 'county': 'County', 'zip_code': 'ZIP code', 'phone': 'Phone',
}
OFFICERS = {'cmo': 'Chief medical officer (or equivalent)', 'ceo': 'Chief executive officer (or chief fiduciary)'}
OFFICER_FIELDS = {'name': 'Name', 'title': 'License number or title', 'email': 'Email', 'phone': 'Phone'}
LOCATION_FIELDS = {
    'name': 'Location name', 'address_line1': 'Street address', 'city': 'City', 'county': 'County',
    'zip_code': 'ZIP code', 'time_zone': 'Time zone', 'hours': 'Hours of operation',
    'primary_name': 'Primary vaccine coordinator', 'primary_email': 'Primary coordinator email',
    'primary_phone': 'Primary coordinator phone', 'backup_name': 'Backup vaccine coordinator',
    'backup_email': 'Backup coordinator email', 'backup_phone': 'Backup coordinator phone',
    'population': 'Population served', 'people_per_week': 'Expected people vaccinated per week',
}
TIME_ZONES = {'': "The state's time zone", 'America/New_York': 'Eastern (America/New_York)',
              'America/Chicago': 'Central (America/Chicago)', 'America/Denver': 'Mountain (America/Denver)',
              'America/Phoenix': 'Arizona (America/Phoenix)', 'America/Los_Angeles': 'Pacific (America/Los_Angeles)'}
POPULATIONS = {
    'general': 'General public', 'health_workers': 'Health care workers', 'long_term_care': 'Long-term care residents',
    'older_adults': 'Adults 65 and older', 'essential_workers': 'Frontline essential workers',
    'underserved': 'Medically underserved communities', 'students': 'Students and staff of schools',
}
STORAGE_UNIT_TYPES = {'refrigerator': 'Refrigerator (2 to 8 °C)', 'freezer': 'Freezer (-25 to -15 °C)',
                      'ultra_cold': 'Ultra-cold freezer (-90 to -60 °C)'}
# What each kind of unit lets a location store: the location's storage capabilities, which allocation checks.
STORAGE_OF_UNIT = {'refrigerator': Storage.REFRIGERATED, 'freezer': Storage.FROZEN, 'ultra_cold': Storage.ULTRA_COLD}

ATTESTATIONS = {
    'administer_per_acip': 'Administer COVID-19 vaccine in accordance with all program requirements and the '
                           'recommendations of the Advisory Committee on Immunization Practices (ACIP).',
    'record_and_report': "Record each administration in the recipient's record and report it to the state within "
                         '24 hours of administration.',
    'no_charge': 'Not sell or seek reimbursement for vaccine or supplies received at no cost, and not deny anyone '
                 'vaccination because they cannot pay an administration fee.',
    'eua_fact_sheet': 'Give every recipient the approved Emergency Use Authorization fact sheet (or vaccine '
                      'information statement) before vaccination.',
    'storage_handling': 'Store and handle vaccine under proper conditions, keeping the cold chain and temperature '
                        'records.',
    'report_inventory': 'Report doses on hand every day, and report wasted, spoiled and expired doses.',
    'adverse_events': 'Report moderate and severe adverse events following vaccination to VAERS.',
    'keep_records': 'Keep all records of the program for at least 3 years and make them available on request.',
}
REDISTRIBUTION_ATTESTATIONS = {
    'cold_chain_transport': 'Keep the cold chain during every move between our locations, with a calibrated '
                            'temperature monitoring device.',
    'transfers_recorded': 'Record every transfer in the Vaccine Management System when it happens.',
    'own_locations_only': 'Redistribute vaccine only between locations of this organization enrolled in the program.',
}
SIGNATURE_PARTS = {'cmo': 'Chief medical officer', 'ceo': 'Chief executive officer',
                   'redistribution': 'Supplemental Redistribution Agreement (signed by the chief executive officer)'}
MAX_LOCATIONS = 50
MAX_UNITS = 20


def empty_location() -> dict[str, Any]:
    location: dict[str, Any] = {name: '' for name in LOCATION_FIELDS}
    location['storage_units'] = [{'type': 'refrigerator', 'capacity': ''}]
    return location


def empty_draft() -> dict[str, Any]:
    return {'organization': {name: '' for name in ORGANIZATION_FIELDS},
            'cmo': {name: '' for name in OFFICER_FIELDS}, 'ceo': {name: '' for name in OFFICER_FIELDS},
            'locations': [empty_location()], 'redistribution': False}


def normalized(draft: dict[str, Any]) -> dict[str, Any]:
    """Only the agreement's fields, as trimmed strings (capacities and counts kept as typed: checked later)."""
    clean = empty_draft()
    for section, names in (('organization', ORGANIZATION_FIELDS), ('cmo', OFFICER_FIELDS), ('ceo', OFFICER_FIELDS)):
        given = draft.get(section) or {}
        clean[section] = {name: _text(given.get(name)) for name in names}
    locations = []
    for given in (draft.get('locations') or [])[:MAX_LOCATIONS]:
        location = {name: _text(given.get(name)) for name in LOCATION_FIELDS}
        location['storage_units'] = [{'type': _text(unit.get('type')), 'capacity': _text(unit.get('capacity'))}
                                     for unit in (given.get('storage_units') or [])[:MAX_UNITS]]
        locations.append(location)
    clean['locations'] = locations
    clean['redistribution'] = bool(draft.get('redistribution'))
    return clean


def section_problems(draft: dict[str, Any], step: int) -> dict[str, str]:
    """The problems of one step of the form (0 organization, 2 locations), by field path."""
    if step == 0:
        return organization_problems(draft)
    if step == 2:
        return location_problems(draft)
    return {}


def organization_problems(draft: dict[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    organization = draft.get('organization') or {}
    for name, label in ORGANIZATION_FIELDS.items():
        _check(problems, f'organization.{name}', name, label, organization.get(name, ''))
    for officer in OFFICERS:
        values = draft.get(officer) or {}
        for name, label in OFFICER_FIELDS.items():
            _check(problems, f'{officer}.{name}', name, label, values.get(name, ''))
    return problems


def location_problems(draft: dict[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    locations = draft.get('locations') or []
    if not locations:
        problems['locations'] = 'Add at least one vaccination location.'
    primary_emails: dict[str, int] = {}
    for index, location in enumerate(locations):
        for name, label in LOCATION_FIELDS.items():
            _check(problems, f'locations.{index}.{name}', name, label, location.get(name, ''))
        email = (location.get('primary_email') or '').strip().lower()
        if email and email in primary_emails:
            problems[f'locations.{index}.primary_email'] = (
                f'Location {primary_emails[email] + 1} has the same primary coordinator: each location needs its own '
                '(the primary coordinator becomes its location manager).')
        primary_emails.setdefault(email, index)
        units = location.get('storage_units') or []
        if not units:
            problems[f'locations.{index}.storage_units'] = 'Add at least one storage unit.'
        for number, unit in enumerate(units):
            if unit.get('type') not in STORAGE_UNIT_TYPES:
                problems[f'locations.{index}.storage_units.{number}.type'] = 'Choose the type of storage unit.'
            if (capacity := _whole_number(unit.get('capacity'))) is None or capacity < 1:
                problems[f'locations.{index}.storage_units.{number}.capacity'] = \
                    'Enter the capacity in doses as a whole number, 1 or more.'
    return problems


def storage_capabilities(location: dict[str, Any]) -> str:
    """The location's storage capabilities (as Location.storage_capabilities) from its storage units."""
    held = {STORAGE_OF_UNIT[unit['type']].value for unit in location.get('storage_units') or []
            if unit.get('type') in STORAGE_OF_UNIT}
    return ','.join(sorted(held))


def capacity(unit: dict[str, Any]) -> int:
    return _whole_number(unit.get('capacity')) or 0


def _check(problems: dict[str, str], path: str, name: str, label: str, value: str) -> None:
    value = (value or '').strip()
    if not value:
        if name != 'time_zone':  # '' follows the state's time zone
            problems[path] = f'Enter {label.lower()}.' if name not in ('org_type', 'county', 'population') \
                else f'Choose {label.lower()}.'
        return
    if len(value) > 200:
        problems[path] = f'{label}: at most 200 characters.'
    elif name.endswith('email') and email_problem(value) is not None:
        problems[path] = f'{label}: enter an address like name@example.org.'
    elif name.endswith('phone') and phone_problem(value) is not None:
        problems[path] = f'{label}: enter a 10-digit phone number, like 919-555-0100.'
    elif name == 'zip_code' and zip_code_problem(value) is not None:
        problems[path] = 'ZIP code: enter 5 digits, or ZIP+4 like 27603-1234.'
    elif name == 'county' and value not in NC_COUNTIES:
        problems[path] = 'Choose one of the 100 North Carolina counties.'
    elif name == 'org_type' and value not in ORGANIZATION_TYPES:
        problems[path] = 'Choose the type of organization.'
    elif name == 'population' and value not in POPULATIONS:
        problems[path] = 'Choose the population served.'
    elif name == 'time_zone' and zone_problem(value) is not None:
        problems[path] = f'Time zone: {zone_problem(value)}'
    elif name == 'people_per_week' and ((number := _whole_number(value)) is None or number < 1):
        problems[path] = 'Enter the expected number of people per week as a whole number, 1 or more.'


def _whole_number(value: object) -> int | None:
    text = str(value if value is not None else '').strip().replace(',', '')
    return int(text) if text.isdigit() and len(text) < 10 else None


def _text(value: object) -> str:
    return str(value if value is not None else '').strip()[:500]
