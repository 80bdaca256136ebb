"""Allocation (the state sends doses where they can be stored) and shipments (the location receives them).

An allocation becomes one incoming shipment: allocated -> shipped -> delivered. Receiving a shipment counts in
each lot with its quantity, the condition on arrival and whether the temperature monitor showed an excursion;
the doses enter the location's stock as receipt rows of the ledger in the same transaction, except after an
excursion: then they go into quarantine (services/inventory/quarantine.py) until a manager releases or wastes them.
Only a shipped shipment can be received (an allocated one has not left the state's depot).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func
from sqlmodel import Session, col, select

from models import EnrollmentStatus, Location, Organization, OrganizationKind, utcnow
from models.inventory import (
    Allocation,
    ArrivalCondition,
    LedgerKind,
    Product,
    QuarantinedDoses,
    Shipment,
    ShipmentPublic,
    ShipmentReceiptLine,
    ShipmentStatus,
    Storage,
)
from services.core import audit, localtime
from services.core.db import session_scope
from services.core.errors import NotFound, ServiceError, ValidationFailed
from services.inventory import ledger, quarantine
from services.permissions import Action, Kind, can, fetch, require, scope
from services.principal import Principal


@dataclass(frozen=True)
class ReceivedLot:
    """One line of the receiving form: a lot number (new lots need their expiration date) and doses counted."""
    lot_number: str
    quantity: int
    expiration_date: date | None = None


def storage_problem(location: Location, product: Product) -> str | None:
    """Why this location cannot hold this product, or None when it can."""
    if product.storage not in ledger.capabilities(location):
        held = ', '.join(sorted(Storage(c).label for c in ledger.capabilities(location) if c in set(Storage)))
        return (f'{location.name} cannot store {product.name}: it needs {Storage(product.storage).label} '
                f'storage and the location has {held or "none recorded"}.')
    return None


def enrollment_problem(session: Session, location: Location) -> str | None:
    """Why vaccine cannot go to this location, or None: only locations of organizations whose enrollment is
    approved receive allocations and shipments (not invited, submitted, returned, rejected or suspended ones)."""
    organization = session.get(Organization, location.organization_id)
    if organization is None or organization.enrollment_status != EnrollmentStatus.APPROVED:
        status = EnrollmentStatus(organization.enrollment_status).label.lower() if organization else 'unknown'
        return f'{location.name} belongs to an organization whose enrollment is not approved ({status}).'
    return None


def allocation_choices(*, principal: Principal) -> list[dict]:
    """Locations of approved provider organizations with the storage they hold, for the allocation form."""
    require(principal, Action.ALLOCATE_VACCINE)
    with session_scope(read_only=True) as session:
        rows = session.exec(select(Location, Organization)
                            .join(Organization, col(Organization.id) == col(Location.organization_id))
                            .where(Organization.kind == OrganizationKind.PROVIDER)
                            .order_by(col(Location.name))).all()
        return [{'id': loc.id, 'name': loc.name, 'code': loc.code, 'organization': org.name,
                 'approved': org.enrollment_status == EnrollmentStatus.APPROVED,
                 'storage': sorted(ledger.capabilities(loc))} for loc, org in rows]


def allocate(*, principal: Principal, location_id: int, product_id: int, doses: int, note: str = '') -> ShipmentPublic:
    """Allocate doses of a product to a location that can store it; returns the incoming shipment it creates."""
    require(principal, Action.ALLOCATE_VACCINE)
    if not isinstance(doses, int) or doses < 1:
        raise ValidationFailed('Enter the number of doses to allocate (1 or more).')
    with session_scope() as session:
        location = fetch(session, Location, location_id, principal=principal, action=str(Action.ALLOCATE_VACCINE))
        product = session.get(Product, product_id)
        if product is None:
            raise NotFound('Choose a location and a product.')
        if not product.is_active:
            raise ServiceError(f'{product.name} is no longer active.')
        if (problem := enrollment_problem(session, location)) is not None:
            raise ServiceError(problem)
        if (problem := storage_problem(location, product)) is not None:
            raise ServiceError(problem)
        if doses % product.doses_per_vial:
            raise ValidationFailed(f'{product.name} ships in vials of {product.doses_per_vial} doses: allocate a '
                                   f'multiple of {product.doses_per_vial}.')
        allocation = Allocation(product_id=product_id, location_id=location_id, doses=doses,
                                note=(note or '').strip()[:500], allocated_by_user_id=principal.user_id)
        session.add(allocation)
        session.flush()
        shipment = Shipment(allocation_id=allocation.id, product_id=product_id, location_id=location_id,
                            doses_expected=doses)
        session.add(shipment)
        session.flush()
        audit.record(session, action='vaccine_allocated', actor=principal, entity_type='allocation',
                     entity_id=allocation.id, detail=f'{doses} doses of {product.name} to {location.code}')
        return _public(session, shipment)


def mark_shipped(*, principal: Principal, shipment_id: int, tracking_number: str = '') -> ShipmentPublic:
    require(principal, Action.ALLOCATE_VACCINE)
    with session_scope() as session:
        shipment = _locked_shipment(session, principal, shipment_id)
        if shipment.status != ShipmentStatus.ALLOCATED:
            raise ServiceError(f'This shipment is already {shipment.status}.')
        location = session.get(Location, shipment.location_id)
        if location is not None and (problem := enrollment_problem(session, location)) is not None:
            raise ServiceError(problem)
        shipment.status = ShipmentStatus.SHIPPED
        shipment.shipped_at = utcnow()
        shipment.tracking_number = (tracking_number or '').strip()[:64]
        session.add(shipment)
        audit.record(session, action='shipment_shipped', actor=principal, entity_type='shipment', entity_id=shipment_id)
        return _public(session, shipment)


def list_shipments(*, principal: Principal, location_id: int | None = None, status: str | None = None
                   ) -> list[ShipmentPublic]:
    """Shipments the person may see, newest first (of one location when asked): all for the state, their own
    location's for its staff."""
    require(principal, Action.VIEW_SHIPMENTS)
    if not can(principal, Action.VIEW_ALL_LOCATIONS):
        require(principal, Action.VIEW_SHIPMENTS, location_id=principal.location_id, check_location=True)
    with session_scope(read_only=True) as session:
        query = scope(select(Shipment), principal=principal, kind=Kind.SHIPMENT).order_by(col(Shipment.id).desc())
        if location_id is not None:
            fetch(session, Location, location_id, principal=principal, action=str(Action.VIEW_SHIPMENTS))
            query = query.where(Shipment.location_id == location_id)
        if status:
            query = query.where(Shipment.status == status)
        return [_public(session, s) for s in session.exec(query).all()]


def receive(*, principal: Principal, shipment_id: int, lots: list[ReceivedLot], condition: str,
            temperature_excursion: bool, notes: str = '') -> ShipmentPublic:
    """Receive a shipment at its location: each lot's doses enter stock (one receipt row per lot) and the shipment
    becomes delivered, all in one transaction. A shipment is received once; a miscount is fixed with a reversal
    or a count correction on the Vaccine Inventory tab."""
    require(principal, Action.RECEIVE_SHIPMENT)
    if condition not in set(ArrivalCondition):
        raise ValidationFailed('Choose the condition of the shipment on arrival.')
    lines = [line for line in lots if line.lot_number.strip() or line.quantity]
    if not lines:
        raise ValidationFailed('Enter at least one lot with the doses received.')
    for line in lines:
        if not isinstance(line.quantity, int) or line.quantity < 0:
            raise ValidationFailed(f'Lot {line.lot_number or "(no number)"}: enter the doses received (0 or more).')
    numbers = [line.lot_number.strip().upper() for line in lines]
    if len(set(numbers)) != len(numbers):
        raise ValidationFailed('Each lot appears once on the receiving form; add the quantities together.')
    if sum(line.quantity for line in lines) == 0 and condition == ArrivalCondition.GOOD:
        raise ValidationFailed('No doses entered. If nothing usable arrived, set the condition to Damaged.')
    with session_scope() as session:
        shipment = _locked_shipment(session, principal, shipment_id)  # two receiving at once: the second is refused
        if shipment.status == ShipmentStatus.DELIVERED:
            raise ServiceError('This shipment has already been received.')
        if shipment.status != ShipmentStatus.SHIPPED:
            raise ServiceError('This shipment has not been shipped yet: receive it when it arrives.')
        product = session.get(Product, shipment.product_id)
        assert product is not None
        now = utcnow()
        for line in lines:
            lot = ledger.lot_for(session, product_id=shipment.product_id, lot_number=line.lot_number,
                                    expiration_date=line.expiration_date)
            receipt_line = ShipmentReceiptLine(shipment_id=shipment_id, lot_id=lot.id or 0, quantity=line.quantity)
            if line.quantity and temperature_excursion:  # held apart until a manager decides (not in stock)
                quarantine.hold(session, location_id=shipment.location_id, lot_id=lot.id or 0,
                                shipment_id=shipment_id, doses=line.quantity)
            elif line.quantity:
                entry = ledger.post(session, actor=principal, location_id=shipment.location_id,
                                       lot_id=lot.id or 0, change=line.quantity, kind=LedgerKind.RECEIPT,
                                       reference=f'shipment:{shipment_id}', at=now,
                                       reason=_receipt_reason(condition))
                receipt_line.ledger_entry_id = entry.id
            session.add(receipt_line)
        shipment.status = ShipmentStatus.DELIVERED
        shipment.delivered_at = now
        shipment.received_by_user_id = principal.user_id
        shipment.condition_on_arrival = condition
        shipment.temperature_excursion = bool(temperature_excursion)
        shipment.receiving_notes = (notes or '').strip()[:1000]
        session.add(shipment)
        session.flush()
        audit.record(session, action='shipment_received', actor=principal, entity_type='shipment',
                     entity_id=shipment_id, detail=f'{sum(x.quantity for x in lines)} doses of {product.name}; '
                     f'condition {condition}; temperature excursion {"yes" if temperature_excursion else "no"}')
        return _public(session, shipment)


def _receipt_reason(condition: str) -> str:
    return f'Shipment received ({condition})'


def _locked_shipment(session: Session, principal: Principal, shipment_id: int) -> Shipment:
    """The shipment, when the principal may see it, locked for this unit of work (and read again under the lock)."""
    shipment = fetch(session, Shipment, shipment_id, principal=principal, action='change_shipment')
    session.refresh(shipment, with_for_update=True)
    return shipment


def _public(session: Session, shipment: Shipment) -> ShipmentPublic:
    product = session.get(Product, shipment.product_id)
    location = session.get(Location, shipment.location_id)
    received = session.exec(select(func.coalesce(func.sum(ShipmentReceiptLine.quantity), 0))
                            .where(ShipmentReceiptLine.shipment_id == shipment.id)).one()
    quarantined = session.exec(select(func.coalesce(func.sum(QuarantinedDoses.doses), 0))
                               .where(QuarantinedDoses.shipment_id == shipment.id)).one()
    return ShipmentPublic.model_validate(shipment, from_attributes=True, update={
        'product_name': product.name if product else '', 'location_name': location.name if location else '',
        'location_code': location.code if location else '', 'time_zone': localtime.zone_name(location),
        'doses_received': int(received), 'doses_quarantined': int(quarantined)})
