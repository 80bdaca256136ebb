"""The FHIR API over HTTP (application/fhir+json, OperationOutcome on refusals) and the state admin's token screen:
a token is shown once, reads, and stops reading when revoked."""
from __future__ import annotations

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from nicegui.testing import User

from tests import factories as fx


async def test_a_token_issued_on_the_screen_reads_over_http_until_revoked(demo, user: User) -> None:
    person, dose = fx.recorded_dose('Http', 'Reader')
    http = user.http_client
    metadata = await http.get('/fhir/metadata')
    assert metadata.status_code == 200 and metadata.headers['content-type'].startswith('application/fhir+json')
    assert metadata.json()['resourceType'] == 'CapabilityStatement'

    anonymous = await http.get(f'/fhir/Patient/{person}')
    assert anonymous.status_code == 401 and anonymous.headers['www-authenticate'].startswith('Bearer')
    OperationOutcome.model_validate(anonymous.json())

    await fx.log_in(user, fx.ADMIN)
    await user.open('/admin/fhir-tokens')
    await user.should_see('No token has been issued yet.')
    user.find(marker='token-issue').click()
    await user.should_see('Enter who will use this token.')
    fx.set_value(user, 'token-name', 'NCIR nightly sync')
    user.find(marker='token-issue').click()
    await user.should_see('Copy this token now')
    token = user.find(marker='token-value').elements.pop().value
    await user.should_see(marker='tokens-table')
    rows = user.find(marker='tokens-table').elements.pop().rows
    assert [(r['name'], r['scope'], r['status']) for r in rows] == [('NCIR nightly sync', 'Whole state', 'Active')]
    assert token.startswith(rows[0]['hint'].rstrip('…'))

    auth = {'Authorization': f'Bearer {token}'}
    patient = await http.get(f'/fhir/Patient/{person}', headers=auth)
    assert patient.status_code == 200 and patient.json()['name'][0]['family'] == 'Reader'
    assert patient.headers['content-type'].startswith('application/fhir+json')
    search = await http.get('/fhir/Immunization', params={'patient': f'Patient/{person}'}, headers=auth)
    assert [e.resource.id for e in Bundle.model_validate(search.json()).entry] == [str(dose)]
    missing = await http.get('/fhir/Patient/99999999', headers=auth)
    assert missing.status_code == 404 and missing.json()['issue'][0]['code'] == 'not-found'
    unknown = await http.get('/fhir/Observation', headers=auth)
    assert unknown.status_code == 404 and unknown.json()['resourceType'] == 'OperationOutcome'

    fx.set_value(user, 'token-revoke-choice', rows[0]['id'])
    user.find(marker='token-revoke').click()
    await user.should_see('Token revoked')
    revoked = await http.get(f'/fhir/Patient/{person}', headers=auth)
    assert revoked.status_code == 401 and 'revoked' in revoked.json()['issue'][0]['diagnostics']
    assert user.find(marker='tokens-table').elements.pop().rows[0]['status'].startswith('Revoked')
    await user.should_not_see(marker='token-revoke-choice')  # nothing left to revoke
