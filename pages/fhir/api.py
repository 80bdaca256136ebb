"""HTTP routes of the FHIR R4 read API (`/fhir/...`): they read the bearer token and the request, call
services.fhir.api and answer `application/fhir+json`, with an OperationOutcome for every refusal. Sync routes:
FastAPI runs them in its thread pool, off the event loop. main.build_app includes `router` in the app (each time
it builds one: a module without a NiceGUI page is not imported again for the tests' next app)."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.core.errors import NotAllowed
from services.fhir import api, health_cards
from services.fhir.resources import FHIR_JSON
from services.principal import Principal

router = APIRouter(include_in_schema=False)


@router.get('/.well-known/jwks.json')
def health_card_keys() -> Response:
    """The health cards' public keys, readable from any origin (verifier apps fetch them from web pages)."""
    body = json.dumps(health_cards.jwks(), separators=(',', ':'))
    return Response(body, media_type='application/json', headers={'Access-Control-Allow-Origin': '*'})


@router.get('/fhir/metadata')
def fhir_metadata() -> Response:
    return _json(api.metadata())


@router.get('/fhir/Patient/{patient_id}')
def fhir_patient(request: Request, patient_id: str) -> Response:
    return _answer(request, lambda p: api.read_patient(principal=p, patient_id=patient_id))


@router.get('/fhir/Immunization/{immunization_id}')
def fhir_immunization(request: Request, immunization_id: str) -> Response:
    return _answer(request, lambda p: api.read_immunization(principal=p, immunization_id=immunization_id))


@router.get('/fhir/Immunization')
def fhir_immunization_search(request: Request) -> Response:
    params = list(request.query_params.multi_items())
    return _answer(request, lambda p: api.search_immunizations(principal=p, params=params))


@router.get('/fhir/{rest:path}')
def fhir_unknown(rest: str) -> Response:
    return _json(api.FhirError(404, 'not-supported', f'/fhir/{rest} is not served here: see /fhir/metadata.')
                 .outcome(), status=404)


def _answer(request: Request, read: Callable[[Principal], dict[str, Any]]) -> Response:
    try:
        principal = api.authenticate(request.headers.get('authorization'),
                                     client_ip=request.client.host if request.client else None)
        return _json(read(principal))
    except NotAllowed:  # audited where it was refused
        return _json(api.FORBIDDEN.outcome(), status=403)
    except api.FhirError as error:
        headers = {'WWW-Authenticate': 'Bearer realm="fhir"'} if error.status == 401 else None
        return _json(error.outcome(), status=error.status, headers=headers)


def _json(resource: dict[str, Any], *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(resource, separators=(',', ':'), ensure_ascii=False)
    return Response(body, status_code=status, media_type=FHIR_JSON, headers=headers)
