"""Vaccine stock: the append-only ledger and everything that writes to it.

Every change of stock is one LedgerEntry row; the on-hand figure of a lot at a location is the sum of its rows.
Rows are never edited or deleted: a mistake is undone by a reversal row. Each write first locks the
(location, lot) StockBalance row inside the caller's transaction (PostgreSQL: SELECT ... FOR UPDATE; SQLite:
the engine opens every transaction with BEGIN IMMEDIATE), checks the new total and refuses to go below zero;
a CHECK constraint on the balance row is the last line of defence. See docs/adr/0003-inventory-ledger.md.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from models import Location, LocationPublic, Organization, utcnow
from models.inventory import (
    InventoryCount,
    InventoryCountLine,
    LedgerEntry,
    LedgerEntryPublic,
    LedgerKind,
    Lot,
    LotStock,
    Product,
    ProductCreate,
    ProductPublic,
    StockBalance,
    Storage,
    WasteReason,
)
from services.core import audit
from services.core.db import session_scope
from services.core.errors import NotFound, ServiceError, ValidationFailed
from services.core.localtime import local_date
from services.permissions import Action, Kind, can, deny, fetch, require, scope
from services.principal import Principal

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
    return local_date(at, location)


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
    lot = fetch(session, Lot, lot_id, principal=principal, action=str(Action.RECORD_VACCINATION))
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
    entry = fetch(session, LedgerEntry, entry_id, principal=principal, action='reverse_entry')
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
    """permissions.require at a location, for functions running inside the caller's transaction (the refusal
    is audited once that transaction has rolled back; see services.db.session_scope)."""
    require(principal, action, location_id=location_id, check_location=True)


# ---------------------------------------------------------------- products and lots

def list_products(*, principal: Principal, active_only: bool = False) -> list[ProductPublic]:
    """The vaccine products; anyone who sees stock or manages products may read them."""
    if not (can(principal, Action.VIEW_INVENTORY) or can(principal, Action.MANAGE_PRODUCTS)):
        deny(principal, action=str(Action.VIEW_INVENTORY), entity='product:')
    with session_scope(read_only=True) as session:
        query = select(Product).order_by(col(Product.name))
        if active_only:
            query = query.where(col(Product.is_active).is_(True))
        return [ProductPublic.model_validate(p, from_attributes=True) for p in session.exec(query)]


def save_product(*, principal: Principal, data: ProductCreate, product_id: int | None = None) -> ProductPublic:
    """Create a product, or change one (its CVX code stays unique)."""
    require(principal, Action.MANAGE_PRODUCTS)
    data = ProductCreate.model_validate(data.model_dump())  # runs the field rules again on any input
    data.name, data.manufacturer, data.cvx_code = data.name.strip(), data.manufacturer.strip(), data.cvx_code.strip()
    if not data.name or not data.manufacturer or not data.cvx_code:
        raise ValidationFailed('Name, manufacturer and CVX code are required.')
    data.mvx_code = data.mvx_code.strip().upper()
    if data.mvx_code and not (data.mvx_code.isascii() and data.mvx_code.isalpha() and 2 <= len(data.mvx_code) <= 3):
        raise ValidationFailed('MVX code: the CDC manufacturer code, 2-3 letters (e.g. PFR, MOD, JSN).')
    if data.storage not in set(Storage):
        raise ValidationFailed('Storage must be refrigerated, frozen or ultra-cold.')
    if data.doses_in_series > 1 and not data.days_between_doses:
        raise ValidationFailed('A series of more than one dose needs the days between doses (e.g. 21 or 28).')
    if data.doses_in_series == 1:
        data.days_between_doses = None
    with session_scope() as session:
        clash = session.exec(select(Product).where(Product.cvx_code == data.cvx_code)).first()
        if clash is not None and clash.id != product_id:
            raise ValidationFailed(f'CVX code {data.cvx_code} already belongs to {clash.name}.')
        if product_id is None:
            product = Product.model_validate(data)
        else:
            product = session.get(Product, product_id)
            if product is None:
                raise NotFound('This product does not exist.')
            product.sqlmodel_update(data.model_dump())
        session.add(product)
        session.flush()
        audit.record(session, action='product_saved', actor=principal, entity_type='product', entity_id=product.id,
                     detail=f'{product.name} (CVX {product.cvx_code})')
        return ProductPublic.model_validate(product, from_attributes=True)


def lot_for(session: Session, *, product_id: int, lot_number: str, expiration_date: date | None) -> Lot:
    """The lot with this number for the product, created on first sight. A known lot number with a different
    expiration date is refused: one of the two entries is a typo."""
    lot_number = lot_number.strip().upper()
    if not lot_number:
        raise ValidationFailed('Enter the lot number printed on the carton.')
    lot = session.exec(select(Lot).where(Lot.product_id == product_id, Lot.lot_number == lot_number)).first()
    if lot is not None:
        if expiration_date is not None and lot.expiration_date != expiration_date:
            raise ValidationFailed(f'Lot {lot_number} is on record with expiration {lot.expiration_date:%m/%d/%Y}, '
                                   f'not {expiration_date:%m/%d/%Y}. Check the carton.')
        return lot
    if expiration_date is None:
        raise ValidationFailed(f'Lot {lot_number} is new: enter its expiration date.')
    lot = Lot(product_id=product_id, lot_number=lot_number, expiration_date=expiration_date)
    session.add(lot)
    session.flush()
    return lot


# ---------------------------------------------------------------- screens' reads

def location_stock(*, principal: Principal, location_id: int, include_empty: bool = False) -> list[LotStock]:
    require(principal, Action.VIEW_INVENTORY, location_id=location_id, check_location=True)
    with session_scope(read_only=True) as session:
        return stock(session, location_id=location_id, include_empty=include_empty)


def history(*, principal: Principal, location_id: int, lot_id: int | None = None, limit: int = 500
            ) -> list[LedgerEntryPublic]:
    """The ledger of a location (of one lot it holds), newest first, with which rows have been reversed."""
    require(principal, Action.VIEW_INVENTORY, location_id=location_id, check_location=True)
    with session_scope(read_only=True) as session:
        if lot_id is not None:
            fetch(session, Lot, lot_id, principal=principal, action=str(Action.VIEW_INVENTORY))
        query = (select(LedgerEntry, Lot, Product)
                 .join(Lot, col(Lot.id) == col(LedgerEntry.lot_id))
                 .join(Product, col(Product.id) == col(Lot.product_id))
                 .where(LedgerEntry.location_id == location_id)
                 .order_by(col(LedgerEntry.id).desc()).limit(limit))
        if lot_id is not None:
            query = query.where(LedgerEntry.lot_id == lot_id)
        rows = session.exec(query).all()
        ids = [entry.id for entry, _, _ in rows]
        reversed_ids = set(session.exec(select(LedgerEntry.reverses_entry_id)
                                        .where(col(LedgerEntry.reverses_entry_id).in_(ids))).all()) if ids else set()
        return [LedgerEntryPublic.model_validate(entry, from_attributes=True, update={
            'lot_number': lot.lot_number, 'product_name': product.name, 'reversed': entry.id in reversed_ids})
            for entry, lot, product in rows]


def visible_locations(*, principal: Principal) -> list[LocationPublic]:
    """The locations whose stock this person may see: all for the state, their own for location staff."""
    require(principal, Action.VIEW_INVENTORY)
    with session_scope(read_only=True) as session:
        query = scope(select(Location), principal=principal, kind=Kind.LOCATION).order_by(col(Location.name))
        return [LocationPublic.model_validate(loc, from_attributes=True) for loc in session.exec(query)]


# ---------------------------------------------------------------- adjustments (location managers)

def record_waste(*, principal: Principal, location_id: int, lot_id: int, doses: int, waste_reason: str,
                 other_text: str = '') -> LedgerEntry:
    """Doses wasted, with the guide's reasons; 'other' needs a description."""
    require(principal, Action.MANAGE_INVENTORY, location_id=location_id, check_location=True)
    if waste_reason not in set(WasteReason):
        raise ValidationFailed('Choose why the doses were wasted.')
    other_text = (other_text or '').strip()
    if waste_reason == WasteReason.OTHER and not other_text:
        raise ValidationFailed('Describe what happened when the reason is "Other".')
    _positive(doses)
    reason = WasteReason(waste_reason).label + (f': {other_text}' if other_text else '')
    with session_scope() as session:
        fetch(session, Lot, lot_id, principal=principal, action=str(Action.MANAGE_INVENTORY))
        entry = post(session, actor=principal, location_id=location_id, lot_id=lot_id, change=-doses,
                     kind=LedgerKind.WASTE, reason=reason, waste_reason=waste_reason)
        return entry


def correct_count(*, principal: Principal, location_id: int, lot_id: int, change: int, reason: str) -> LedgerEntry:
    """A count correction: doses found (+) or missing (-), with the reason."""
    require(principal, Action.MANAGE_INVENTORY, location_id=location_id, check_location=True)
    reason = (reason or '').strip()
    if not reason:
        raise ValidationFailed('Say why the count is being corrected.')
    with session_scope() as session:
        fetch(session, Lot, lot_id, principal=principal, action=str(Action.MANAGE_INVENTORY))
        entry = post(session, actor=principal, location_id=location_id, lot_id=lot_id, change=change,
                     kind=LedgerKind.CORRECTION, reason=reason)
        audit.record(session, action='inventory_count_correction', actor=principal, entity_type='lot',
                     entity_id=lot_id, detail=f'location {location_id}: {change:+d} doses; {reason}')
        return entry


def transfer_destinations(*, principal: Principal, location_id: int, lot_id: int | None = None
                          ) -> list[LocationPublic]:
    """Where this location may send doses: other locations that can store the product, only when the sending
    organization signed the CDC Supplemental COVID-19 Vaccine Redistribution Agreement."""
    require(principal, Action.MANAGE_INVENTORY, location_id=location_id, check_location=True)
    with session_scope(read_only=True) as session:
        lot = fetch(session, Lot, lot_id, principal=principal, action=str(Action.MANAGE_INVENTORY)) \
            if lot_id is not None else None
        if not _may_redistribute(session, location_id):
            return []
        storage = session.get(Product, lot.product_id).storage if lot else None  # type: ignore[union-attr]
        places = session.exec(select(Location).where(Location.id != location_id).order_by(col(Location.name))).all()
        return [LocationPublic.model_validate(p, from_attributes=True) for p in places
                if storage is None or storage in capabilities(p)]


def transfer(*, principal: Principal, from_location_id: int, to_location_id: int, lot_id: int, doses: int,
             reason: str = '') -> tuple[LedgerEntry, LedgerEntry]:
    """Move doses of a lot to another location: a transfer_out and a transfer_in row in one transaction."""
    require(principal, Action.MANAGE_INVENTORY, location_id=from_location_id, check_location=True)
    _positive(doses)
    if from_location_id == to_location_id:
        raise ValidationFailed('Choose another location to transfer to.')
    with session_scope() as session:
        if not _may_redistribute(session, from_location_id):
            raise ServiceError('Transfers need the CDC Supplemental COVID-19 Vaccine Redistribution Agreement, '
                               'which your organization has not signed.')
        lot = fetch(session, Lot, lot_id, principal=principal, action=str(Action.MANAGE_INVENTORY))
        destination = session.get(Location, to_location_id)  # any location may receive doses
        if destination is None:
            raise NotFound('The destination location does not exist.')
        product = session.get(Product, lot.product_id)
        assert product is not None
        if product.storage not in capabilities(destination):
            raise ServiceError(f'{destination.name} cannot store {product.name} '
                               f'({Storage(product.storage).label}).')
        if lot.expiration_date < local_today(session, from_location_id):
            raise ServiceError(f'Lot {lot.lot_number} has expired; record it as wasted instead of transferring it.')
        source = session.get(Location, from_location_id)
        reference = f'transfer:{uuid.uuid4().hex[:16]}'
        note = (reason or '').strip()
        out = post(session, actor=principal, location_id=from_location_id, lot_id=lot_id, change=-doses,
                   kind=LedgerKind.TRANSFER_OUT, reference=reference,
                   reason=f'To {destination.name} ({destination.code})' + (f': {note}' if note else ''))
        into = post(session, actor=principal, location_id=to_location_id, lot_id=lot_id, change=doses,
                    kind=LedgerKind.TRANSFER_IN, reference=reference,
                    reason=f'From {source.name} ({source.code})' + (f': {note}' if note else ''))  # type: ignore
        audit.record(session, action='inventory_transfer', actor=principal, entity_type='lot', entity_id=lot_id,
                     detail=f'{doses} doses from location {from_location_id} to {to_location_id}')
        return out, into


def count_sheet(*, principal: Principal, location_id: int) -> list[LotStock]:
    """The daily "Inventory Levels" form: every lot the location has held, with its book figure."""
    require(principal, Action.MANAGE_INVENTORY, location_id=location_id, check_location=True)
    with session_scope(read_only=True) as session:
        return stock(session, location_id=location_id, include_empty=True)


def record_inventory_count(*, principal: Principal, location_id: int, counted: dict[int, int], note: str = ''
                           ) -> list[InventoryCountLine]:
    """Record the day's physical count per lot; each difference from the book figure becomes a correction row.
    The book figure is read under the same lock as the write, so a dose given meanwhile is not lost."""
    require(principal, Action.MANAGE_INVENTORY, location_id=location_id, check_location=True)
    if not counted:
        raise ValidationFailed('Enter the doses counted for at least one lot.')
    if any(value is None or value < 0 for value in counted.values()):
        raise ValidationFailed('Counted doses cannot be negative.')
    with session_scope() as session:
        today = local_today(session, location_id)
        count = InventoryCount(location_id=location_id, count_date=today, counted_by_user_id=principal.user_id,
                               note=(note or '').strip()[:500])
        session.add(count)
        session.flush()
        lines = []
        for lot_id, physical in sorted(counted.items()):
            fetch(session, Lot, lot_id, principal=principal, action=str(Action.MANAGE_INVENTORY))
            book = _lock_balance(session, location_id=location_id, lot_id=lot_id)
            line = InventoryCountLine(count_id=count.id or 0, lot_id=lot_id, book_on_hand=book, counted=physical,
                                      difference=physical - book)
            if line.difference:
                entry = post(session, actor=principal, location_id=location_id, lot_id=lot_id,
                             change=line.difference, kind=LedgerKind.CORRECTION, reference=f'count:{count.id}',
                             reason=f'Inventory Levels count {today:%m/%d/%Y}: counted {physical}, book {book}'
                                    + (f'; {count.note}' if count.note else ''))
                line.ledger_entry_id = entry.id
                audit.record(session, action='inventory_count_correction', actor=principal, entity_type='lot',
                             entity_id=lot_id, detail=f'location {location_id}: {line.difference:+d} doses; '
                                                      f'Inventory Levels count {count.id}')
            session.add(line)
            lines.append(line)
        session.flush()
        return lines


def _positive(doses: int) -> None:
    if not isinstance(doses, int) or doses < 1:
        raise ValidationFailed('Enter a whole number of doses, 1 or more.')


def _may_redistribute(session: Session, location_id: int) -> bool:
    location = session.get(Location, location_id)
    organization = session.get(Organization, location.organization_id) if location else None
    return bool(organization and organization.redistribution_agreement)


def capabilities(location: Location | LocationPublic) -> set[str]:
    """The storage a location can hold (comma-separated on the location record)."""
    return {part.strip().lower().replace('-', '_') for part in (location.storage_capabilities or '').split(',')
            if part.strip()}
