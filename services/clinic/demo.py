"""Clinic-day demo data: today's clinic at Clinic Location1 with the guide's two appointments ("Test Tall
Recipient-1" and "Grace Mid Wilms", dose 1, scheduled) and morning Pfizer-BioNTech sessions for the coming days."""
from __future__ import annotations

from datetime import date, time, timedelta

from sqlmodel import Session, select

from models import Location, Recipient, RecipientSource, User
from models.clinic import Appointment, ClinicSession, ClinicSlot
from models.inventory import Product
from services.clinic.scheduling import new_case_number
from services.core.localtime import local_moment, local_today
from services.recipients.identity import fold, identity_key

DEMO_PEOPLE = [('Test Tall', 'Recipient-1', date(1985, 4, 12), time(9, 0)),
               ('Grace Mid', 'Wilms', date(1990, 7, 1), time(9, 45))]


def seed_clinic(session: Session) -> None:
    clinic = session.exec(select(Location).where(Location.code == 'DEMO1')).one()
    # One product per session, so a booking without a product choice (the portal's) needs no extra step.
    products = [p.id for p in session.exec(select(Product).where(Product.cvx_code == '208')).all()]
    if not products:
        return
    today = local_today(clinic)
    sessions = {day: _session(session, clinic, day, products) for day in
                [today + timedelta(days=n) for n in range(0, 6)]}
    slots = {s.starts_at: s for s in session.exec(select(ClinicSlot)
                                                  .where(ClinicSlot.clinic_session_id == sessions[today].id)).all()}
    for first, last, born, at in DEMO_PEOPLE:
        person = Recipient(first_name=first, last_name=last, date_of_birth=born, location_id=clinic.id,
                           organization_id=clinic.organization_id, source=RecipientSource.BULK_UPLOAD,
                           identity_key=identity_key(first, last, born), first_name_key=fold(first),
                           last_name_key=fold(last))
        session.add(person)
        session.flush()
        starts = local_moment(today, at, clinic)
        slot = slots[starts]
        slot.booked += 1
        session.add(slot)
        session.add(Appointment(case_number=new_case_number(session), recipient_id=person.id or 0,
                                location_id=clinic.id or 0, slot_id=slot.id, product_id=products[0],
                                dose_number=1, scheduled_at=starts, local_date=today))
    session.flush()


def _session(session: Session, clinic: Location, day: date, products: list[int]) -> ClinicSession:
    clinic_session = ClinicSession(location_id=clinic.id or 0, session_date=day, start_time=time(9),
                                   end_time=time(12), slot_minutes=15, capacity_per_slot=4,
                                   product_ids=','.join(str(p) for p in sorted(products)))
    session.add(clinic_session)
    session.flush()
    start, end = local_moment(day, time(9), clinic), local_moment(day, time(12), clinic)
    while start < end:
        session.add(ClinicSlot(clinic_session_id=clinic_session.id or 0, location_id=clinic.id or 0,
                               starts_at=start, ends_at=start + timedelta(minutes=15), capacity=4))
        start += timedelta(minutes=15)
    session.flush()
    return clinic_session


HISTORY = [('Grace', 'Wilms', '208', (63, 42)), ('Henry', 'History', '212', (50,))]  # person, product, days ago


def seed_dose_history() -> int:
    """Past doses at Clinic Location1, back-entered as a clinic's paper records are (each draws its dose from stock
    and queues its registry message), so a fresh demo's proof of vaccination, reports, FHIR API and registry export
    have something to show. Only `serve --demo` and `seed-demo` add them: the tests' demo data stays without doses.
    Returns the number of doses recorded."""
    from datetime import UTC, datetime

    from services.accounts.auth import principal_for
    from services.clinic.administration import DoseDetails, record_paper_administration
    from services.core.db import session_scope
    from services.inventory import ledger
    from services.recipients.registry import create_recipient
    with session_scope() as session:
        clinic = session.exec(select(Location).where(Location.code == 'DEMO1')).one()
        manager = principal_for(session, session.exec(select(User).where(
            User.email == 'manager@demo.cvms.example.org')).one())
        people = {}
        for first, last, _cvx, _ in HISTORY:
            person = session.exec(select(Recipient).where(Recipient.first_name == first,
                                                          Recipient.last_name == last)).first()
            if person is None:
                person = create_recipient(session=session, values={
                    'first_name': first, 'last_name': last, 'date_of_birth': date(1958, 11, 2)},
                    source=RecipientSource.BULK_UPLOAD, location_id=clinic.id,
                    organization_id=clinic.organization_id)
            people[(first, last)] = person.id
        lots = {s.product_id: s.lot_id for s in ledger.stock(session, location_id=clinic.id or 0) if s.on_hand > 0}
        products = {p.cvx_code: p.id for p in session.exec(select(Product)).all()}
    recorded = 0
    for first, last, cvx, days_ago in HISTORY:
        lot_id = lots.get(products.get(cvx))
        if lot_id is None:
            continue
        for days in days_ago:
            record_paper_administration(principal=manager, recipient_id=people[(first, last)], details=DoseDetails(
                lot_id=lot_id, consent=True, administered_at=datetime.now(UTC) - timedelta(days=days),
                backdate_reason='Demo data: a paper record entered later'))
            recorded += 1
    return recorded
