"""The FHIR R4 read API's work: who a bearer token is, and the reads it may make. Routes (pages/fhir/api.py) only
translate HTTP; every rule is here. A token reads through the same row scopes as people (services.permissions),
and every read, a refused one included, leaves an audit event naming the token. A record out of the token's scope
raises the audited NotAllowed of services.permissions (403), a missing one FhirError 404."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func
from sqlmodel import Session, col, select

from models import Location, Recipient, User, utcnow
from models.clinic import Administration
from models.fhir import FhirAccessToken
from models.inventory import Lot, Product
from services.core import audit
from services.core.db import session_scope
from services.core.errors import NotFound
from services.core.localtime import state_zone
from services.fhir import resources, tokens
from services.permissions import Kind, deny, fetch, scope, works_at
from services.principal import Principal

DEFAULT_COUNT, MAX_COUNT = 50, 200
SEARCH_PARAMETERS = {'patient', 'date', 'location', '_count', '_after', '_format'}
_DATE = re.compile(r'^(eq|ne|ge|gt|le|lt|sa|eb|ap)?(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$')


@dataclass
class FhirError(Exception):
    """An answer other than 200: the HTTP status and the OperationOutcome issue's code and text."""
    status: int
    code: str
    diagnostics: str

    def outcome(self) -> dict[str, Any]:
        return resources.operation_outcome(self.code, self.diagnostics)


FORBIDDEN = FhirError(403, 'forbidden', 'This access token does not cover this record.')


def authenticate(authorization: str | None, *, client_ip: str | None = None) -> Principal:
    """The token's principal from an `Authorization: Bearer <token>` header; FhirError 401 otherwise (a refusal
    with a token that was once valid, now revoked, is audited against that token)."""
    scheme, _, token = (authorization or '').partition(' ')
    if scheme.lower() != 'bearer' or not token.strip():
        raise FhirError(401, 'login', 'Send an access token: "Authorization: Bearer <token>".')
    principal = tokens.principal_for(token.strip())
    if principal is None:
        _audit_refused_token(token.strip(), client_ip)
        raise FhirError(401, 'login', 'This access token is not valid or has been revoked.')
    return Principal(**{**principal.__dict__, 'client_ip': client_ip})


def metadata() -> dict[str, Any]:
    return resources.capability_statement(published=utcnow())


def read_patient(*, principal: Principal, patient_id: str) -> dict[str, Any]:
    number = _id(patient_id, 'Patient')
    try:
        with session_scope(read_only=True) as session:
            person = fetch(session, Recipient, number, principal=principal, action='fhir_read_patient')
            resource = resources.patient(person)
    except NotFound as error:
        raise FhirError(404, 'not-found', f'Patient/{patient_id} does not exist.') from error
    _audit_read(principal, action='fhir_read', entity_type='recipient', entity_id=number,
                detail=f'GET Patient/{number}')
    return resource


def read_immunization(*, principal: Principal, immunization_id: str) -> dict[str, Any]:
    number = _id(immunization_id, 'Immunization')
    try:
        with session_scope(read_only=True) as session:
            dose = fetch(session, Administration, number, principal=principal, action='fhir_read_immunization',
                         health_data=True)
            resource = _immunization(session, dose)
    except NotFound as error:
        raise FhirError(404, 'not-found', f'Immunization/{immunization_id} does not exist.') from error
    _audit_read(principal, action='fhir_read', entity_type='administration', entity_id=number,
                detail=f'GET Immunization/{number} (recipient {dose.recipient_id})')
    return resource


def search_immunizations(*, principal: Principal, params: list[tuple[str, str]]) -> dict[str, Any]:
    """A searchset Bundle of the doses the token may see matching `patient`, `date` (repeatable) and `location`,
    in record order, `_count` to a page; the `next` link carries the last id read (`_after`), so pages stay
    right while new doses are recorded."""
    unknown = sorted({name for name, _ in params} - SEARCH_PARAMETERS)
    if unknown:
        raise FhirError(400, 'not-supported', f'Unsupported search parameter(s): {", ".join(unknown)}. '
                                              f'Supported: patient, date, location, _count.')
    values: dict[str, list[str]] = {}
    for name, value in params:
        values.setdefault(name, []).append(value)
    count = _count(values.get('_count', [str(DEFAULT_COUNT)])[-1])
    after = _id(values['_after'][-1], '_after') if '_after' in values else 0
    query = scope(select(Administration), principal=principal, kind=Kind.ADMINISTRATION)
    patient_id, location_id = None, None
    try:
        with session_scope(read_only=True) as session:
            if 'patient' in values:
                patient_id = _reference(values['patient'][-1], 'Patient')
                fetch(session, Recipient, patient_id, principal=principal, action='fhir_search_immunization')
                query = query.where(col(Administration.recipient_id) == patient_id)
            if 'location' in values:
                location_id = _location(session, values['location'][-1])
                if not works_at(principal, location_id):
                    deny(principal, action='fhir_search_immunization', entity=f'location:{location_id}')
                query = query.where(col(Administration.location_id) == location_id)
            for text in values.get('date', []):
                query = query.where(_date_condition(text))
            total = session.exec(select(func.count()).select_from(query.subquery())).one()
            page = list(session.exec(query.where(col(Administration.id) > after)
                                     .order_by(col(Administration.id)).limit(count + 1)).all())
            more = len(page) > count
            page = page[:count]
            entries = _immunizations(session, page)
    except NotFound as error:
        raise FhirError(404, 'not-found', str(error)) from error
    kept = [(k, v) for k, v in params if k not in ('_after', '_format')]
    self_url = _search_url(kept + ([('_after', str(after))] if after else []))
    next_url = _search_url(kept + [('_after', str(page[-1].id))]) if more and page else None
    people = sorted({dose.recipient_id for dose in page})
    # a search over a location or the state shows many people: each is indexed for the audit page's person filter
    _audit_read(principal, action='fhir_search', entity_type='recipient' if patient_id else None,
                entity_id=patient_id, subjects=people,
                detail=f'GET Immunization?{urlencode(params)}: {len(page)} of {total}; people {people}')
    return resources.searchset(entries, kind='Immunization', total=total, self_url=self_url, next_url=next_url)


# ---------------------------------------------------------------- helpers

def _immunizations(session: Session, doses: list[Administration]) -> list[dict[str, Any]]:
    return [_immunization(session, dose) for dose in doses]


def _immunization(session: Session, dose: Administration) -> dict[str, Any]:
    product, lot = session.get(Product, dose.product_id), session.get(Lot, dose.lot_id)
    location = session.get(Location, dose.location_id)
    by = session.get(User, dose.administered_by_user_id) if dose.administered_by_user_id else None
    assert product is not None and lot is not None and location is not None  # foreign keys
    return resources.immunization(dose, product, lot, location, by)


def _audit_read(principal: Principal, *, action: str, entity_type: str | None, entity_id: object,
                detail: str, subjects: list[int] | None = None) -> None:
    """The read's audit event and the token's last use, in one unit of work."""
    with session_scope() as session:
        audit.record(session, action=action, actor=principal, entity_type=entity_type, entity_id=entity_id,
                     detail=detail, subjects=subjects or ())
        token_id = tokens.token_id_of(principal)
        row = session.get(FhirAccessToken, token_id) if token_id else None
        if row is not None:
            row.last_used_at = utcnow()
            session.add(row)


def _audit_refused_token(token: str, client_ip: str | None) -> None:
    with session_scope() as session:
        row = session.exec(select(FhirAccessToken)
                           .where(FhirAccessToken.token_hash == tokens.token_hash(token))).first()
        audit.record(session, action='fhir_token_refused', actor_email=f'fhir-token:{row.id}' if row else None,
                     entity_type='fhiraccesstoken' if row else None, entity_id=row.id if row else None,
                     detail='revoked token' if row else 'unknown token', client_ip=client_ip)


def _id(text: str, what: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise FhirError(404 if what in ('Patient', 'Immunization') else 400,
                        'not-found' if what in ('Patient', 'Immunization') else 'invalid',
                        f'{what} {text!r} is not an id of this server.')
    return int(text)


def _reference(text: str, kind: str) -> int:
    value = text.strip()
    if value.startswith(f'{kind}/'):
        value = value[len(kind) + 1:]
    if not value.isdigit() or len(value) > 18:
        raise FhirError(400, 'invalid', f'{kind.lower()}={text!r}: give {kind}/<id> or <id>.')
    return int(value)


def _location(session: Session, text: str) -> int:
    value = text.strip()
    if value.startswith('Location/') and value[9:].isdigit():
        found = session.get(Location, int(value[9:]))
    else:
        found = session.exec(select(Location).where(Location.code == value.upper())).first()
    if found is None:
        raise NotFound(f'No location {text!r}.')
    return found.id or 0


def _count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_COUNT:
        raise FhirError(400, 'invalid', f'_count must be a whole number from 1 to {MAX_COUNT}.')
    return int(text)


def _date_condition(text: str):  # noqa: ANN202 - a SQL condition
    """A FHIR date search on the day(s) given, in the state's time zone: eq (default), ge, gt, le, lt."""
    match = _DATE.match(text.strip())
    if not match:
        raise FhirError(400, 'invalid', f'date={text!r}: give a prefix (eq, ge, gt, le, lt) and YYYY, YYYY-MM or '
                                        f'YYYY-MM-DD.')
    prefix, year, month, day = match.group(1) or 'eq', int(match.group(2)), match.group(3), match.group(4)
    if prefix not in ('eq', 'ge', 'gt', 'le', 'lt'):
        raise FhirError(400, 'not-supported', f'date prefix {prefix!r} is not supported: use eq, ge, gt, le or lt.')
    try:
        if day:
            first = date(year, int(month), int(day))
            end = first + timedelta(days=1)
        elif month:
            first = date(year, int(month), 1)
            end = date(year + (first.month == 12), first.month % 12 + 1, 1)
        else:
            first, end = date(year, 1, 1), date(year + 1, 1, 1)
    except ValueError as error:
        raise FhirError(400, 'invalid', f'date={text!r} is not a date.') from error
    zone = state_zone()
    start_at, end_at = (datetime.combine(d, time(0), tzinfo=zone).astimezone(UTC) for d in (first, end))
    at = col(Administration.administered_at)
    return {'eq': (at >= start_at) & (at < end_at), 'ge': at >= start_at, 'gt': at >= end_at,
            'le': at < end_at, 'lt': at < start_at}[prefix]


def _search_url(params: list[tuple[str, str]]) -> str:
    return f'{resources.api_base()}/Immunization' + (f'?{urlencode(params)}' if params else '')
