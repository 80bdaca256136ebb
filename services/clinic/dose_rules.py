"""A person's valid doses (the proof of vaccination) and the dose rules: what needs an override."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from models import Location, Recipient, User, utcnow
from models.clinic import (
    Administration,
)
from models.inventory import Lot, Product
from services.clinic.common import _location_of
from services.core.db import session_scope
from services.core.localtime import as_utc, local_date
from services.permissions import Action, fetch, require
from services.principal import Principal

# ---------------------------------------------------------------- Record vaccination

@dataclass(frozen=True)
class DoseRecord:
    administration_id: int
    dose_number: int
    product_id: int
    product_name: str
    manufacturer: str
    cvx_code: str
    lot_number: str
    administered_at: datetime
    administered_on: date  # the day at the location
    location_name: str
    site: str
    route: str
    dose_volume_ml: float
    administered_by: str

def valid_dose_rows(session: Session, recipient_id: int) -> list[tuple[Administration, Product, Lot, Location]]:
    """A person's doses that count (not voided), oldest first, with their product, lot and location. Inside a unit
    of work that fetched the person through permissions."""
    return list(session.exec(select(Administration, Product, Lot, Location)
                             .join(Product, col(Product.id) == col(Administration.product_id))
                             .join(Lot, col(Lot.id) == col(Administration.lot_id))
                             .join(Location, col(Location.id) == col(Administration.location_id))
                             .where(Administration.recipient_id == recipient_id)
                             .where(col(Administration.voided).is_(False))
                             .order_by(col(Administration.administered_at), col(Administration.id))).all())


def _history(session: Session, recipient_id: int) -> list[DoseRecord]:
    rows = valid_dose_rows(session, recipient_id)
    users = {u.id: u.full_name or u.email for u in session.exec(
        select(User).where(col(User.id).in_({a.administered_by_user_id for a, *_ in rows}))).all()} if rows else {}
    return [DoseRecord(
        administration_id=a.id or 0, dose_number=a.dose_number, product_id=p.id or 0, product_name=p.name,
        manufacturer=p.manufacturer, cvx_code=p.cvx_code, lot_number=lot.lot_number,
        administered_at=as_utc(a.administered_at),
        administered_on=local_date(a.administered_at, loc), location_name=loc.name,
        site=a.site, route=a.route, dose_volume_ml=a.dose_volume_ml,
        administered_by=users.get(a.administered_by_user_id, '')) for a, p, lot, loc in rows]


def vaccination_record(*, principal: Principal, recipient_id: int) -> list[DoseRecord]:
    """Every valid (not voided) dose of a person, oldest first: the proof of vaccination, for those who may see
    the person and their health data (permissions: their location's staff, their household, state admins)."""
    with session_scope(read_only=True) as session:
        fetch(session, Recipient, recipient_id, principal=principal, action='view_vaccination_record',
              health_data=True)
        return _history(session, recipient_id)


def doses_for_verification(*, recipient_id: int) -> list[DoseRecord]:
    """The same doses for the public verification link, which has no principal: its caller holds the person's
    unguessable proof code and shows only initials, doses and dates."""
    with session_scope(read_only=True) as session:
        return _history(session, recipient_id)



def dose_number(earlier: list[DoseRecord]) -> int:
    """The one dose-number rule: a dose is numbered after the person's valid doses given before it. Voided doses do
    not count; doses of every product and location do (mixing products is an override, not a new series)."""
    return len(earlier) + 1


def next_dose_number(session: Session, recipient_id: int, *, given_at: datetime | None = None) -> int:
    """The number of the person's dose given at `given_at` (default now): for a booking, a walk-in, a dose."""
    return dose_number(doses_before(session, recipient_id, given_at or utcnow()))


def doses_before(session: Session, recipient_id: int, given_at: datetime) -> list[DoseRecord]:
    """The person's valid doses given up to `given_at` (a dose entered later, on paper, is numbered in order)."""
    return [h for h in _history(session, recipient_id) if h.administered_at <= given_at]


def dose_problems(history: list[DoseRecord], product: Product, given_on: date) -> list[str]:
    """What makes this dose need an explicit override (`history`: the valid doses before it): beyond the series,
    mixed products, too early."""
    problems = []
    number = dose_number(history)
    if number > product.doses_in_series:
        problems.append(f'Dose {number} is beyond the {product.doses_in_series}-dose series of {product.name}.')
    if history and history[-1].product_id != product.id:
        problems.append(f'Earlier dose was {history[-1].product_name}; this dose is {product.name} '
                        '(products mixed within a series).')
    if history and product.days_between_doses:
        earliest = history[-1].administered_on + timedelta(days=product.days_between_doses)
        if given_on < earliest:
            problems.append(f'Dose {number} is earlier than the {product.days_between_doses}-day interval '
                            f'of {product.name}: due on or after {earliest:%m/%d/%Y}.')
    return problems


def preview_dose_problems(*, principal: Principal, recipient_id: int, lot_id: int | None,
                          at: datetime | None = None) -> list[str]:
    """What Record vaccination will ask an override for, shown before saving."""
    require(principal, Action.RECORD_VACCINATION)
    with session_scope(read_only=True) as session:
        fetch(session, Recipient, recipient_id, principal=principal, action='preview_dose_problems', health_data=True)
        if lot_id is None:
            return []
        lot = fetch(session, Lot, lot_id, principal=principal, action='preview_dose_problems')
        product = session.get(Product, lot.product_id)
        location = _location_of(session, principal)
        if product is None:
            return []
        given_at = as_utc(at) if at else utcnow()
        return dose_problems(doses_before(session, recipient_id, given_at), product, local_date(given_at, location))
