"""SMART Health Cards made by the app verify as a wallet or verifier app would: the shc:/ digits decode back to the
JWS, its ES256 signature checks against the key published at /.well-known/jwks.json (kid = RFC 7638 thumbprint),
the payload inflates (raw DEFLATE) into a credential of the spec's types holding the person's doses; a rotated key
keeps old cards verifying."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from jwcrypto import jwk, jws
from nicegui.testing import User

from services.core.errors import NotAllowed
from services.fhir import health_cards
from tests import factories as fx

ROOT = Path(__file__).resolve().parents[2]


def decode_shc(shc: str) -> str:
    """The numeric QR content back to the JWS: two digits per character, each plus 45."""
    assert shc.startswith('shc:/')
    digits = shc[5:]
    assert digits.isdigit() and len(digits) % 2 == 0
    return ''.join(chr(int(digits[i:i + 2]) + 45) for i in range(0, len(digits), 2))


def verify(compact: str, published: dict) -> dict:
    """What a verifier does: pick the key by kid, check the signature, inflate the payload."""
    token = jws.JWS()
    token.deserialize(compact)
    header = json.loads(token.objects['protected'])
    assert header['alg'] == 'ES256' and header['zip'] == 'DEF'
    [entry] = [k for k in published['keys'] if k['kid'] == header['kid']]
    key = jwk.JWK(**entry)
    assert key.thumbprint() == header['kid'] and not key.has_private and entry['crv'] == 'P-256'
    token.verify(key, alg='ES256')
    return json.loads(zlib.decompress(token.payload, -15))


def test_a_health_card_verifies_against_the_published_key(demo) -> None:
    person, dose = fx.recorded_dose('Grace', 'Cardholder')
    card = health_cards.health_card(principal=fx.principal(fx.MANAGER), recipient_id=person)
    assert decode_shc(card.shc) == card.jws
    qr = card.qr()
    assert qr.version <= 22 and qr.error == 'L'
    payload = verify(decode_shc(card.shc), health_cards.jwks())
    assert payload['iss'] == health_cards.issuer() and isinstance(payload['nbf'], int)
    assert payload['vc']['type'][:2] == ['https://smarthealth.cards#health-card',
                                         'https://smarthealth.cards#immunization']
    bundle = payload['vc']['credentialSubject']['fhirBundle']
    Bundle.model_validate(bundle)
    patient, shot = (e['resource'] for e in bundle['entry'])
    assert [e['fullUrl'] for e in bundle['entry']] == ['resource:0', 'resource:1']
    assert patient['name'][0]['family'] == 'Cardholder' and patient['birthDate'] == '1950-07-04'
    assert shot['patient'] == {'reference': 'resource:0'} and shot['vaccineCode']['coding'][0]['code'] == '207'
    assert shot['occurrenceDateTime'] == fx.local_today().isoformat() and shot['lotNumber']
    text = json.dumps(bundle)
    assert '"id"' not in text and '"meta"' not in text and '"text"' not in text  # the spec's data minimization
    assert all(set(c) == {'system', 'code'} for c in shot['vaccineCode']['coding'])  # codings without display
    assert json.loads(card.file_content) == {'verifiableCredential': [card.jws]}
    with pytest.raises(NotAllowed):
        health_cards.health_card(principal=fx.manager_of('DEMO2'), recipient_id=person)
    del dose


def test_a_rotated_key_signs_new_cards_and_old_cards_still_verify(demo) -> None:
    person, _ = fx.recorded_dose('Rota', 'Tion')
    old = health_cards.health_card(principal=fx.principal(fx.ADMIN), recipient_id=person)
    new_kid = health_cards.rotate_key()
    new = health_cards.health_card(principal=fx.principal(fx.ADMIN), recipient_id=person)
    published = health_cards.jwks()
    assert published['keys'][0]['kid'] == new_kid and len(published['keys']) >= 2
    assert all('d' not in k for k in published['keys'])  # public halves only
    for card in (old, new):
        verify(card.jws, published)


async def test_the_keys_are_published_with_cors_and_the_portal_offers_the_card(demo, user: User) -> None:
    from sqlmodel import select

    from models import Recipient
    from services.core.db import session_scope
    with session_scope(read_only=True) as session:
        grace = session.exec(select(Recipient).where(Recipient.first_name == 'Grace',
                                                     Recipient.last_name == 'Wilms')).first()
    lot = fx.stocked_lot(fx.product_id('207'), doses=3)
    from datetime import UTC, datetime, timedelta

    from services.clinic import administration
    administration.record_paper_administration(
        principal=fx.principal(fx.MANAGER), recipient_id=grace.id, details=administration.DoseDetails(
            lot_id=lot, screening={}, consent=True, administered_at=datetime.now(UTC) - timedelta(days=3)))
    response = await user.http_client.get('/.well-known/jwks.json')
    assert response.status_code == 200 and response.headers['access-control-allow-origin'] == '*'
    published = response.json()
    await fx.log_in(user, fx.RECIPIENT)
    await user.open('/portal/record')
    await user.should_see(marker='health-card-qr')
    user.find(marker='download-health-card').click()
    download = await user.download.next()
    [compact] = json.loads(download.content)['verifiableCredential']
    payload = verify(compact, published)
    assert payload['vc']['credentialSubject']['fhirBundle']['entry'][0]['resource']['name'][0]['family'] == 'Wilms'


def test_the_cli_prints_the_shc_string(demo) -> None:
    person, _ = fx.recorded_dose('Cli', 'Card')
    done = subprocess.run([sys.executable, 'main.py', 'health-card', '--recipient-id', str(person)], cwd=ROOT,
                          env={**os.environ}, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    payload = verify(decode_shc(done.stdout.strip()), health_cards.jwks())
    assert payload['vc']['credentialSubject']['fhirBundle']['entry'][0]['resource']['name'][0]['given'] == ['Cli']
    missing = subprocess.run([sys.executable, 'main.py', 'health-card', '--recipient-id', '999999'], cwd=ROOT,
                             env={**os.environ}, capture_output=True, text=True, timeout=120, check=False)
    assert missing.returncode == 1 and 'Error' in missing.stderr
