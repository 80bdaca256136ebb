"""SMART Health Cards (health-cards specification 1.x) for the proof of vaccination: a JWS signed with ES256 whose
payload is a verifiable credential holding a minimal FHIR bundle (raw DEFLATE, header `zip: DEF`), in one
numeric-mode QR code (`shc:/` and two digits per character) and a `.smart-health-card` file.

Keys: a JSON file of private P-256 JWKs, newest first (CVMS_HEALTH_CARD_KEY_FILE, default in the data folder),
made on first use. The newest signs; all are published at /.well-known/jwks.json, so cards signed before a rotation
keep verifying. Each key's `kid` is its RFC 7638 thumbprint."""
from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jwcrypto import jwk, jws

from models import Recipient, utcnow
from services.clinic import dose_rules
from services.core import audit
from services.core.db import session_scope
from services.core.errors import ServiceError
from services.core.settings import get_settings
from services.fhir import resources
from services.permissions import fetch
from services.principal import Principal

TYPES = ['https://smarthealth.cards#health-card', 'https://smarthealth.cards#immunization',
         'https://smarthealth.cards#covid19']
FILE_MEDIA_TYPE = 'application/smart-health-card'
MAX_QR_VERSION = 22  # the specification's limit for one code a phone camera reads reliably
QR_ERROR = 'L'


@dataclass(frozen=True)
class HealthCard:
    jws: str

    @property
    def shc(self) -> str:
        """The QR code's text: `shc:/` and each JWS character as two digits (its code minus 45)."""
        return 'shc:/' + ''.join(f'{ord(ch) - 45:02d}' for ch in self.jws)

    @property
    def file_content(self) -> bytes:
        """The `.smart-health-card` file."""
        return json.dumps({'verifiableCredential': [self.jws]}).encode()

    def qr(self):  # noqa: ANN201 - a segno QRCode
        return qr_code(self.shc)


def health_card(*, principal: Principal, recipient_id: int) -> HealthCard:
    """The person's SMART Health Card of every valid dose, for those who may see their record (their household,
    their location's staff, state admins). Audited like the proof it accompanies."""
    with session_scope(read_only=True) as session:
        person = fetch(session, Recipient, recipient_id, principal=principal, action='view_health_card',
                       health_data=True)
        rows = dose_rules.valid_dose_rows(session, recipient_id)
        if not rows:
            raise ServiceError('No dose has been recorded yet: there is no health card to make.')
        bundle = resources.health_card_bundle(person, [tuple(r) for r in rows])
    card = sign(bundle)
    audit.record_now(action='view_health_card', actor=principal, entity_type='recipient', entity_id=recipient_id)
    return card


def sign(bundle: dict[str, Any]) -> HealthCard:
    """The card of a FHIR bundle: the credential minified, raw-DEFLATE compressed and signed with the newest key."""
    key = signing_key()
    payload = {'iss': issuer(), 'nbf': int(utcnow().timestamp()),
               'vc': {'type': TYPES, 'credentialSubject': {'fhirVersion': '4.0.1', 'fhirBundle': bundle}}}
    minified = json.dumps(payload, separators=(',', ':'), ensure_ascii=False).encode()
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw DEFLATE: no zlib header, as the spec asks
    token = jws.JWS(compressor.compress(minified) + compressor.flush())
    token.add_signature(key, alg='ES256', protected=json.dumps({'alg': 'ES256', 'zip': 'DEF', 'kid': key.thumbprint()}))
    card = HealthCard(token.serialize(compact=True))
    if card.qr().version > MAX_QR_VERSION:
        raise ServiceError('This record is too large for one health card QR code.')
    return card


def qr_code(shc: str):  # noqa: ANN201 - a segno QRCode
    """One QR code: `shc:/` in byte mode, the digits in numeric mode (about a third smaller than all in bytes)."""
    import segno
    from segno import consts
    prefix, digits = shc[:5], shc[5:]
    return segno.make([(prefix, consts.MODE_BYTE), (digits, consts.MODE_NUMERIC)], error=QR_ERROR, micro=False)


def jwks() -> dict[str, Any]:
    """Every key's public half (signing and verifying ES256), newest first."""
    return {'keys': [{**key.export_public(as_dict=True), 'kid': key.thumbprint(), 'use': 'sig', 'alg': 'ES256'}
                     for key in _keys()]}


def issuer() -> str:
    """`iss`: the app's address; verifiers fetch `iss` + /.well-known/jwks.json."""
    return get_settings().base_url.rstrip('/')


def rotate_key() -> str:
    """A new signing key, the old ones kept and still published. Returns the new key's kid."""
    key = jwk.JWK.generate(kty='EC', crv='P-256')
    path = key_file()
    _write(path, [json.loads(key.export_private()), *[json.loads(k.export_private()) for k in _keys()]])
    return key.thumbprint()


def signing_key() -> jwk.JWK:
    return _keys()[0]


def key_file() -> Path:
    settings = get_settings()
    return settings.health_card_key_file or settings.data_dir / 'health_card_keys.json'


# ---------------------------------------------------------------- helpers

def _keys() -> list[jwk.JWK]:
    path = key_file()
    if not path.exists():
        try:  # made once; a second process starting at the same moment reads the first one's file
            _write(path, [json.loads(jwk.JWK.generate(kty='EC', crv='P-256').export_private())], exclusive=True)
        except FileExistsError:
            pass
    keys = [jwk.JWK(**entry) for entry in json.loads(path.read_text())['keys']]
    if not keys:
        raise ServiceError(f'{path} holds no health card key.')
    return keys


def _write(path: Path, keys: list[dict[str, Any]], *, exclusive: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({'keys': keys}, indent=1)
    if exclusive:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, 'w') as handle:
            handle.write(text)
        return
    partial = path.with_suffix('.tmp')
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, 'w') as handle:
        handle.write(text)
    partial.replace(path)  # readers see the old list or the new one, never half a file
