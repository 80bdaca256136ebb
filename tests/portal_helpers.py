"""Steps the portal tests share: a clinic with open slots, a recipient invited like a bulk upload does, a dose."""
from __future__ import annotations

import re
from datetime import date, time, timedelta

from sqlmodel import select

from models import Location, Recipient
from services.clinic import administration, checkin, common, scheduling
from services.core import localtime
from services.core.db import session_scope
from services.portal.accounts import attach_recipient
from services.recipients.identity import fold, identity_key
from tests.helpers import MANAGER, principal_of  # noqa: F401 - re-exported to tests
from tests.inventory_helpers import make_product, stocked_lot

principal = principal_of


def open_clinic(code: str = 'DEMO1', *, days_ahead: int = 1, doses: int = 20, lot_number: str = 'LOT-PORTAL',
                product_id: int | None = None) -> tuple[int, int]:
    """A two-dose product with stock at the location and a clinic session `days_ahead` from today
    (09:00-11:00, 15-minute slots). Returns (product id, lot id)."""
    product_id = product_id or make_product(name='Comirnaty Test')
    location_id, lot_id = stocked_lot(code, doses=doses, lot_number=lot_number, product_id=product_id)
    scheduling.create_clinic_session(principal(MANAGER), location_id=location_id,
                                     session_date=local_today(code) + timedelta(days=days_ahead), start_time=time(9),
                                     end_time=time(11), slot_minutes=15, capacity_per_slot=2,
                                     product_ids=[product_id])
    return product_id, lot_id


def invite(first: str, last: str, born: date, email: str, code: str = 'DEMO1') -> int:
    """A recipient loaded by a provider: the same attach_recipient the bulk upload uses (queues the welcome email)."""
    with session_scope() as session:
        location = session.exec(select(Location).where(Location.code == code)).one()
        recipient = Recipient(first_name=first, last_name=last, date_of_birth=born, email=email,
                              location_id=location.id, organization_id=location.organization_id,
                              identity_key=identity_key(first, last, born), first_name_key=fold(first),
                              last_name_key=fold(last))
        session.add(recipient)
        session.flush()
        attach_recipient(session, recipient)
        return recipient.id


def give_dose(case_number: str, lot_id: int) -> None:
    """The clinic desk: check the person in and record the dose (the clinic-day services)."""
    manager = principal(MANAGER)
    with session_scope() as session:
        from models.clinic import Appointment
        appointment_id = session.exec(select(Appointment.id).where(Appointment.case_number == case_number)).one()
    checkin.check_in(manager, appointment_id)
    answers = {key: 'no' for key, _ in common.SCREENING_QUESTIONS}
    administration.record_vaccination(manager, appointment_id=appointment_id,
                              details=administration.DoseDetails(lot_id=lot_id, screening=answers, consent=True))


def link_in(body: str, path: str) -> str:
    match = re.search(rf'https?://\S+({re.escape(path)}\S+)', body)
    assert match, body
    return match.group(1)


def recipient_named(first: str) -> Recipient:
    with session_scope() as session:
        return session.exec(select(Recipient).where(Recipient.first_name == first)).one()


def local_today(code: str = 'DEMO1') -> date:
    """Today at the location (doses are dated in its time zone, which may differ from UTC's date)."""
    with session_scope() as session:
        location = session.exec(select(Location).where(Location.code == code)).one()
        return localtime.local_today(location)
