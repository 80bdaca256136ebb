"""Vaccine stock: the append-only ledger and everything that writes to it.

Every change of stock is one LedgerEntry row; the on-hand figure of a lot at a location is the sum of its rows.
Rows are never edited or deleted: a mistake is undone by a reversal row. Each write first locks the
(location, lot) StockBalance row inside the caller's transaction (PostgreSQL: SELECT ... FOR UPDATE; SQLite:
the engine opens every transaction with BEGIN IMMEDIATE), checks the new total and refuses to go below zero;
a CHECK constraint on the balance row is the last line of defence. See docs/adr/0003-inventory-ledger.md.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from models import Location, utcnow
from models.inventory import LedgerEntry, LedgerKind, Lot, LotStock, Product, StockBalance

from . import audit
from .errors import NotAllowed, NotFound, ServiceError, ValidationFailed
from .permissions import Action, can, can_access_location, deny
from .principal import Principal

EXPIRES_SOON_DAYS = 7


# ---------------------------------------------------------------- reading stock

def on_hand(session: Session, *, location_id: int, lot_id: int | None = None, product_id: int | None = None) -> int:
    """Doses on hand at a location (of one lot, or one product, or all): the sum of the ledger."""
    query = select(func.coalesce(func.sum(LedgerEntry.change), 0)).where(LedgerEntry.location_id == location_id)
    if lot_id is not None:
        query = query.where(LedgerEntry.lot_id == lot_id)
    if product_id is not None:
        query = query.join(Lot, col(Lot.id) == col(LedgerEntry.lot_id)).where(Lot.product_id == product_id)
    return int(session.exec(query).one())


def stock(session: Session, *, location_id: int, product_id: int | None = None, on: date | None = None,
          include_empty: bool = False) -> list[LotStock]:
    """Every lot at a location with its on-hand figure and expiry flags, soonest expiry first."""
    on = on or local_today(session, location_id)
    total = func.sum(LedgerEntry.change).label('on_hand')
    query = (select(Lot, Product, total)
             .join(Lot, col(Lot.id) == col(LedgerEntry.lot_id))
             .join(Product, col(Product.id) == col(Lot.product_id))
             .where(LedgerEntry.location_id == location_id)
             .group_by(col(Lot.id), col(Product.id))
             .order_by(col(Lot.expiration_date), col(Product.name), col(Lot.lot_number)))
    if product_id is not None:
        query = query.where(Lot.product_id == product_id)
    rows = []
    for lot, product, doses in session.exec(query).all():
        if doses == 0 and not include_empty:
            continue
        rows.append(LotStock(
            location_id=location_id, lot_id=lot.id or 0, lot_number=lot.lot_number,
            expiration_date=lot.expiration_date, product_id=product.id or 0, product_name=product.name,
            cvx_code=product.cvx_code, doses_per_vial=product.doses_per_vial, on_hand=int(doses),
            expired=lot.expiration_date < on,
            expires_soon=on <= lot.expiration_date <= on + timedelta(days=EXPIRES_SOON_DAYS)))
    return rows


def usable_lots(session: Session, *, location_id: int, product_id: int | None = None,
                on: date | None = None) -> list[LotStock]:
    """Unexpired lots with doses on hand at the location, soonest expiry first (use those first).
    `on` defaults to today in the location's time zone; a lot is usable through its expiration date."""
    return [s for s in stock(session, location_id=location_id, product_id=product_id, on=on) if not s.expired]


def local_today(session: Session, location_id: int) -> date:
    return local_day(session, location_id, utcnow())


def local_day(session: Session, location_id: int, at: datetime) -> date:
    """The calendar day at the location when `at` happened (reports count doses by the clinic's day)."""
    location = session.get(Location, location_id)
    if location is None:
        raise NotFound('This location does not exist.')
    return at.astimezone(ZoneInfo(location.time_zone or 'America/New_York')).date()


# ---------------------------------------------------------------- the ledger write (the only one)

def post(session: Session, *, actor: Principal | None, location_id: int, lot_id: int, change: int, kind: LedgerKind,
         reason: str = '', reference: str | None = None, waste_reason: str | None = None,
         reverses_entry_id: int | None = None, at: datetime | None = None) -> LedgerEntry:
    """Append one ledger row inside the caller's transaction, refusing a total below zero. Callers check
    permissions; this is the one place that knows how stock is kept consistent."""
    if change == 0:
        raise ValidationFailed('A stock change needs a number of doses other than zero.')
    balance = _lock_balance(session, location_id=location_id, lot_id=lot_id)
    new_balance = balance + change
    if new_balance < 0:
        lot = session.get(Lot, lot_id)
        label = lot.lot_number if lot else str(lot_id)
        if balance == 0:
            raise ServiceError(f'Lot {label} has no doses on hand at this location.')
        raise ServiceError(f'Lot {label} has only {balance} dose{"s" if balance != 1 else ""} on hand at this '
                           f'location; {-change} cannot be taken out.')
    at = at or utcnow()
    session.execute(update(StockBalance)
                    .where(col(StockBalance.location_id) == location_id, col(StockBalance.lot_id) == lot_id)
                    .values(on_hand=new_balance, updated_at=utcnow()))
    entry = LedgerEntry(location_id=location_id, lot_id=lot_id, change=change, kind=kind, reason=reason[:500],
                        reference=reference, waste_reason=waste_reason, reverses_entry_id=reverses_entry_id,
                        balance_after=new_balance, actor_user_id=actor.user_id if actor else None,
                        actor_email=actor.email if actor else None, at=at,
                        day=local_day(session, location_id, at))
    session.add(entry)
    session.flush()
    return entry


def _lock_balance(session: Session, *, location_id: int, lot_id: int) -> int:
    """Create the (location, lot) balance row if needed, lock it for this transaction and return its figure."""
    values = {'location_id': location_id, 'lot_id': lot_id, 'on_hand': 0, 'updated_at': utcnow()}
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == 'postgresql' else sqlite_insert
    session.execute(insert(StockBalance).values(**values).on_conflict_do_nothing())
    # FOR UPDATE: a second writer on PostgreSQL waits here until the first commits, then reads its result.
    # SQLite renders no FOR UPDATE; there the whole transaction already holds the write lock (BEGIN IMMEDIATE).
    row = session.execute(select(StockBalance.on_hand)
                          .where(StockBalance.location_id == location_id, StockBalance.lot_id == lot_id)
                          .with_for_update()).one()
    return int(row[0])


# ---------------------------------------------------------------- what the clinic day calls

def draw_dose(session: Session, *, principal: Principal, location_id: int, lot_id: int, reference: str,
              doses: int = 1, at: datetime | None = None) -> LedgerEntry:
    """Take administered dose(s) out of a lot, inside the caller's transaction (the administration record is
    written in the same one, so both happen or neither). `reference` names the record, e.g. 'administration:123';
    `at` is when the dose was given (offline records entered later land on their real day).
    Refuses when the lot is expired, not in stock at the location, or has too few doses left."""
    _require(session, principal, Action.RECORD_VACCINATION, location_id)
    if not reference:
        raise ValidationFailed('A dose drawn from stock needs a reference to its administration record.')
    if doses < 1:
        raise ValidationFailed('At least one dose must be drawn.')
    lot = session.get(Lot, lot_id)
    if lot is None:
        raise NotFound('This lot does not exist.')
    day = local_day(session, location_id, at or utcnow())
    if lot.expiration_date < day:
        raise ServiceError(f'Lot {lot.lot_number} expired on {lot.expiration_date:%m/%d/%Y}; it cannot be '
                           'administered. Record it as wasted (expired).')
    return post(session, actor=principal, location_id=location_id, lot_id=lot_id, change=-doses,
                kind=LedgerKind.ADMINISTRATION, reference=reference, at=at)


def reverse_entry(session: Session, *, principal: Principal, entry_id: int, reason: str) -> LedgerEntry:
    """Undo one ledger row with a new row of the opposite sign (the original stays, marked by the link).
    An administration reversal returns the dose to stock; reversing a receipt takes its doses out again and
    is refused if they have already been used. Transfers are undone by transferring the doses back."""
    entry = session.get(LedgerEntry, entry_id)
    if entry is None:
        raise NotFound('This stock record does not exist.')
    if entry.kind == LedgerKind.ADMINISTRATION and can(principal, Action.CORRECT_VACCINATION):
        _require(session, principal, Action.CORRECT_VACCINATION, entry.location_id)
    else:
        _require(session, principal, Action.MANAGE_INVENTORY, entry.location_id)
    reason = (reason or '').strip()
    if not reason:
        raise ValidationFailed('Say why this record is being reversed.')
    if entry.kind == LedgerKind.REVERSAL:
        raise ServiceError('A reversal cannot itself be reversed; record the change again instead.')
    if entry.kind in (LedgerKind.TRANSFER_OUT, LedgerKind.TRANSFER_IN):
        raise ServiceError('A transfer cannot be reversed; the receiving location can transfer the doses back.')
    already = session.exec(select(LedgerEntry.id).where(LedgerEntry.reverses_entry_id == entry_id)).first()
    if already is not None:
        raise ServiceError('This record has already been reversed.')
    reversal = post(session, actor=principal, location_id=entry.location_id, lot_id=entry.lot_id,
                    change=-entry.change, kind=LedgerKind.REVERSAL, reason=reason,
                    reference=entry.reference, reverses_entry_id=entry.id)
    audit.record(session, action='inventory_reversal', actor=principal, entity_type='ledgerentry',
                 entity_id=entry.id, detail=f'{entry.kind} {entry.change:+d} reversed: {reason}')
    return reversal


def _require(session: Session, principal: Principal, action: Action, location_id: int) -> None:
    """permissions.require for functions that run inside the caller's transaction. On SQLite that transaction
    holds the database's write lock, so the refusal is audited in it (a separate unit of work would wait for
    the lock); elsewhere the refusal is audited in its own unit of work and survives the caller's rollback."""
    if can(principal, action) and can_access_location(principal, location_id):
        return
    if session.get_bind().dialect.name == 'sqlite' and session.in_transaction():
        audit.record(session, action='access_denied', actor=principal, entity_type='location',
                     entity_id=location_id, detail=f'refused: {action}')
        raise NotAllowed()
    deny(principal, action=str(action), entity=f'location:{location_id}')
