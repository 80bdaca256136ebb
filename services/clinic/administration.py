"""Record vaccination (the dose drawn from inventory in the same transaction), paper back-entry, corrections and
voids, the day's doses."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from models import Location, Recipient, utcnow
from models.clinic import (
    OPEN_STATUSES,
    Administration,
    Appointment,
    AppointmentPublic,
    AppointmentStatus,
    DeskPreference,
    DoseReminder,
    ReminderStatus,
)
from models.inventory import Lot, LotStock, Product
from models.portal import RegistrationProgress
from models.registry import RegistryAction
from services.clinic import dose_rules
from services.clinic.common import (
    SCREENING_QUESTIONS,
    _changed,
    _location_of,
    _screening_json,
    screening_answers,
    unanswered_screening,
)
from services.clinic.dose_rules import DoseRecord, _history, dose_problems, doses_before
from services.clinic.scheduling import _cancel, to_public
from services.core import audit
from services.core.db import session_scope
from services.core.errors import ServiceError, ValidationFailed
from services.core.localtime import as_utc, day_span, local_date, local_today, zone_name
from services.inventory import ledger
from services.permissions import Action, Kind, fetch, require, visible
from services.principal import Principal
from services.recipients.visibility import listed
from services.registry import codes as registry_codes
from services.registry import reporting

REMINDER_DAYS_BEFORE = 3
BACKDATE_TOLERANCE = timedelta(minutes=15)  # "now" typed a little late is still now
SITES = ['Left deltoid', 'Right deltoid', 'Left thigh', 'Right thigh']
ROUTES = ['Intramuscular (IM)', 'Subcutaneous (SC)']
DEFAULT_VOLUME_BY_CVX = {'208': 0.3, '207': 0.5, '212': 0.5}  # Pfizer-BioNTech, Moderna, Janssen (2021)


@dataclass(frozen=True)
class VaccinationForm:
    appointment: AppointmentPublic
    history: list[DoseRecord]
    dose_number: int
    lots: list[LotStock]
    lot_id: int | None
    site: str
    route: str
    dose_volume_ml: float
    screening: dict[str, str]  # only the questions already answered: the rest are asked at the desk
    screening_by_recipient: frozenset[str]  # the keys answered by the person in the portal's health questionnaire
    administered_by: str
    time_zone: str



def vaccination_form(*, principal: Principal, appointment_id: int) -> VaccinationForm:
    """Everything Record vaccination shows, with the desk's defaults filled in."""
    require(principal, Action.RECORD_VACCINATION)
    with session_scope(read_only=True) as session:
        appointment_row = fetch(session, Appointment, appointment_id, principal=principal, action='vaccination_form')
        current = to_public(session, appointment_row)
        history = _history(session, current.recipient_id)
        lots = ledger.usable_lots(session, location_id=current.location_id)
        preference = session.exec(select(DeskPreference).where(DeskPreference.user_id == principal.user_id)
                                  .where(DeskPreference.location_id == current.location_id)).first()
        lot_ids = [s.lot_id for s in lots]
        wanted_product = history[-1].product_id if history else current.product_id
        lot_id = None
        if preference and preference.lot_id in lot_ids:
            lot_id = preference.lot_id
            chosen = next(s for s in lots if s.lot_id == lot_id)
            if wanted_product is not None and chosen.product_id != wanted_product:
                lot_id = None  # the series' product first
        if lot_id is None and lots:
            same = [s for s in lots if s.product_id == wanted_product] if wanted_product else []
            lot_id = (same or lots)[0].lot_id
        volume = preference.dose_volume_ml if preference and preference.dose_volume_ml else None
        if lot_id is not None and volume is None:
            volume = DEFAULT_VOLUME_BY_CVX.get(next(s for s in lots if s.lot_id == lot_id).cvx_code, 0.5)
        given = screening_answers(appointment_row.screening)  # at point-of-care registration, by the staff
        portal = _portal_health_answers(session, current.recipient_id)
        form = VaccinationForm(
            appointment=current, history=history, dose_number=dose_rules.dose_number(history), lots=lots, lot_id=lot_id,
            site=(preference.site if preference and preference.site else SITES[0]),
            route=(preference.route if preference and preference.route else ROUTES[0]),
            dose_volume_ml=volume or 0.5,
            screening={**portal, **given},
            screening_by_recipient=frozenset(set(portal) - set(given)),
            administered_by=principal.full_name or principal.email,
            time_zone=zone_name(_location_of(session, principal)))
    audit.record_now(action='view_vaccination_form', actor=principal, entity_type='recipient',
                     entity_id=current.recipient_id, detail=f'appointment {appointment_id}')
    return form


def _portal_health_answers(session: Session, recipient_id: int) -> dict[str, str]:
    """The Yes/No answers the person gave in the portal's health questionnaire (the same keys as the screening);
    "Don't know" is left for the desk to ask."""
    raw = session.exec(select(RegistrationProgress.health_answers_json)
                       .where(RegistrationProgress.recipient_id == recipient_id)).first()
    answers = json.loads(raw) if raw else {}
    known = {key for key, _ in SCREENING_QUESTIONS}
    return {k: v for k, v in answers.items() if k in known and v in ('yes', 'no')} if isinstance(answers, dict) else {}


def location_time_zone(*, principal: Principal) -> str:
    with session_scope(read_only=True) as session:
        return zone_name(_location_of(session, principal))


def lots_on_hand(*, principal: Principal) -> list[LotStock]:
    """Every lot with doses at the user's location, expired ones included (back-entry of doses given earlier)."""
    require(principal, Action.RECORD_VACCINATION, location_id=principal.location_id, check_location=True)
    with session_scope(read_only=True) as session:
        return ledger.stock(session, location_id=principal.location_id or 0)


class OverrideNeeded(ServiceError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__('This dose needs an override with a reason: ' + ' '.join(problems))


@dataclass(frozen=True)
class RecordedDose:
    administration_id: int
    dose_number: int
    product_id: int
    product_name: str
    lot_number: str
    administered_at: datetime
    next_dose_number: int | None
    next_dose_due: date | None  # None when the series is complete
    reminder_id: int | None


@dataclass
class DoseDetails:
    lot_id: int
    site: str = SITES[0]
    route: str = ROUTES[0]
    dose_volume_ml: float = 0.5
    administered_at: datetime | None = None  # None: now
    backdate_reason: str = ''
    override_reason: str = ''
    screening: dict[str, str] = field(default_factory=dict)
    consent: bool = False
    expected_dose_number: int | None = None  # as written on a paper form: checked against the history
    # VFC funding eligibility (HL7 table 0064, the VXU's OBX 64994-7); None: not VFC eligible (V01), or on a
    # correction the original's
    funding_eligibility: str | None = None


def record_vaccination(*, principal: Principal, appointment_id: int, details: DoseDetails) -> RecordedDose:
    """Save a dose for a checked-in person: draws it from the lot in the same transaction, completes the
    appointment, and for an unfinished series computes the next due date and schedules its reminder."""
    require(principal, Action.RECORD_VACCINATION)
    with session_scope() as session:
        row = fetch(session, Appointment, appointment_id, principal=principal, action='record_vaccination')
        if row.status == AppointmentStatus.SCHEDULED:
            raise ServiceError('Check the person in before recording the dose.')
        if row.status != AppointmentStatus.CHECKED_IN:
            raise ServiceError(f'This appointment is {AppointmentStatus(row.status).label.lower()}; a dose can only '
                               'be recorded for a checked-in person.')
        result = _administer(session, principal, recipient_id=row.recipient_id, location_id=row.location_id,
                             appointment=row, details=details, source='desk')
        reporting.queue_dose_event(session, administration_id=result.administration_id, action=RegistryAction.ADD)
        row.status, row.completed_at = AppointmentStatus.COMPLETED, utcnow()
        session.add(row)
        _remember_desk_choices(session, principal, row.location_id, details, result.product_id)
        location_id = row.location_id
    _changed(location_id)
    return result


def record_paper_administration(*, principal: Principal, recipient_id: int, details: DoseDetails,
                                source: str = 'paper', named: tuple[str, str, date] | None = None) -> RecordedDose:
    """Back-entry of a dose written on the paper administration form during an outage (no appointment needed),
    recorded at the user's location. The person must be one the user may see, or be `named` exactly (first name,
    last name, date of birth as written on the form). Consent was taken on paper."""
    require(principal, Action.RECORD_VACCINATION, location_id=principal.location_id, check_location=True)
    if details.administered_at is None:
        raise ValidationFailed('Enter the date and time the dose was given (from the paper form).')
    details.backdate_reason = details.backdate_reason.strip() or 'Recorded on paper during an outage'
    details.consent = True
    with session_scope() as session:
        fetch(session, Recipient, recipient_id, principal=principal, action='record_paper_administration', named=named)
        result = _administer(session, principal, recipient_id=recipient_id, location_id=principal.location_id or 0,
                             appointment=None, details=details, source=source)
        reporting.queue_dose_event(session, administration_id=result.administration_id, action=RegistryAction.ADD)
    _changed(principal.location_id)
    return result


def _administer(session: Session, principal: Principal, *, recipient_id: int, location_id: int,
                appointment: Appointment | None, details: DoseDetails, source: str) -> RecordedDose:
    if not details.consent:
        raise ValidationFailed('Record the person\'s consent before saving the dose.')
    if source == 'desk':
        unanswered = unanswered_screening(details.screening)
        if unanswered:
            raise ValidationFailed(f'Answer every screening question ({len(unanswered)} left).')
    if details.site not in SITES:
        raise ValidationFailed(f'Site: choose one of {", ".join(SITES)}.')
    eligibility = details.funding_eligibility or registry_codes.DEFAULT_FUNDING_ELIGIBILITY
    if eligibility not in registry_codes.FUNDING_ELIGIBILITY:
        raise ValidationFailed(f'Funding eligibility: choose one of {", ".join(registry_codes.FUNDING_ELIGIBILITY)}.')
    if details.route not in ROUTES:
        raise ValidationFailed(f'Route: choose one of {", ".join(ROUTES)}.')
    if not 0.05 <= float(details.dose_volume_ml) <= 2.0:
        raise ValidationFailed('Dose volume must be between 0.05 and 2.0 mL.')
    now = utcnow()
    given_at = as_utc(details.administered_at) if details.administered_at else now
    if given_at > now + BACKDATE_TOLERANCE:
        raise ValidationFailed('The time given cannot be in the future.')
    backdated = given_at < now - BACKDATE_TOLERANCE
    if backdated and not details.backdate_reason.strip():
        raise ValidationFailed('An earlier time needs a reason (for example: recorded on paper during an outage).')
    lot = fetch(session, Lot, details.lot_id, principal=principal, action='record_vaccination')
    product = session.get(Product, lot.product_id)
    location = session.get(Location, location_id)
    assert product is not None and location is not None
    history = doses_before(session, recipient_id, given_at)
    problems = dose_problems(history, product, local_date(given_at, location))
    if problems and not details.override_reason.strip():
        raise OverrideNeeded(problems)
    dose_number = dose_rules.dose_number(history)
    if details.expected_dose_number is not None and details.expected_dose_number != dose_number:
        raise ValidationFailed(f'Dose number {details.expected_dose_number} does not match the person\'s record: '
                               f'this would be dose {dose_number}.')
    administration = Administration(
        recipient_id=recipient_id, appointment_id=appointment.id if appointment else None, location_id=location_id,
        product_id=product.id or 0, lot_id=lot.id or 0, dose_number=dose_number, site=details.site,
        route=details.route, dose_volume_ml=float(details.dose_volume_ml), funding_eligibility=eligibility,
        administered_by_user_id=principal.user_id,
        administered_at=given_at, screening=_screening_json(details.screening), consent=True, source=source,
        backdate_reason=details.backdate_reason.strip()[:300] if backdated else None,
        override_reason=details.override_reason.strip()[:300] if problems else None,
        recorded_by_user_id=principal.user_id)
    session.add(administration)
    session.flush()
    entry = ledger.draw_dose(session, principal=principal, location_id=location_id, lot_id=lot.id or 0,
                                reference=f'administration:{administration.id}', at=given_at)
    administration.ledger_entry_id = entry.id
    session.add(administration)
    # The dose is given: other open appointments for it are no longer needed, nor reminders for it.
    for other in session.exec(select(Appointment).where(Appointment.recipient_id == recipient_id)
                              .where(col(Appointment.status).in_(OPEN_STATUSES))).all():
        if appointment is None or other.id != appointment.id:
            if other.dose_number <= dose_number:
                _cancel(session, other, reason='Dose recorded')
    for reminder in session.exec(select(DoseReminder).where(DoseReminder.recipient_id == recipient_id)
                                 .where(DoseReminder.status == ReminderStatus.PENDING)
                                 .where(DoseReminder.dose_number <= dose_number)).all():
        reminder.status, reminder.outcome, reminder.processed_at = (ReminderStatus.SUPPRESSED,
                                                                    'dose already recorded', now)
        session.add(reminder)
    next_due, reminder_id = None, None
    if dose_number < product.doses_in_series and product.days_between_doses:
        next_due = local_date(given_at, location) + timedelta(days=product.days_between_doses)
        send_on = max(next_due - timedelta(days=REMINDER_DAYS_BEFORE), local_today(location))
        reminder = DoseReminder(recipient_id=recipient_id, administration_id=administration.id or 0,
                                dose_number=dose_number + 1, due_date=next_due, send_on=send_on)
        session.add(reminder)
        session.flush()
        reminder_id = reminder.id
    audit.record(session, action='vaccination_recorded', actor=principal, entity_type='administration',
                 entity_id=administration.id,
                 detail=f'recipient {recipient_id} dose {dose_number} {product.name} lot {lot.lot_number}'
                        + (f'; override: {details.override_reason.strip()}' if problems else '')
                        + (f'; given earlier: {details.backdate_reason.strip()}' if backdated else ''))
    return RecordedDose(administration_id=administration.id or 0, dose_number=dose_number, product_id=product.id or 0,
                        product_name=product.name, lot_number=lot.lot_number, administered_at=given_at,
                        next_dose_number=dose_number + 1 if next_due else None, next_dose_due=next_due,
                        reminder_id=reminder_id)


def _remember_desk_choices(session: Session, principal: Principal, location_id: int, details: DoseDetails,
                           product_id: int) -> None:
    preference = session.exec(select(DeskPreference).where(DeskPreference.user_id == principal.user_id)
                              .where(DeskPreference.location_id == location_id)).first()
    preference = preference or DeskPreference(user_id=principal.user_id, location_id=location_id)
    preference.product_id, preference.lot_id = product_id, details.lot_id
    preference.site, preference.route, preference.dose_volume_ml = (details.site, details.route,
                                                                    float(details.dose_volume_ml))
    preference.updated_at = utcnow()
    session.add(preference)


# ---------------------------------------------------------------- corrections (location managers)

def void_administration(*, principal: Principal, administration_id: int, reason: str,
                        _replacement: DoseDetails | None = None) -> RecordedDose | None:
    """Void a dose recorded in error: the dose goes back to stock by a reversal ledger row; the record stays,
    marked void, and the audit trail keeps who and why. With `_replacement`, the corrected dose is recorded
    in the same transaction (see correct_administration)."""
    require(principal, Action.CORRECT_VACCINATION)
    with session_scope() as session:
        original = fetch(session, Administration, administration_id, principal=principal,
                         action='correct_vaccination')
        location_id = original.location_id
        reason = (reason or '').strip()
        if not reason:
            raise ValidationFailed('Say why this vaccination record is being corrected or voided.')
        if original.voided:
            raise ServiceError('This vaccination record is already void.')
        if original.ledger_entry_id is not None:
            reversal = ledger.reverse_entry(session, principal=principal, entry_id=original.ledger_entry_id,
                                               reason=f'Vaccination record {administration_id} voided: {reason}')
            original.reversal_entry_id = reversal.id
        original.voided, original.voided_at, original.voided_by_user_id = True, utcnow(), principal.user_id
        original.void_reason = reason[:300]
        session.add(original)
        session.flush()
        audit.record(session, action='vaccination_voided', actor=principal, entity_type='administration',
                     entity_id=administration_id, detail=reason)
        result = None
        if _replacement is not None:
            _replacement.override_reason = _replacement.override_reason or f'Correction: {reason}'
            _replacement.backdate_reason = _replacement.backdate_reason or f'Correction: {reason}'
            _replacement.consent = True
            _replacement.funding_eligibility = _replacement.funding_eligibility or original.funding_eligibility
            _replacement.screening = _replacement.screening or screening_answers(original.screening)
            if _replacement.administered_at is None:
                _replacement.administered_at = as_utc(original.administered_at)
            appointment_row = session.get(Appointment, original.appointment_id) if original.appointment_id else None
            result = _administer(session, principal, recipient_id=original.recipient_id,
                                 location_id=original.location_id, appointment=appointment_row,
                                 details=_replacement, source=original.source)
            corrected = session.get(Administration, result.administration_id)
            assert corrected is not None
            corrected.corrects_administration_id = administration_id
            if appointment_row is not None:
                appointment_row.status = AppointmentStatus.COMPLETED
                session.add(appointment_row)
            session.add(corrected)
            session.flush()
            reporting.queue_dose_event(session, administration_id=corrected.id or 0, action=RegistryAction.UPDATE)
        else:
            reporting.queue_dose_event(session, administration_id=administration_id, action=RegistryAction.DELETE)
            appointment_row = session.get(Appointment, original.appointment_id) if original.appointment_id else None
            if appointment_row is not None and appointment_row.status == AppointmentStatus.COMPLETED:
                appointment_row.status = AppointmentStatus.CHECKED_IN  # the dose can be recorded again
                session.add(appointment_row)
    _changed(location_id)
    return result


def correct_administration(*, principal: Principal, administration_id: int, reason: str,
                           details: DoseDetails) -> RecordedDose:
    """Replace a wrong record (lot, site, time...): the original is voided and reversed, the corrected one drawn."""
    result = void_administration(principal=principal, administration_id=administration_id, reason=reason,
                                 _replacement=details)
    assert result is not None
    return result


def administrations_at(*, principal: Principal, day: date | None = None) -> list[tuple[DoseRecord, str, bool]]:
    """Doses recorded at the user's location on a day: (record, recipient name, voided) for the corrections list."""
    require(principal, Action.RECORD_VACCINATION, location_id=principal.location_id, check_location=True)
    with session_scope(read_only=True) as session:
        location = _location_of(session, principal)
        day = day or local_today(location)
        start, end = day_span(day, location)
        rows = session.exec(select(Administration, Recipient, Product, Lot)
                            .join(Recipient, col(Recipient.id) == col(Administration.recipient_id))
                            .join(Product, col(Product.id) == col(Administration.product_id))
                            .join(Lot, col(Lot.id) == col(Administration.lot_id))
                            .where(visible(principal=principal, kind=Kind.ADMINISTRATION))
                            .where(listed(Administration.recipient_id))
                            .where(col(Administration.administered_at) >= start)
                            .where(col(Administration.administered_at) < end)
                            .order_by(col(Administration.administered_at))).all()
        return [(DoseRecord(administration_id=a.id or 0, dose_number=a.dose_number, product_id=p.id or 0,
                            product_name=p.name, manufacturer=p.manufacturer, cvx_code=p.cvx_code,
                            lot_number=lot.lot_number, administered_at=as_utc(a.administered_at), administered_on=day,
                            location_name=location.name, site=a.site, route=a.route,
                            dose_volume_ml=a.dose_volume_ml, administered_by=''),
                 f'{r.first_name} {r.last_name}', a.voided) for a, r, p, lot in rows]


