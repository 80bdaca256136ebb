"""Vaccine products, lots, the append-only stock ledger, allocations, shipments and inventory counts."""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from .base import utcnow


class Storage(StrEnum):
    REFRIGERATED = 'refrigerated'
    FROZEN = 'frozen'
    ULTRA_COLD = 'ultra_cold'

    @property
    def label(self) -> str:
        return {'refrigerated': 'Refrigerated (2-8 °C)', 'frozen': 'Frozen (-25 to -15 °C)',
                'ultra_cold': 'Ultra-cold (-80 to -60 °C)'}[self.value]


class LedgerKind(StrEnum):
    RECEIPT = 'receipt'
    ADMINISTRATION = 'administration'
    WASTE = 'waste'
    TRANSFER_OUT = 'transfer_out'
    TRANSFER_IN = 'transfer_in'
    CORRECTION = 'correction'
    REVERSAL = 'reversal'


class WasteReason(StrEnum):
    BROKEN_VIAL = 'broken_vial'
    PUNCTURED_PAST_USABLE_HOURS = 'punctured_past_usable_hours'
    TEMPERATURE_EXCURSION = 'temperature_excursion'
    EXPIRED = 'expired'
    OTHER = 'other'

    @property
    def label(self) -> str:
        return WASTE_REASON_LABELS[self]


WASTE_REASON_LABELS = {
    WasteReason.BROKEN_VIAL: 'Broken vial',
    WasteReason.PUNCTURED_PAST_USABLE_HOURS: 'Punctured vial past its usable hours',
    WasteReason.TEMPERATURE_EXCURSION: 'Temperature excursion',
    WasteReason.EXPIRED: 'Expired',
    WasteReason.OTHER: 'Other',
}


class ShipmentStatus(StrEnum):
    ALLOCATED = 'allocated'
    SHIPPED = 'shipped'
    DELIVERED = 'delivered'


class QuarantineStatus(StrEnum):
    HELD = 'held'
    RELEASED = 'released'
    WASTED = 'wasted'


class ArrivalCondition(StrEnum):
    GOOD = 'good'
    DAMAGED = 'damaged'
    PARTIAL = 'partial'


# ---------------------------------------------------------------- products and lots

class ProductBase(SQLModel):
    name: str = Field(max_length=200)
    manufacturer: str = Field(max_length=200)
    cvx_code: str = Field(max_length=8, unique=True, index=True)
    mvx_code: str = Field(default='', max_length=8)  # the manufacturer's CDC MVX code (HL7 RXA-17)
    ndc: str = Field(default='', max_length=20)
    doses_in_series: int = Field(default=1, ge=1, le=10)
    days_between_doses: int | None = Field(default=None, ge=1, le=365)  # None for a one-dose series
    doses_per_vial: int = Field(default=1, ge=1, le=100)
    storage: str = Field(default=Storage.REFRIGERATED, sa_type=String(16))
    hours_usable_after_puncture: int = Field(default=6, ge=0, le=720)
    is_active: bool = True


class Product(ProductBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)


class ProductCreate(ProductBase):
    pass


class ProductPublic(ProductBase):
    id: int


class Lot(SQLModel, table=True):
    __table_args__ = (UniqueConstraint('product_id', 'lot_number', name='uq_lot_product_lot_number'),)
    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key='product.id', index=True)
    lot_number: str = Field(max_length=40)
    expiration_date: date
    created_at: datetime = Field(default_factory=utcnow)


# ---------------------------------------------------------------- the ledger

class LedgerEntry(SQLModel, table=True):
    """One change to one lot's stock at one location. Rows are only ever added: a mistake is undone by a
    reversal row. The on-hand figure is the sum of `change`."""
    __table_args__ = (Index('ix_ledgerentry_location_lot', 'location_id', 'lot_id'),
                      Index('ix_ledgerentry_location_day', 'location_id', 'day'))
    id: int | None = Field(default=None, primary_key=True)
    location_id: int = Field(foreign_key='location.id')
    lot_id: int = Field(foreign_key='lot.id', index=True)
    change: int  # signed doses: + into stock, - out of stock
    kind: str = Field(sa_type=String(16), index=True)
    reason: str = Field(default='', max_length=500)  # why, in the person's words (required for adjustments)
    waste_reason: str | None = Field(default=None, sa_type=String(32))  # WasteReason for kind=waste
    reference: str | None = Field(default=None, max_length=100, index=True)  # e.g. 'administration:123'
    reverses_entry_id: int | None = Field(default=None, foreign_key='ledgerentry.id', unique=True)
    balance_after: int  # the (location, lot) on hand once this row counted: an audit aid
    actor_user_id: int | None = None  # no FK: the ledger outlives accounts
    actor_email: str | None = Field(default=None, max_length=254)
    at: datetime = Field(default_factory=utcnow, index=True)
    day: date  # the location's local calendar day of `at`: reports group by it


class StockBalance(SQLModel, table=True):
    """Running total of the ledger per (location, lot). Every ledger write locks this row first (SELECT ... FOR
    UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE serializes writers), and the CHECK refuses a negative total
    even if a code path forgot the check."""
    __table_args__ = (CheckConstraint('on_hand >= 0', name='ck_stockbalance_not_negative'),)
    location_id: int = Field(foreign_key='location.id', primary_key=True)
    lot_id: int = Field(foreign_key='lot.id', primary_key=True)
    on_hand: int = 0
    updated_at: datetime = Field(default_factory=utcnow)


class LotStock(SQLModel):
    """What pages and the clinic day receive: one lot's stock at one location."""
    location_id: int
    lot_id: int
    lot_number: str
    expiration_date: date
    product_id: int
    product_name: str
    cvx_code: str
    doses_per_vial: int
    on_hand: int
    expired: bool = False
    expires_soon: bool = False  # within 7 days


class LedgerEntryPublic(SQLModel):
    id: int
    location_id: int
    lot_id: int
    lot_number: str = ''
    product_name: str = ''
    change: int
    kind: str
    reason: str
    waste_reason: str | None
    reference: str | None
    reverses_entry_id: int | None
    balance_after: int
    actor_email: str | None
    at: datetime
    day: date
    reversed: bool = False


# ---------------------------------------------------------------- allocation and shipments

class Allocation(SQLModel, table=True):
    """The state's decision to send doses of a product to a location; it becomes one incoming shipment."""
    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key='product.id', index=True)
    location_id: int = Field(foreign_key='location.id', index=True)
    doses: int = Field(ge=1)
    note: str = Field(default='', max_length=500)
    allocated_by_user_id: int | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Shipment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    allocation_id: int | None = Field(default=None, foreign_key='allocation.id', unique=True)
    product_id: int = Field(foreign_key='product.id', index=True)
    location_id: int = Field(foreign_key='location.id', index=True)
    doses_expected: int
    status: str = Field(default=ShipmentStatus.ALLOCATED, sa_type=String(16), index=True)
    tracking_number: str = Field(default='', max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    received_by_user_id: int | None = None
    condition_on_arrival: str | None = Field(default=None, sa_type=String(16))  # ArrivalCondition
    temperature_excursion: bool = False
    receiving_notes: str = Field(default='', max_length=1000)


class ShipmentReceiptLine(SQLModel, table=True):
    """One lot counted in on receipt; its doses entered the ledger as `ledger_entry_id`."""
    id: int | None = Field(default=None, primary_key=True)
    shipment_id: int = Field(foreign_key='shipment.id', index=True)
    lot_id: int = Field(foreign_key='lot.id')
    quantity: int = Field(ge=0)
    ledger_entry_id: int | None = Field(default=None, foreign_key='ledgerentry.id')


class QuarantinedDoses(SQLModel, table=True):
    """Doses of one lot received with a temperature excursion. They are at the location but not in its stock (no
    ledger row) until a location manager releases them (the manufacturer confirmed them viable: they enter stock
    then) or wastes them; nobody can draw, transfer or count them meanwhile."""
    id: int | None = Field(default=None, primary_key=True)
    location_id: int = Field(foreign_key='location.id', index=True)
    lot_id: int = Field(foreign_key='lot.id')
    shipment_id: int = Field(foreign_key='shipment.id', index=True)
    doses: int = Field(ge=1)
    status: str = Field(default=QuarantineStatus.HELD, sa_type=String(16), index=True)
    received_at: datetime = Field(default_factory=utcnow)
    decided_at: datetime | None = None
    decided_by_user_id: int | None = None
    decision_reason: str = Field(default='', max_length=500)
    ledger_entry_id: int | None = Field(default=None, foreign_key='ledgerentry.id')  # the receipt on release/waste


class QuarantinedDosesPublic(SQLModel):
    id: int
    location_id: int
    lot_id: int
    lot_number: str
    expiration_date: date
    product_name: str
    shipment_id: int
    doses: int
    status: str
    received_at: datetime
    decided_at: datetime | None
    decision_reason: str


class ShipmentPublic(SQLModel):
    id: int
    allocation_id: int | None
    product_id: int
    product_name: str
    location_id: int
    location_name: str
    location_code: str
    time_zone: str = ''  # the location's, in which its times are read
    doses_expected: int
    doses_received: int = 0
    doses_quarantined: int = 0  # of doses_received: held apart after a temperature excursion
    status: str
    tracking_number: str
    created_at: datetime
    shipped_at: datetime | None
    delivered_at: datetime | None
    condition_on_arrival: str | None
    temperature_excursion: bool
    receiving_notes: str


# ---------------------------------------------------------------- the daily "Inventory Levels" count

class InventoryCount(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    location_id: int = Field(foreign_key='location.id', index=True)
    count_date: date
    counted_by_user_id: int | None = None
    note: str = Field(default='', max_length=500)
    created_at: datetime = Field(default_factory=utcnow)


class InventoryCountLine(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    count_id: int = Field(foreign_key='inventorycount.id', index=True)
    lot_id: int = Field(foreign_key='lot.id')
    book_on_hand: int
    counted: int = Field(ge=0)
    difference: int  # counted - book; recorded as a correction row when not zero
    ledger_entry_id: int | None = Field(default=None, foreign_key='ledgerentry.id')
