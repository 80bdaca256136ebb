"""Demo inventory: the three COVID-19 vaccines of 2021, stock and two weeks of history at Clinic Location1 (DEMO1),
and incoming shipments for both demo locations."""
from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlmodel import Session, select

from models import Location, utcnow
from models.inventory import Allocation, LedgerKind, Product, Shipment, ShipmentStatus, Storage, WasteReason
from services.core.localtime import local_moment, local_today
from services.inventory.ledger import lot_for, post

PRODUCTS = [
    Product(name='Pfizer-BioNTech COVID-19 Vaccine', manufacturer='Pfizer, Inc., and BioNTech', cvx_code='208',
            mvx_code='PFR', ndc='59267-1000-1', doses_in_series=2, days_between_doses=21, doses_per_vial=6,
            storage=Storage.ULTRA_COLD, hours_usable_after_puncture=6),
    Product(name='Moderna COVID-19 Vaccine', manufacturer='ModernaTX, Inc.', cvx_code='207', mvx_code='MOD',
            ndc='80777-273-10',
            doses_in_series=2, days_between_doses=28, doses_per_vial=10, storage=Storage.FROZEN,
            hours_usable_after_puncture=6),
    Product(name='Janssen COVID-19 Vaccine', manufacturer='Janssen Products, LP', cvx_code='212', mvx_code='JSN',
            ndc='59676-580-15', doses_in_series=1, days_between_doses=None, doses_per_vial=5,
            storage=Storage.REFRIGERATED, hours_usable_after_puncture=2),
]


def seed_inventory(session: Session) -> None:
    products = {}
    for template in PRODUCTS:
        product = Product.model_validate(template.model_dump(exclude={'id', 'created_at'}))
        session.add(product)
        session.flush()
        products[product.cvx_code] = product
    clinic = session.exec(select(Location).where(Location.code == 'DEMO1')).one()
    second = session.exec(select(Location).where(Location.code == 'DEMO2')).one()
    today = local_today(clinic)

    def at(days_ago: int, hour: int = 10) -> datetime:
        return local_moment(today - timedelta(days=days_ago), time(hour), clinic)

    pfizer = lot_for(session, product_id=products['208'].id, lot_number='EK5730',
                     expiration_date=today + timedelta(days=45))
    moderna = lot_for(session, product_id=products['207'].id, lot_number='011J20A',
                      expiration_date=today + timedelta(days=5))  # flagged: expires within 7 days
    janssen = lot_for(session, product_id=products['212'].id, lot_number='1805018',
                      expiration_date=today - timedelta(days=1))  # flagged: expired, still on the shelf
    for lot, doses in ((pfizer, 150), (moderna, 100), (janssen, 10)):
        post(session, actor=None, location_id=clinic.id, lot_id=lot.id, change=doses, kind=LedgerKind.RECEIPT,
             reference='demo', reason='Shipment received (good)', at=at(13, 9))
    for days_ago, (p, m) in enumerate([(9, 6), (11, 5), (8, 7), (12, 4), (10, 6), (7, 5), (9, 6), (8, 3),
                                       (10, 5), (9, 4), (11, 6), (6, 4), (8, 5)]):
        for lot, doses in ((pfizer, p), (moderna, m)):
            for i in range(doses):
                post(session, actor=None, location_id=clinic.id, lot_id=lot.id, change=-1,
                     kind=LedgerKind.ADMINISTRATION, reference='demo', at=at(days_ago, 9 + i % 8))
    post(session, actor=None, location_id=clinic.id, lot_id=pfizer.id, change=-2, kind=LedgerKind.WASTE,
         waste_reason=WasteReason.PUNCTURED_PAST_USABLE_HOURS, reason='Punctured vial past its usable hours',
         at=at(4, 17))
    for location, product, doses, status in ((clinic, products['208'], 1170, ShipmentStatus.SHIPPED),
                                             (clinic, products['207'], 200, ShipmentStatus.ALLOCATED),
                                             (second, products['212'], 100, ShipmentStatus.ALLOCATED)):
        allocation = Allocation(product_id=product.id, location_id=location.id, doses=doses,
                                note='Demo weekly allocation')
        session.add(allocation)
        session.flush()
        session.add(Shipment(allocation_id=allocation.id, product_id=product.id, location_id=location.id,
                             doses_expected=doses, status=status,
                             shipped_at=utcnow() if status == ShipmentStatus.SHIPPED else None,
                             tracking_number='1Z999AA10123456784' if status == ShipmentStatus.SHIPPED else ''))
    session.flush()
