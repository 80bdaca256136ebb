"""Vaccine Program Status and the vaccination record a recipient sees."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from services.clinic import dose_rules
from services.core.db import session_scope
from services.portal.choices import STATUS_ENROLLED, STATUS_NOT_ENROLLED, STATUS_VACCINATED
from services.portal.household_members import _recipient
from services.portal.registration_form import Registration, load_registration
from services.portal.vaccine_groups import Group, group_config
from services.principal import Principal

# ---------------------------------------------------------------- Vaccine Program Status

@dataclass(frozen=True)
class Dose:
    dose_number: int
    product_name: str
    lot_number: str
    administered_on: date
    location_name: str


@dataclass(frozen=True)
class NextAppointment:
    appointment_id: int
    case_number: str
    when: str
    location_name: str
    dose_number: int


@dataclass(frozen=True)
class ProgramSummary:
    status: str
    registration_status: str
    group: Group | None
    doses: list[Dose]
    next_appointment: NextAppointment | None
    next_dose_due: date | None
    doses_in_series: int | None

    def group_name(self, lang: str) -> str:
        return self.group.name(lang) if self.group else ''


def group_of(registration: Registration) -> Group | None:
    if registration.group_id is None:
        return None
    return next((g for g in group_config().groups if g.id == registration.group_id), None)


def program_summary(*, principal: Principal, recipient_id: int) -> ProgramSummary:
    """Not Enrolled / Enrolled / Vaccinated, and what to do next (the portal home)."""
    from services.clinic import scheduling  # the clinic-day area owns appointments and doses

    registration = load_registration(principal=principal, recipient_id=recipient_id)
    record = vaccination_record(principal=principal, recipient_id=recipient_id)
    upcoming = [a for a in scheduling.appointments_of(principal=principal, recipient_id=recipient_id)
                if a.status in ('scheduled', 'checked_in')]
    upcoming.sort(key=lambda a: a.scheduled_at)
    next_appointment = None
    if upcoming:
        first = upcoming[0]
        next_appointment = NextAppointment(first.id, first.case_number, first.local_time, first.location_name,
                                           first.dose_number)
    if record.doses:
        status = STATUS_VACCINATED
    elif registration.status == 'complete':
        status = STATUS_ENROLLED
    else:
        status = STATUS_NOT_ENROLLED
    return ProgramSummary(status, registration.status, group_of(registration), record.doses, next_appointment,
                          record.next_dose_due, record.doses_in_series)


@dataclass(frozen=True)
class VaccinationRecord:
    name: str
    date_of_birth: date
    doses: list[Dose]
    next_dose_due: date | None
    doses_in_series: int | None


def _portal_doses(records: list[dose_rules.DoseRecord]) -> list[Dose]:
    """The clinic-day area's record of valid doses (it owns administrations), in the portal's shape."""
    return [Dose(d.dose_number, d.product_name, d.lot_number, d.administered_on, d.location_name) for d in records]


def doses_for_verification(*, recipient_id: int) -> list[Dose]:
    """For the public verification page only, which has no principal and shows initials, doses and dates."""
    return _portal_doses(dose_rules.doses_for_verification(recipient_id=recipient_id))


def vaccination_record(*, principal: Principal, recipient_id: int) -> VaccinationRecord:
    """A household member's proof of vaccination, with the next dose's due date for an unfinished series."""
    from models.inventory import Product

    with session_scope(read_only=True) as session:
        recipient = _recipient(session, principal, recipient_id)
        name, born = f'{recipient.first_name} {recipient.last_name}', recipient.date_of_birth
    records = dose_rules.vaccination_record(principal=principal, recipient_id=recipient_id)
    doses = _portal_doses(records)
    next_due, series = None, None
    if records:
        last = records[-1]
        with session_scope(read_only=True) as session:
            product = session.get(Product, last.product_id)
        if product is not None:
            series = product.doses_in_series
            if last.dose_number < product.doses_in_series and product.days_between_doses:
                next_due = last.administered_on + timedelta(days=product.days_between_doses)
    return VaccinationRecord(name, born, doses, next_due, series)


