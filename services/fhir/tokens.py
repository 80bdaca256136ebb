"""Bearer tokens of the FHIR read API. A state admin issues one for a location or for the whole state, sees it once,
and revokes it when the system using it no longer should read. Only the token's SHA-256 is stored: the token is 256
random bits, so a plain hash cannot be reversed by guessing and a look-up by hash needs no slow password hash."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from models import Location, Role, User, utcnow
from models.fhir import FhirAccessToken
from services.core import audit
from services.core.db import session_scope
from services.core.errors import NotFound, ValidationFailed
from services.permissions import Action, require
from services.principal import Principal

PREFIX = 'cvmsfhir_'  # tells a leaked token for what it is (secret scanners, logs)
HINT_LENGTH = 12


@dataclass(frozen=True)
class IssuedToken:
    id: int
    name: str
    token: str  # shown once; never stored


@dataclass(frozen=True)
class TokenPublic:
    id: int
    name: str
    hint: str
    scope: str  # "Whole state" or the location's name and code
    location_id: int | None
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    last_used_at: datetime | None


def issue_token(*, principal: Principal, name: str, location_id: int | None) -> IssuedToken:
    """A new token for `location_id` (None: every location of the state). Audited; the token is returned once."""
    require(principal, Action.MANAGE_USERS)
    name = (name or '').strip()
    if not name:
        raise ValidationFailed('Enter a name that says who will use this token.')
    if len(name) > 200:
        raise ValidationFailed('The name is too long (200 characters at most).')
    token = PREFIX + secrets.token_urlsafe(32)
    with session_scope() as session:
        if location_id is not None and session.get(Location, location_id) is None:
            raise NotFound('This location does not exist.')
        row = FhirAccessToken(name=name, token_hash=token_hash(token), token_hint=token[:HINT_LENGTH],
                              location_id=location_id, created_by_user_id=principal.user_id or None)
        session.add(row)
        session.flush()
        audit.record(session, action='fhir_token_issued', actor=principal, entity_type='fhiraccesstoken',
                     entity_id=row.id, detail=f'{name}; scope: {"state" if location_id is None else location_id}')
        return IssuedToken(id=row.id or 0, name=name, token=token)


def revoke_token(*, principal: Principal, token_id: int) -> None:
    """The token stops working at once (its next request answers 401). Revoking twice changes nothing."""
    require(principal, Action.MANAGE_USERS, entity=f'fhiraccesstoken:{token_id}')
    with session_scope() as session:
        row = session.get(FhirAccessToken, token_id)
        if row is None:
            raise NotFound('This token does not exist.')
        if row.revoked_at is not None:
            return
        row.revoked_at, row.revoked_by_user_id = utcnow(), principal.user_id or None
        session.add(row)
        audit.record(session, action='fhir_token_revoked', actor=principal, entity_type='fhiraccesstoken',
                     entity_id=token_id, detail=row.name)


def list_tokens(*, principal: Principal) -> list[TokenPublic]:
    """Every token, newest first, revoked ones included (what was granted stays visible)."""
    require(principal, Action.MANAGE_USERS)
    with session_scope(read_only=True) as session:
        rows = session.exec(select(FhirAccessToken, Location, User)
                            .join(Location, col(Location.id) == col(FhirAccessToken.location_id), isouter=True)
                            .join(User, col(User.id) == col(FhirAccessToken.created_by_user_id), isouter=True)
                            .order_by(col(FhirAccessToken.id).desc())).all()
        return [TokenPublic(id=t.id or 0, name=t.name, hint=t.token_hint,
                            scope='Whole state' if loc is None else f'{loc.name} ({loc.code})',
                            location_id=t.location_id, created_at=t.created_at,
                            created_by=user.email if user else '', revoked_at=t.revoked_at,
                            last_used_at=t.last_used_at) for t, loc, user in rows]


def principal_for(token: str) -> Principal | None:
    """Who a bearer token reads as, or None (unknown or revoked). A state token reads like a state admin, a location
    token like a healthcare provider of that location: the row scopes of services.permissions then apply as they
    do to people."""
    if not token or len(token) > 200:
        return None
    with session_scope(read_only=True) as session:
        row = session.exec(select(FhirAccessToken).where(FhirAccessToken.token_hash == token_hash(token))).first()
        if row is None or row.revoked_at is not None:
            return None
        return token_principal(row)


def token_principal(row: FhirAccessToken) -> Principal:
    return Principal(user_id=0, email=f'fhir-token:{row.id}', full_name=row.name,
                     role=Role.STATE_ADMIN if row.location_id is None else Role.HEALTHCARE_PROVIDER,
                     location_id=row.location_id)


def token_id_of(principal: Principal) -> int | None:
    prefix, _, number = principal.email.partition(':')
    return int(number) if prefix == 'fhir-token' and number.isdigit() else None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
