"""Steps the clinic-day tests share: who is acting, a product with stock, a clinic session, recipients."""
from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

from sqlmodel import select

from models import Location, Recipient, User
from models.inventory import LedgerKind, Product
from services.accounts.auth import principal_for
from services.clinic import scheduling
from services.core import localtime
from services.core.db import session_scope
from services.inventory import ledger
from services.principal import Principal
from services.recipients.identity import fold, identity_key
from tests.helpers import ADMIN, MANAGER, PROVIDER, principal_of  # noqa: F401 - re-exported to tests

principal = principal_of


def manager_of(code: str) -> Principal:
    """The demo's manager for DEMO1; a location manager made on first use for any other location."""
    if code == 'DEMO1':
        return principal(MANAGER)
    email = f'manager.{code.lower()}@demo.cvms.example.org'
    with session_scope() as session:
        user = session.exec(select(User).where(User.email == email)).first()
        if user is None:
            from services.accounts.staff import create_user
            user = create_user(session, email=email, role='location_manager', full_name=f'Manager {code}',
                               location_code=code, password='Another-Demo-Password-2021', send_welcome=False)
        return principal_for(session, user)


def location(code: str = 'DEMO1') -> Location:
    with session_scope() as session:
        return session.exec(select(Location).where(Location.code == code)).one()


def product(*, name: str | None = None, doses: int = 2, interval: int | None = 21, cvx: str | None = None) -> int:
    with session_scope() as session:
        row = Product(name=name or f'Vaccine {uuid.uuid4().hex[:5]}', manufacturer='Test Pharma',
                      cvx_code=cvx or 'T' + uuid.uuid4().hex[:6], doses_in_series=doses, days_between_doses=interval,
                      doses_per_vial=6)
        session.add(row)
        session.flush()
        return row.id or 0


def stock(product_id: int, doses: int, *, code: str = 'DEMO1', lot_number: str | None = None,
          expires: date | None = None) -> int:
    """Receive `doses` of a new lot at the location; returns the lot id."""
    where = location(code).id
    with session_scope() as session:
        lot = ledger.lot_for(session, product_id=product_id, lot_number=lot_number or f'L{uuid.uuid4().hex[:6]}',
                                expiration_date=expires or date.today() + timedelta(days=90))
        if doses:
            ledger.post(session, actor=None, location_id=where, lot_id=lot.id, change=doses,
                           kind=LedgerKind.RECEIPT, reference='test receipt')
        return lot.id or 0


def on_hand(lot_id: int, code: str = 'DEMO1') -> int:
    with session_scope() as session:
        return ledger.on_hand(session, location_id=location(code).id, lot_id=lot_id)


def recipient(first: str = 'Grace', last: str | None = None, *, born: date = date(1961, 3, 9), code: str = 'DEMO1',
              email: str | None = None) -> int:
    last = last or f'Wilms{uuid.uuid4().hex[:4]}'
    with session_scope() as session:
        row = Recipient(first_name=first, last_name=last, date_of_birth=born, email=email,
                        identity_key=identity_key(first, last, born), first_name_key=fold(first),
                        last_name_key=fold(last), location_id=location(code).id)
        session.add(row)
        session.flush()
        return row.id or 0


def clinic_session(product_ids: list[int], *, on: date | None = None, start: time = time(9), end: time = time(12),
                   slot_minutes: int = 15, capacity: int = 4, code: str = 'DEMO1') -> scheduling.ClinicSessionInfo:
    on = on or date.today() + timedelta(days=3)
    return scheduling.create_clinic_session(manager_of(code), location_id=location(code).id, session_date=on,
                                            start_time=start, end_time=end, slot_minutes=slot_minutes,
                                            capacity_per_slot=capacity, product_ids=product_ids)


def today_session(product_ids: list[int], *, capacity: int = 10, code: str = 'DEMO1') -> scheduling.ClinicSessionInfo:
    """A session later today at the location (a few slots from two minutes from now), for desk tests."""
    here = location(code)
    now = localtime.local_now(here)
    start = (now + timedelta(minutes=2)).replace(second=0, microsecond=0)
    if start.date() != now.date() or start.time() > time(23, 40):
        import pytest
        pytest.skip('too close to midnight at the location for a same-day clinic session')
    end = min(datetime.combine(now.date(), time(23, 59)), (start + timedelta(minutes=60)).replace(tzinfo=None))
    return scheduling.create_clinic_session(manager_of(code), location_id=here.id, session_date=now.date(),
                                            start_time=start.time(), end_time=end.time(), slot_minutes=5,
                                            capacity_per_slot=capacity, product_ids=product_ids)


def first_slot(product_id: int, location_id: int | None = None) -> int:
    """The soonest open slot offering the product (the demo has its own sessions too)."""
    return scheduling.open_slots(location_id=location_id or location().id, product_id=product_id, limit=1)[0].slot_id
