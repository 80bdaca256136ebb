"""FHIR R4 resources built from our records, each validated with fhir.resources (its R4B models, which read R4
content) before it leaves: US Core Patient and Immunization for the read API, and the minimal forms the SMART
Health Cards specification asks for (no ids, no meta, no text, no display, `resource:N` references).

The codes come from services.registry.codes, the same tables the HL7 VXU messages use: one source of truth."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.immunization import Immunization
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient

from models import Location, Recipient, User
from models.clinic import Administration
from models.inventory import Lot, Product
from services.core.localtime import as_local
from services.core.settings import get_settings
from services.recipients import codes as recipient_codes
from services.registry import codes

CVX = 'http://hl7.org/fhir/sid/cvx'
NDC = 'http://hl7.org/fhir/sid/ndc'
MVX = 'http://hl7.org/fhir/sid/mvx'
NCIT = 'http://ncithesaurus-stage.nci.nih.gov'
ACT_SITE = 'http://terminology.hl7.org/CodeSystem/v3-ActSite'  # carries HL7 table 0163's LD, RD, LT, RT
ELIGIBILITY = 'http://terminology.hl7.org/CodeSystem/v2-0064'
PERFORMER_FUNCTION = 'http://terminology.hl7.org/CodeSystem/v2-0443'
UCUM = 'http://unitsofmeasure.org'
IMMUNIZATION_ORIGIN = 'http://terminology.hl7.org/CodeSystem/immunization-origin'
CDCREC = 'urn:oid:2.16.840.1.113883.6.238'
NULL_FLAVOR = 'http://terminology.hl7.org/CodeSystem/v3-NullFlavor'
US_CORE = 'http://hl7.org/fhir/us/core/StructureDefinition/'
GENDER = {'F': 'female', 'M': 'male', 'X': 'other', 'U': 'unknown'}
FHIR_JSON = 'application/fhir+json'


def identifier_system(kind: str) -> str:
    """Our ids as identifiers: urn:cvms:<assigning authority>:<kind> (the authority of PID-3 in the VXU)."""
    return f'urn:cvms:{get_settings().iis_assigning_authority.lower()}:{kind}'


# ---------------------------------------------------------------- the read API (US Core)

def patient(person: Recipient) -> dict[str, Any]:
    resource: dict[str, Any] = {
        'resourceType': 'Patient', 'id': str(person.id),
        'meta': {'profile': [US_CORE + 'us-core-patient']},
        'identifier': [{'use': 'usual', 'type': {'coding': [{
            'system': 'http://terminology.hl7.org/CodeSystem/v2-0203', 'code': 'MR',
            'display': 'Medical record number'}]},
            'system': identifier_system('recipient'), 'value': str(person.id)}],
        'name': [{'use': 'official', 'family': person.last_name, 'given': [person.first_name]}],
        'gender': GENDER.get(person.sex or 'U', 'unknown'),
        'birthDate': person.date_of_birth.isoformat(),
    }
    extensions = [e for e in (_omb('us-core-race', 'race', person.race),
                              _omb('us-core-ethnicity', 'ethnicity', person.ethnicity)) if e]
    if extensions:
        resource['extension'] = extensions
    telecom = []
    if person.phone:
        telecom.append({'system': 'phone', 'value': person.phone})
    if person.email:
        telecom.append({'system': 'email', 'value': person.email})
    if telecom:
        resource['telecom'] = telecom
    if person.address_line1 or person.city or person.zip_code:
        address = {'use': 'home', 'line': [person.address_line1] if person.address_line1 else None,
                   'city': person.city or None, 'district': person.county or None, 'state': person.state or None,
                   'postalCode': person.zip_code or None, 'country': 'US'}
        resource['address'] = [{k: v for k, v in address.items() if v}]
    return validated(Patient, resource)


def immunization(dose: Administration, product: Product, lot: Lot, location: Location,
                 administered_by: User | None) -> dict[str, Any]:
    """US Core Immunization: a voided dose reads `entered-in-error` (a registry syncing from us removes it)."""
    vaccine = [{'system': CVX, 'code': product.cvx_code, 'display': product.name}]
    if product.ndc:
        vaccine.append({'system': NDC, 'code': product.ndc, 'display': product.name})
    resource: dict[str, Any] = {
        'resourceType': 'Immunization', 'id': str(dose.id),
        'meta': {'profile': [US_CORE + 'us-core-immunization']},
        'identifier': [{'system': identifier_system('dose'), 'value': str(dose.id)}],
        'status': 'entered-in-error' if dose.voided else 'completed',
        'vaccineCode': {'coding': vaccine, 'text': product.name},
        'patient': {'reference': f'Patient/{dose.recipient_id}'},
        'occurrenceDateTime': _instant(dose.administered_at, location),
        'recorded': _instant(dose.recorded_at, location),
        'primarySource': dose.source == 'desk',  # paper and file records were written elsewhere first
        'location': {'identifier': {'system': identifier_system('location'), 'value': location.code},
                     'display': location.name},
        'lotNumber': lot.lot_number,
        'expirationDate': lot.expiration_date.isoformat(),
        'doseQuantity': {'value': dose.dose_volume_ml, 'unit': 'mL', 'system': UCUM, 'code': 'mL'},
        'protocolApplied': [{'doseNumberPositiveInt': dose.dose_number}],
    }
    if not resource['primarySource']:
        resource['reportOrigin'] = {'coding': [{'system': IMMUNIZATION_ORIGIN, 'code': 'record',
                                                'display': 'Written Record'}], 'text': codes.HISTORICAL_RECORD[1]}
    if product.mvx_code:
        resource['manufacturer'] = {'identifier': {'system': MVX, 'value': product.mvx_code},
                                    'display': product.manufacturer}
    site = codes.SITE.get(dose.site)
    if site:
        resource['site'] = {'coding': [{'system': ACT_SITE, 'code': site[0], 'display': site[1]}], 'text': dose.site}
    route = codes.ROUTE.get(dose.route)
    if route:
        resource['route'] = {'coding': [{'system': NCIT, 'code': route[0], 'display': route[1]}], 'text': dose.route}
    if administered_by is not None:
        resource['performer'] = [{
            'function': {'coding': [{'system': PERFORMER_FUNCTION, 'code': 'AP',
                                     'display': 'Administering Provider'}]},
            'actor': {'identifier': {'system': identifier_system('user'), 'value': str(administered_by.id)},
                      'display': administered_by.full_name or administered_by.email}}]
    eligibility = dose.funding_eligibility or codes.DEFAULT_FUNDING_ELIGIBILITY
    label = codes.FUNDING_ELIGIBILITY.get(eligibility, eligibility)
    resource['programEligibility'] = [{'coding': [{'system': ELIGIBILITY, 'code': eligibility, 'display': label}]}]
    return validated(Immunization, resource)


def searchset(entries: list[dict[str, Any]], *, kind: str, total: int, self_url: str,
              next_url: str | None) -> dict[str, Any]:
    base = api_base()
    links = [{'relation': 'self', 'url': self_url}]
    if next_url:
        links.append({'relation': 'next', 'url': next_url})
    return validated(Bundle, {
        'resourceType': 'Bundle', 'type': 'searchset', 'total': total, 'link': links,
        'entry': [{'fullUrl': f'{base}/{kind}/{e["id"]}', 'resource': e, 'search': {'mode': 'match'}}
                  for e in entries]})


def capability_statement(*, published: datetime) -> dict[str, Any]:
    """What this server does: read Patient, read and search Immunization, JSON only, bearer tokens."""
    return validated(CapabilityStatement, {
        'resourceType': 'CapabilityStatement', 'status': 'active', 'date': published.isoformat(),
        'kind': 'instance', 'fhirVersion': '4.0.1', 'format': ['json', FHIR_JSON],
        'software': {'name': 'CVMS'},
        'implementation': {'description': 'CVMS immunization records (read only)', 'url': api_base()},
        'rest': [{
            'mode': 'server',
            'documentation': 'Send "Authorization: Bearer <token>". A state admin issues tokens for one location or '
                             'for the whole state; a token reads only what its scope covers.',
            'security': {'service': [{'coding': [{
                'system': 'http://terminology.hl7.org/CodeSystem/restful-security-service', 'code': 'OAuth',
                'display': 'OAuth'}], 'text': 'Bearer tokens issued by the state'}]},
            'resource': [
                {'type': 'Patient', 'supportedProfile': [US_CORE + 'us-core-patient'],
                 'interaction': [{'code': 'read'}]},
                {'type': 'Immunization', 'supportedProfile': [US_CORE + 'us-core-immunization'],
                 'interaction': [{'code': 'read'}, {'code': 'search-type'}],
                 'searchParam': [
                     {'name': 'patient', 'type': 'reference', 'documentation': 'Patient/<id> or <id>'},
                     {'name': 'date', 'type': 'date',
                      'documentation': 'eq, ge, gt, le, lt with YYYY, YYYY-MM or YYYY-MM-DD (state time zone); '
                                       'may repeat'},
                     {'name': 'location', 'type': 'reference', 'documentation': 'a location code, or Location/<id>'},
                     {'name': '_count', 'type': 'number', 'documentation': 'page size, 1-200 (default 50)'}]},
            ]}],
    })


def operation_outcome(code: str, diagnostics: str) -> dict[str, Any]:
    return validated(OperationOutcome, {'resourceType': 'OperationOutcome', 'issue': [
        {'severity': 'error', 'code': code, 'diagnostics': diagnostics}]})


# ---------------------------------------------------------------- SMART Health Cards (minimal resources)

def health_card_bundle(person: Recipient, doses: list[tuple[Administration, Product, Lot, Location]]
                       ) -> dict[str, Any]:
    """The FHIR bundle of a health card: the Patient as `resource:0`, one Immunization per valid dose, with only
    what the specification's data minimization keeps (no ids, meta, text or display)."""
    entries: list[dict[str, Any]] = [{'fullUrl': 'resource:0', 'resource': validated(Patient, {
        'resourceType': 'Patient', 'name': [{'family': person.last_name, 'given': [person.first_name]}],
        'birthDate': person.date_of_birth.isoformat()})}]
    for index, (dose, product, lot, location) in enumerate(doses, start=1):
        resource: dict[str, Any] = {
            'resourceType': 'Immunization', 'status': 'completed',
            'vaccineCode': {'coding': [{'system': CVX, 'code': product.cvx_code}]},
            'patient': {'reference': 'resource:0'},
            'occurrenceDateTime': as_local(dose.administered_at, location).date().isoformat(),
            'performer': [{'actor': {'display': location.name}}],
            'lotNumber': lot.lot_number,
        }
        if product.mvx_code:
            resource['manufacturer'] = {'identifier': {'system': MVX, 'value': product.mvx_code}}
        entries.append({'fullUrl': f'resource:{index}', 'resource': validated(Immunization, resource)})
    return validated(Bundle, {'resourceType': 'Bundle', 'type': 'collection', 'entry': entries})


# ---------------------------------------------------------------- helpers

def validated(model: type, resource: dict[str, Any]) -> dict[str, Any]:
    """The resource checked against its FHIR model (a pydantic ValidationError names a wrong field at once), as the
    JSON-ready dict that was checked."""
    model.model_validate(resource)
    return resource


def api_base() -> str:
    return get_settings().base_url.rstrip('/') + '/fhir'


def _instant(at: datetime, location: Location) -> str:
    return as_local(at, location).isoformat(timespec='seconds')


def _omb(profile: str, field: str, code: str | None) -> dict[str, Any] | None:
    if not code:
        return None
    text = recipient_codes.label(field, code)
    system = NULL_FLAVOR if code == recipient_codes.UNKNOWN else CDCREC
    category = 'detailed' if code == '2131-1' else 'ombCategory'  # "Other race" is no OMB category
    return {'url': US_CORE + profile, 'extension': [
        {'url': category, 'valueCoding': {'system': system, 'code': code, 'display': text}},
        {'url': 'text', 'valueString': text}]}
