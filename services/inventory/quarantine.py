"""Quarantine: doses received with a temperature excursion are held apart, outside the location's stock, until a
location manager decides: released (the manufacturer confirmed them viable; they enter stock) or wasted (they are
recorded as received and wasted, so the reports' wastage counts them). Nothing can draw, transfer or count held
doses, because they have no ledger row until the decision."""
from __future__ import annotations

from sqlmodel import Session, col, select

from models import utcnow
from models.inventory import (
    LedgerKind,
    Lot,
    Product,
    QuarantinedDoses,
    QuarantinedDosesPublic,
    QuarantineStatus,
    WasteReason,
)
from services.core import audit
from services.core.db import session_scope
from services.core.errors import ServiceError, ValidationFailed
from services.inventory import ledger
from services.permissions import Action, Kind, fetch, require, scope
from services.principal import Principal


def held(*, principal: Principal, location_id: int) -> list[QuarantinedDosesPublic]:
    """The location's doses waiting for a decision, oldest first."""
    require(principal, Action.VIEW_INVENTORY, location_id=location_id, check_location=True)
    with session_scope(read_only=True) as session:
        query = (scope(select(QuarantinedDoses), principal=principal, kind=Kind.QUARANTINE)
                 .where(QuarantinedDoses.location_id == location_id,
                        QuarantinedDoses.status == QuarantineStatus.HELD)
                 .order_by(col(QuarantinedDoses.received_at), col(QuarantinedDoses.id)))
        return [_public(session, hold) for hold in session.exec(query).all()]


def release(*, principal: Principal, hold_id: int, reason: str) -> QuarantinedDosesPublic:
    """The manufacturer says the doses are viable: they enter the location's stock now."""
    return _decide(principal=principal, hold_id=hold_id, reason=reason, release=True)


def waste(*, principal: Principal, hold_id: int, reason: str) -> QuarantinedDosesPublic:
    """The doses cannot be used: recorded as received and wasted (temperature excursion) in one transaction."""
    return _decide(principal=principal, hold_id=hold_id, reason=reason, release=False)


def hold(session: Session, *, location_id: int, lot_id: int, shipment_id: int, doses: int) -> QuarantinedDoses:
    """Put received doses in quarantine, inside the receiving transaction (shipments.receive calls it)."""
    entry = QuarantinedDoses(location_id=location_id, lot_id=lot_id, shipment_id=shipment_id, doses=doses)
    session.add(entry)
    session.flush()
    return entry


def _decide(*, principal: Principal, hold_id: int, reason: str, release: bool) -> QuarantinedDosesPublic:
    reason = (reason or '').strip()
    if not reason:
        raise ValidationFailed('Say why: e.g. the manufacturer\'s answer and who gave it.' if release
                               else 'Say why the doses cannot be used.')
    with session_scope() as session:
        entry = fetch(session, QuarantinedDoses, hold_id, principal=principal, action=str(Action.MANAGE_INVENTORY))
        require(principal, Action.MANAGE_INVENTORY, location_id=entry.location_id, check_location=True)
        session.refresh(entry, with_for_update=True)  # two managers deciding at once: the second is refused
        if entry.status != QuarantineStatus.HELD:
            raise ServiceError(f'These doses were already {entry.status}.')
        receipt = ledger.post(session, actor=principal, location_id=entry.location_id, lot_id=entry.lot_id,
                              change=entry.doses, kind=LedgerKind.RECEIPT, reference=f'shipment:{entry.shipment_id}',
                              reason=f'Released from quarantine (temperature excursion): {reason}' if release
                              else 'Shipment received with a temperature excursion (quarantined)')
        if not release:
            ledger.post(session, actor=principal, location_id=entry.location_id, lot_id=entry.lot_id,
                        change=-entry.doses, kind=LedgerKind.WASTE, waste_reason=WasteReason.TEMPERATURE_EXCURSION,
                        reason=f'{WasteReason.TEMPERATURE_EXCURSION.label}: {reason}',
                        reference=f'quarantine:{entry.id}')
        entry.status = QuarantineStatus.RELEASED if release else QuarantineStatus.WASTED
        entry.decided_at = utcnow()
        entry.decided_by_user_id = principal.user_id
        entry.decision_reason = reason[:500]
        entry.ledger_entry_id = receipt.id
        session.add(entry)
        session.flush()
        audit.record(session, action='quarantine_released' if release else 'quarantine_wasted', actor=principal,
                     entity_type='quarantineddoses', entity_id=entry.id,
                     detail=f'{entry.doses} doses of shipment {entry.shipment_id}: {reason[:200]}')
        return _public(session, entry)


def _public(session: Session, entry: QuarantinedDoses) -> QuarantinedDosesPublic:
    lot = session.get(Lot, entry.lot_id)
    product = session.get(Product, lot.product_id) if lot else None
    return QuarantinedDosesPublic.model_validate(entry, from_attributes=True, update={
        'lot_number': lot.lot_number if lot else '', 'expiration_date': lot.expiration_date if lot else None,
        'product_name': product.name if product else ''})
