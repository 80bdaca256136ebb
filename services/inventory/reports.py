"""Inventory reports, all computed from the stock ledger.

Definitions (also in docs/adr/0003-inventory-ledger.md):
- received: receipts and transfers in; administered: administrations; wasted: waste rows. A reversal counts
  against the kind of row it reverses, on the day it was recorded.
- wastage rate: wasted ÷ (administered + wasted) over the period.
- days of supply: usable (unexpired) doses on hand ÷ average daily administration over the last 7 full days
  (yesterday and the 6 days before; today is still under way). None when nothing was administered.
- doses expiring unused: per product, lots are used soonest-expiry first at that product's 7-day rate; what a lot
  still holds when it expires is counted.
- at risk: under 3 days of supply, or any dose expiring unused.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from models import Location
from models.inventory import LedgerEntry, LedgerKind, Lot, Product
from services.core import audit, csv_safe
from services.core.db import session_scope
from services.core.localtime import local_today
from services.permissions import Action, Kind, fetch, require, scope
from services.principal import Principal

RATE_WINDOW_DAYS = 7
SHORT_SUPPLY_DAYS = 3
RECEIVED = (LedgerKind.RECEIPT, LedgerKind.TRANSFER_IN)


@dataclass
class DayFigures:
    day: date
    received: int = 0
    administered: int = 0
    wasted: int = 0
    other: int = 0  # transfers out and count corrections (signed)
    on_hand_end: int = 0


@dataclass
class LotRisk:
    product_name: str
    lot_number: str
    expiration_date: date
    on_hand: int
    expiring_unused: int


@dataclass
class LocationSummary:
    location_id: int
    name: str
    code: str
    today: date
    on_hand: int = 0
    usable_on_hand: int = 0
    expired_on_hand: int = 0
    received: int = 0  # in the report period
    administered: int = 0
    wasted: int = 0
    administered_last_7_days: int = 0
    expiring_unused: int = 0
    lots_at_risk: list[LotRisk] = field(default_factory=list)

    @property
    def average_daily_administered(self) -> float:
        return self.administered_last_7_days / RATE_WINDOW_DAYS

    @property
    def days_of_supply(self) -> float | None:
        rate = self.average_daily_administered
        return self.usable_on_hand / rate if rate else None

    @property
    def wastage_rate(self) -> float | None:
        used = self.administered + self.wasted
        return self.wasted / used if used else None

    @property
    def short_of_supply(self) -> bool:
        return self.days_of_supply is not None and self.days_of_supply < SHORT_SUPPLY_DAYS

    @property
    def at_risk(self) -> bool:
        return self.short_of_supply or self.expiring_unused > 0

    @property
    def risk_reasons(self) -> list[str]:
        reasons = []
        if self.short_of_supply:
            reasons.append(f'{self.days_of_supply:.1f} days of supply (under {SHORT_SUPPLY_DAYS})')
        if self.expiring_unused:
            reasons.append(f'{self.expiring_unused} doses expire before they can be used at the current rate')
        return reasons


@dataclass
class LocationReport:
    summary: LocationSummary
    start: date
    end: date
    days: list[DayFigures]


# ---------------------------------------------------------------- what pages call

def report_locations(*, principal: Principal) -> list[tuple[int, str]]:
    """(id, label) of the locations this person may report on."""
    require(principal, Action.VIEW_REPORTS)
    with session_scope(read_only=True) as session:
        query = scope(select(Location), principal=principal, kind=Kind.LOCATION).order_by(col(Location.name))
        return [(loc.id or 0, f'{loc.name} ({loc.code})') for loc in session.exec(query)]


def location_report(*, principal: Principal, location_id: int, days: int = 14, today: date | None = None
                    ) -> LocationReport:
    """One location's figures by day for the last `days` days (today included) and its supply outlook."""
    require(principal, Action.VIEW_REPORTS, location_id=location_id, check_location=True)
    with session_scope(read_only=True) as session:
        location = fetch(session, Location, location_id, principal=principal, action=str(Action.VIEW_REPORTS))
        today = today or local_today(location)
        start = today - timedelta(days=max(days, 1) - 1)
        summary = _summaries(session, [location], start=start, end=today, today=today)[location_id]
        return LocationReport(summary=summary, start=start, end=today,
                              days=_by_day(session, location_id, start=start, end=today))


def state_overview(*, principal: Principal, days: int = 14, today: date | None = None) -> list[LocationSummary]:
    """Every location's supply outlook (the state admin's view), those at risk first."""
    require(principal, Action.VIEW_REPORTS)
    require(principal, Action.VIEW_ALL_LOCATIONS)
    with session_scope(read_only=True) as session:
        locations = session.exec(select(Location).order_by(col(Location.name))).all()
        groups: dict[date, list[Location]] = defaultdict(list)
        for location in locations:  # each location's own calendar day (time zones)
            groups[today or local_today(location)].append(location)
        summaries: dict[int, LocationSummary] = {}
        for day, group in groups.items():
            summaries |= _summaries(session, group, start=day - timedelta(days=days - 1), end=day, today=day)
    return sorted(summaries.values(), key=lambda s: (not s.at_risk, s.days_of_supply is None,
                                                     s.days_of_supply or 0, s.name))


def location_report_csv(report: LocationReport, *, principal: Principal | None = None) -> bytes:
    """The report as CSV; the download is audited for `principal` (the screen passes it)."""
    s = report.summary
    _audit_download(principal, f'inventory report {s.code} {report.end:%Y-%m-%d}')
    return csv_safe.to_csv_bytes(
        ['Date', 'Location', 'Location code', 'Doses received', 'Doses administered', 'Doses wasted',
         'Other changes (transfers out, corrections)', 'On hand at end of day'],
        [[d.day.isoformat(), s.name, s.code, d.received, d.administered, d.wasted, d.other, d.on_hand_end]
         for d in report.days])


def state_overview_csv(summaries: list[LocationSummary], *, principal: Principal | None = None) -> bytes:
    _audit_download(principal, f'inventory overview of {len(summaries)} locations')
    return csv_safe.to_csv_bytes(
        ['Location', 'Location code', 'On hand', 'Usable on hand', 'Expired on hand', 'Received', 'Administered',
         'Wasted', 'Wastage rate %', 'Average daily administered (7 days)', 'Days of supply',
         'Doses expiring unused', 'At risk', 'Why'],
        [[s.name, s.code, s.on_hand, s.usable_on_hand, s.expired_on_hand, s.received, s.administered, s.wasted,
          _fmt(None if s.wastage_rate is None else s.wastage_rate * 100), _fmt(s.average_daily_administered),
          _fmt(s.days_of_supply), s.expiring_unused, 'yes' if s.at_risk else 'no', '; '.join(s.risk_reasons)]
         for s in summaries])


def _audit_download(principal: Principal | None, what: str) -> None:
    if principal is not None:
        audit.record_now(action='download_report_csv', actor=principal, detail=what)


def _fmt(value: float | None) -> str:
    return '' if value is None else f'{value:.1f}'


# ---------------------------------------------------------------- the figures

def _category():  # noqa: ANN202 - a SQL expression
    """The kind a row counts as: a reversal counts as the kind of the row it reverses."""
    original = aliased(LedgerEntry)
    return original, func.coalesce(original.kind, LedgerEntry.kind)


def _by_day(session: Session, location_id: int, *, start: date, end: date) -> list[DayFigures]:
    original, category = _category()
    rows = session.exec(
        select(LedgerEntry.day, category, func.sum(LedgerEntry.change))
        .outerjoin(original, col(original.id) == col(LedgerEntry.reverses_entry_id))
        .where(LedgerEntry.location_id == location_id, col(LedgerEntry.day) >= start, col(LedgerEntry.day) <= end)
        .group_by(col(LedgerEntry.day), category)).all()
    opening = session.exec(select(func.coalesce(func.sum(LedgerEntry.change), 0))
                           .where(LedgerEntry.location_id == location_id, col(LedgerEntry.day) < start)).one()
    figures = {start + timedelta(days=i): DayFigures(day=start + timedelta(days=i))
               for i in range((end - start).days + 1)}
    for day, kind, change in rows:
        _add(figures[day], kind, int(change))
    balance = int(opening)
    for day in sorted(figures):
        f = figures[day]
        balance += f.received - f.administered - f.wasted + f.other
        f.on_hand_end = balance
    return [figures[day] for day in sorted(figures)]


def _add(figures: DayFigures | LocationSummary, kind: str, change: int) -> None:
    if kind in RECEIVED:
        figures.received += change
    elif kind == LedgerKind.ADMINISTRATION:
        figures.administered -= change
    elif kind == LedgerKind.WASTE:
        figures.wasted -= change
    elif isinstance(figures, DayFigures):
        figures.other += change


def _summaries(session: Session, locations: list[Location], *, start: date, end: date, today: date
               ) -> dict[int, LocationSummary]:
    ids = [loc.id for loc in locations]
    result = {loc.id or 0: LocationSummary(location_id=loc.id or 0, name=loc.name, code=loc.code, today=today)
              for loc in locations}
    if not ids:
        return result
    original, category = _category()
    for location_id, kind, change in session.exec(
            select(LedgerEntry.location_id, category, func.sum(LedgerEntry.change))
            .outerjoin(original, col(original.id) == col(LedgerEntry.reverses_entry_id))
            .where(col(LedgerEntry.location_id).in_(ids), col(LedgerEntry.day) >= start, col(LedgerEntry.day) <= end)
            .group_by(col(LedgerEntry.location_id), category)).all():
        _add(result[location_id], kind, int(change))

    # The 7-day administration rate per (location, product): the rate a product's lots are used at.
    rate: dict[tuple[int, int], int] = defaultdict(int)
    for location_id, product_id, change in session.exec(
            select(LedgerEntry.location_id, Lot.product_id, func.sum(LedgerEntry.change))
            .join(Lot, col(Lot.id) == col(LedgerEntry.lot_id))
            .outerjoin(original, col(original.id) == col(LedgerEntry.reverses_entry_id))
            .where(col(LedgerEntry.location_id).in_(ids), category == LedgerKind.ADMINISTRATION,
                   col(LedgerEntry.day) >= today - timedelta(days=RATE_WINDOW_DAYS),
                   col(LedgerEntry.day) < today)
            .group_by(col(LedgerEntry.location_id), col(Lot.product_id))).all():
        rate[(location_id, product_id)] = -int(change)
        result[location_id].administered_last_7_days += -int(change)

    # Stock now, lot by lot, soonest expiry first.
    lots_by_product: dict[tuple[int, int], list[tuple[Lot, Product, int]]] = defaultdict(list)
    for location_id, lot, product, doses in session.exec(
            select(LedgerEntry.location_id, Lot, Product, func.sum(LedgerEntry.change))
            .join(Lot, col(Lot.id) == col(LedgerEntry.lot_id))
            .join(Product, col(Product.id) == col(Lot.product_id))
            .where(col(LedgerEntry.location_id).in_(ids))
            .group_by(col(LedgerEntry.location_id), col(Lot.id), col(Product.id))
            .order_by(col(Lot.expiration_date), col(Lot.id))).all():
        doses = int(doses)
        summary = result[location_id]
        summary.on_hand += doses
        if lot.expiration_date < today:
            summary.expired_on_hand += doses
        elif doses > 0:
            summary.usable_on_hand += doses
            lots_by_product[(location_id, product.id or 0)].append((lot, product, doses))

    for (location_id, product_id), lots in lots_by_product.items():
        daily = rate[(location_id, product_id)] / RATE_WINDOW_DAYS
        used_before = 0  # doses of earlier-expiring lots used meanwhile
        for lot, product, doses in lots:
            days_left = (lot.expiration_date - today).days + 1  # usable through the expiration day
            can_use = max(0, math.floor(daily * days_left + 1e-9) - used_before)
            unused = max(0, doses - can_use)
            used_before += doses - unused
            if unused:
                result[location_id].expiring_unused += unused
                result[location_id].lots_at_risk.append(LotRisk(product_name=product.name, lot_number=lot.lot_number,
                                                                expiration_date=lot.expiration_date, on_hand=doses,
                                                                expiring_unused=unused))
    return result

