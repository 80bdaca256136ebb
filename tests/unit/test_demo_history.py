"""A fresh demo (`serve --demo`, `seed-demo`) has past doses at Clinic Location1: the proof of vaccination, the
FHIR API and the registry export have something to show."""
from __future__ import annotations

from sqlmodel import select

from models import Recipient
from models.registry import RegistryMessage
from services.core.db import session_scope
from services.demo import seed_dose_history
from services.fhir import api, health_cards, tokens
from services.portal import program_status, proof
from tests import factories as fx


def test_the_demo_s_dose_history_reaches_the_proof_the_fhir_api_and_the_registry(demo) -> None:
    assert seed_dose_history() == 3
    with session_scope(read_only=True) as session:
        grace = session.exec(select(Recipient).where(Recipient.first_name == 'Grace',
                                                     Recipient.last_name == 'Wilms')).one()
        messages = session.exec(select(RegistryMessage)).all()
    assert len(messages) == 3 and {m.action for m in messages} == {'A'}
    recipient = fx.principal(fx.RECIPIENT)
    record = program_status.vaccination_record(principal=recipient, recipient_id=grace.id)
    assert [d.dose_number for d in record.doses] == [1, 2]
    assert health_cards.health_card(principal=recipient, recipient_id=grace.id).jws.count('.') == 2
    with_card = proof.proof_pdf(principal=recipient, recipient_id=grace.id, lang='en')
    assert with_card.startswith(b'%PDF')
    assert sum(1 for a in _audit_actions() if a == 'view_health_card') >= 2  # the page's card and the PDF's
    token = tokens.issue_token(principal=fx.principal(fx.ADMIN), name='demo', location_id=fx.location_id()).token
    bundle = api.search_immunizations(principal=api.authenticate(f'Bearer {token}'), params=[('location', 'DEMO1')])
    assert bundle['total'] == 3


def _audit_actions() -> list[str]:
    from models import AuditEvent
    with session_scope(read_only=True) as session:
        return list(session.exec(select(AuditEvent.action)).all())
