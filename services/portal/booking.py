"""Booking, rescheduling and cancelling from the portal (the clinic's booking rules)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.core.errors import ValidationFailed
from services.core.i18n import translator
from services.portal.household_members import language_of
from services.portal.program_status import vaccination_record
from services.portal.registration_form import load_registration
from services.principal import Principal

# ---------------------------------------------------------------- appointments (the clinic-day area's booking rules)

@dataclass(frozen=True)
class LocationChoice:
    location_id: int
    location_name: str
    address: str
    city: str
    county: str
    soonest: str


def locations_with_open_slots(*, county: str | None = None, city: str | None = None,
                              on_or_after: date | None = None) -> list[LocationChoice]:
    """Locations with an open slot, the one with the soonest slot first (filter by county or city)."""
    from services.clinic import scheduling

    seen: dict[int, LocationChoice] = {}
    for slot in scheduling.open_slots(county=county or None, city=(city or '').strip() or None,
                                      on_or_after=on_or_after, limit=1000):
        if slot.location_id not in seen:
            seen[slot.location_id] = LocationChoice(slot.location_id, slot.location_name, slot.address, slot.city,
                                                    slot.county, slot.local_time)
    return list(seen.values())


def slots_at(*, location_id: int, on_or_after: date | None = None, limit: int = 60) -> list:  # noqa: ANN401
    from services.clinic import scheduling

    return scheduling.open_slots(location_id=location_id, on_or_after=on_or_after, limit=limit)


def upcoming_appointments(*, principal: Principal, recipient_id: int) -> list:  # noqa: ANN401
    from services.clinic import scheduling

    rows = [a for a in scheduling.appointments_of(principal=principal, recipient_id=recipient_id)
            if a.status in ('scheduled', 'checked_in')]
    return sorted(rows, key=lambda a: a.scheduled_at)


def book(*, principal: Principal, recipient_id: int, slot_id: int):  # noqa: ANN201
    """A recipient books for a household member, once registered (the guide: register before booking).
    The next dose is never offered before its due date."""
    from services.clinic import scheduling

    registration = load_registration(principal=principal, recipient_id=recipient_id)
    lang = language_of(principal=principal)
    _t = translator(lang)
    record = vaccination_record(principal=principal, recipient_id=recipient_id)
    if registration.status != 'complete' and not record.doses:
        raise ValidationFailed(_t('Complete the COVID-19 Vaccine Registration before booking an appointment.'))
    if record.doses_in_series and len(record.doses) >= record.doses_in_series:
        raise ValidationFailed(_t('Your vaccine series is complete.'))
    if record.next_dose_due is not None:
        allowed = scheduling.open_slots(on_or_after=record.next_dose_due, limit=1000)
        if not any(s.slot_id == slot_id for s in allowed):
            raise ValidationFailed(_t('Your next dose is due on or after {date}.')
                                   .format(date=f'{record.next_dose_due:%m/%d/%Y}'))
    return scheduling.book_appointment(principal=principal, recipient_id=recipient_id, slot_id=slot_id)


def reschedule_booking(*, principal: Principal, appointment_id: int, slot_id: int):  # noqa: ANN201
    from services.clinic import scheduling

    return scheduling.reschedule_appointment(principal=principal, appointment_id=appointment_id, slot_id=slot_id)


def cancel_booking(*, principal: Principal, appointment_id: int):  # noqa: ANN201
    from services.clinic import scheduling

    return scheduling.cancel_appointment(principal=principal, appointment_id=appointment_id,
                                         reason='Cancelled by the recipient')
