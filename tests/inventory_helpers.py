"""Steps the inventory, shipment and report tests share: who is acting, a product, a lot with stock."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from sqlmodel import select

from models import Location
from models.inventory import LedgerKind, Lot, Product
from services.core.db import session_scope
from services.inventory import ledger
from tests.helpers import ADMIN, MANAGER, PROVIDER, principal_of  # noqa: F401 - re-exported to tests

principal = principal_of


def location_id(code: str) -> int:
    with session_scope() as session:
        return session.exec(select(Location.id).where(Location.code == code)).one()


def make_product(cvx: str | None = None, *, storage: str = 'frozen', name: str | None = None) -> int:
    cvx = cvx or 'T' + uuid.uuid4().hex[:6]
    with session_scope() as session:
        product = Product(name=name or f'Test vaccine {cvx}', manufacturer='Test Pharma', cvx_code=cvx,
                          doses_in_series=2, days_between_doses=28, doses_per_vial=10, storage=storage,
                          hours_usable_after_puncture=6)
        session.add(product)
        session.flush()
        return product.id


def stocked_lot(location: str = 'DEMO1', *, doses: int = 10, lot_number: str = 'LOT-A', product_id: int | None = None,
                expires: date | None = None, received_at: datetime | None = None) -> tuple[int, int]:
    """A lot with `doses` received at the location (a receipt row); returns (location id, lot id)."""
    product_id = product_id or make_product()
    where = location_id(location)
    with session_scope() as session:
        lot = ledger.lot_for(session, product_id=product_id, lot_number=lot_number,
                                expiration_date=expires or date.today() + timedelta(days=120))
        if doses:
            ledger.post(session, actor=None, location_id=where, lot_id=lot.id, change=doses,
                           kind=LedgerKind.RECEIPT, reference='test', at=received_at)
        return where, lot.id


def lot_of(lot_id: int) -> Lot:
    with session_scope() as session:
        return session.get(Lot, lot_id)
