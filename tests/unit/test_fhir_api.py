"""FHIR R4 read API (services/fhir): every resource validates with fhir.resources (R4B), tokens are scoped to a
location or the state, a revoked or unknown token reads nothing, searches page with next links, every read is
audited."""
from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.immunization import Immunization
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient
from sqlmodel import col, select

from models import AuditEvent, Recipient
from models.fhir import FhirAccessToken
from services.core import audit
from services.core.db import session_scope
from services.core.errors import NotAllowed
from services.fhir import api, tokens
from tests import factories as fx


def _issue(code: str | None = None, name: str = 'NCIR sync') -> str:
    admin = fx.principal(fx.ADMIN)
    return tokens.issue_token(principal=admin, name=name,
                              location_id=fx.location_id(code) if code else None).token


def _as(token: str):  # noqa: ANN202
    return api.authenticate(f'Bearer {token}')


def _audit(action: str) -> list[AuditEvent]:
    with session_scope(read_only=True) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)
                                 .order_by(col(AuditEvent.id))).all())


def test_patient_and_immunization_are_valid_us_core_resources(demo) -> None:
    person, dose = fx.recorded_dose('Rosa', 'Reyes')
    with session_scope() as session:
        session.get(Recipient, person).sqlmodel_update({'sex': 'F', 'race': '2106-3', 'ethnicity': '2186-5',
                                                        'phone': '919-555-0100', 'city': 'Raleigh'})
    reader = _as(_issue())
    patient = Patient.model_validate(api.read_patient(principal=reader, patient_id=str(person)))
    assert patient.name[0].family == 'Reyes' and patient.gender == 'female' and str(patient.birthDate) == '1950-07-04'
    assert {e.url.rsplit('/', 1)[1] for e in patient.extension} == {'us-core-race', 'us-core-ethnicity'}
    resource = api.read_immunization(principal=reader, immunization_id=str(dose))
    shot = Immunization.model_validate(resource)
    assert shot.status == 'completed' and shot.patient.reference == f'Patient/{person}'
    assert [(c.system, c.code) for c in shot.vaccineCode.coding][0] == ('http://hl7.org/fhir/sid/cvx', '207')
    assert shot.manufacturer.identifier.system == 'http://hl7.org/fhir/sid/mvx'
    assert shot.manufacturer.identifier.value == 'MOD'
    assert shot.primarySource is True and shot.lotNumber and shot.expirationDate
    assert shot.site.coding[0].code == 'LD' and shot.route.coding[0].code == 'C28161'
    assert shot.doseQuantity.unit == 'mL' and shot.doseQuantity.value > 0
    assert shot.performer[0].actor.display and shot.location.display == 'Clinic Location1'
    assert shot.programEligibility[0].coding[0].code == 'V01'
    assert resource['occurrenceDateTime'][10] == 'T' and resource['meta']['profile'][0].endswith(
        'us-core-immunization')
    CapabilityStatement.model_validate(api.metadata())
    OperationOutcome.model_validate(api.FhirError(404, 'not-found', 'x').outcome())


def test_a_search_pages_with_next_links_and_every_read_is_audited(demo) -> None:
    person, first = fx.recorded_dose('Paged', 'Person')
    lot = fx.stocked_lot(fx.product_id('207'), doses=5)
    from datetime import UTC, datetime, timedelta

    from services.clinic import administration
    manager = fx.principal(fx.MANAGER)
    for days in (80, 50):  # two more, back-entered from paper
        administration.record_paper_administration(
            principal=manager, recipient_id=person, details=administration.DoseDetails(
                lot_id=lot, screening={}, consent=True, administered_at=datetime.now(UTC) - timedelta(days=days)))
    token = _issue('DEMO1')
    reader = _as(token)
    seen, params = [], [('patient', f'Patient/{person}'), ('_count', '2')]
    pages = 0
    while True:
        bundle = api.search_immunizations(principal=reader, params=params)
        parsed = Bundle.model_validate(bundle)
        assert parsed.type == 'searchset' and parsed.total == 3
        seen += [e.resource.id for e in parsed.entry]
        pages += 1
        following = [link.url for link in parsed.link if link.relation == 'next']
        if not following:
            break
        params = parse_qsl(urlsplit(following[0]).query)
    assert pages == 2 and len(seen) == len(set(seen)) == 3 and str(first) in seen
    everything = api.search_immunizations(principal=reader, params=[('patient', str(person))])['entry']
    assert sorted(e['resource']['primarySource'] for e in everything) == [False, False, True]  # paper: not primary
    audited = _audit('fhir_search')
    assert len(audited) == 3 and all(a.actor_email.startswith('fhir-token:') for a in audited)
    assert all(a.entity_id == str(person) for a in audited)
    api.read_patient(principal=reader, patient_id=str(person))
    assert [a.entity_id for a in _audit('fhir_read')] == [str(person)]
    with session_scope(read_only=True) as session:
        assert session.exec(select(FhirAccessToken)).one().last_used_at is not None


def test_date_and_location_narrow_a_search(demo) -> None:
    person, _ = fx.recorded_dose('Dated', 'Person')
    reader = _as(_issue())
    today = fx.local_today().isoformat()
    for date_params, expected in [([('date', today)], 1), ([('date', 'lt2000-01-01')], 0),
                                  ([('date', 'ge2000-01-01'), ('date', f'le{today}')], 1)]:
        bundle = api.search_immunizations(principal=reader, params=[('patient', str(person)), *date_params])
        assert bundle['total'] == expected, date_params
    assert api.search_immunizations(principal=reader, params=[('patient', str(person)),
                                                              ('location', 'DEMO2')])['total'] == 0
    with pytest.raises(api.FhirError) as bad:
        api.search_immunizations(principal=reader, params=[('date', 'yesterday')])
    assert bad.value.status == 400
    with pytest.raises(api.FhirError) as unsupported:
        api.search_immunizations(principal=reader, params=[('vaccine-code', '207')])
    assert unsupported.value.status == 400


def test_a_location_wide_search_is_found_under_each_person_it_showed(demo) -> None:
    first, _ = fx.recorded_dose('Listed', 'First')
    second, _ = fx.recorded_dose('Listed', 'Second')
    bundle = api.search_immunizations(principal=_as(_issue()), params=[('location', 'DEMO1')])
    assert bundle['total'] >= 2
    admin = fx.principal(fx.ADMIN)
    for person in (first, second):
        rows = audit.search(principal=admin, person=person, action='fhir_search').rows
        assert len(rows) == 1 and rows[0].actor_email.startswith('fhir-token:'), person


def test_a_location_token_reads_only_its_location(demo) -> None:
    person, dose = fx.recorded_dose('Scoped', 'Person')
    elsewhere = _as(_issue('DEMO2', name='DEMO2 EHR'))
    for read in (lambda: api.read_patient(principal=elsewhere, patient_id=str(person)),
                 lambda: api.read_immunization(principal=elsewhere, immunization_id=str(dose)),
                 lambda: api.search_immunizations(principal=elsewhere, params=[('patient', str(person))]),
                 lambda: api.search_immunizations(principal=elsewhere, params=[('location', 'DEMO1')])):
        with pytest.raises(NotAllowed):
            read()
    assert len(_audit('access_denied')) == 4
    assert api.search_immunizations(principal=elsewhere, params=[])['total'] == 0  # nothing given at DEMO2
    here = _as(_issue('DEMO1'))
    assert api.search_immunizations(principal=here, params=[('patient', str(person))])['total'] == 1
    with pytest.raises(api.FhirError) as missing:
        api.read_patient(principal=here, patient_id='999999')
    assert missing.value.status == 404


def test_unknown_and_revoked_tokens_are_refused(demo) -> None:
    admin = fx.principal(fx.ADMIN)
    issued = tokens.issue_token(principal=admin, name='Old HIE feed', location_id=None)
    assert _as(issued.token).is_admin
    with session_scope(read_only=True) as session:
        row = session.exec(select(FhirAccessToken)).one()
        assert row.token_hash != issued.token and issued.token not in row.token_hash  # only the hash is kept
    tokens.revoke_token(principal=admin, token_id=issued.id)
    for header in (f'Bearer {issued.token}', 'Bearer cvmsfhir_not-a-token', None, f'Basic {issued.token}'):
        with pytest.raises(api.FhirError) as refused:
            api.authenticate(header)
        assert refused.value.status == 401
    assert [a.detail for a in _audit('fhir_token_refused')] == ['revoked token', 'unknown token']
    assert [t.revoked_at is not None for t in tokens.list_tokens(principal=admin)] == [True]
    with pytest.raises(NotAllowed):
        tokens.issue_token(principal=fx.principal(fx.MANAGER), name='mine', location_id=None)
