"""Recipient portal: book, reschedule and cancel an appointment (the clinic-day area's slots and booking rules)."""
from __future__ import annotations

from nicegui import run, ui

from components.page import PORTAL, page
from components.portal_frame import PortalContext, acting_recipient
from services.core.errors import ServiceError
from services.core.i18n import marked as _
from services.permissions import Action
from services.portal import booking, choices, program_status
from services.portal.proof import qr_svg
from services.recipients import codes


@page('/portal/appointments', title=_('Appointments'), action=Action.USE_PORTAL, audience=PORTAL)
def appointments_page(ctx: PortalContext, reschedule: int | None = None) -> None:
    t = ctx.t
    if ctx.person is None:
        ui.label(t('No one is linked to this account yet.'))
        return
    person = ctx.person
    summary = program_status.program_summary(principal=ctx.principal, recipient_id=person.id)
    ui.label(t('Appointments for: {name}').format(name=person.name)).classes('text-lg')
    message = ui.label('').classes('text-red-700').props('role=alert').mark('appointment-error')
    upcoming = booking.upcoming_appointments(principal=ctx.principal, recipient_id=person.id)
    for appointment in upcoming:
        with ui.card().classes('w-full gap-1').mark('appointment-card'):
            ui.label(t('Dose {dose}: {when}').format(dose=appointment.dose_number, when=appointment.local_time)) \
                .classes('text-lg font-semibold').props('role=heading aria-level=2')
            ui.label(appointment.location_name)
            ui.label(t('Confirmation number: {number}').format(number=appointment.case_number)) \
                .classes('font-mono text-lg').mark('confirmation-number')
            qr = ui.html(qr_svg(appointment.case_number), sanitize=False).props('role=img')
            qr.props['aria-label'] = t('QR code of the confirmation number')
            with ui.row().classes('gap-2'):
                if appointment.status == 'scheduled':
                    ui.button(t('Reschedule'), on_click=lambda a=appointment: ui.navigate.to(
                        f'/portal/appointments?reschedule={a.id}')).props('outline')

                    async def cancel(a=appointment) -> None:  # noqa: ANN001
                        try:
                            await run.io_bound(booking.cancel_booking, principal=acting_recipient(),
                                               appointment_id=a.id)
                        except ServiceError as failure:
                            message.set_text(str(failure))
                            return
                        ui.notify(t('Your appointment is cancelled.'), type='info')
                        ui.navigate.to('/portal/appointments')

                    ui.button(t('Cancel appointment'), on_click=cancel).props('outline color=negative')
    if upcoming and reschedule is None:
        return
    if summary.status == choices.STATUS_NOT_ENROLLED:
        ui.label(t('Complete the COVID-19 Vaccine Registration to enroll in the COVID-19 vaccine program. '
                   'This step is required to receive a vaccine.'))
        ui.button(t('COVID-19 Vaccine Registration'), on_click=lambda: ui.navigate.to('/portal/registration'))
        return
    if summary.doses_in_series and len(summary.doses) >= summary.doses_in_series and reschedule is None:
        ui.label(t('Your vaccine series is complete.'))
        return
    if summary.next_dose_due:
        ui.label(t('Your next dose is due on or after {date}.').format(date=f'{summary.next_dose_due:%m/%d/%Y}'))
    _finder(ctx, person.id, reschedule, summary.next_dose_due, message)


def _finder(ctx: PortalContext, recipient_id: int, reschedule: int | None, due, message) -> None:  # noqa: ANN001
    t = ctx.t
    ui.label(t('Find a vaccine location') if reschedule is None else t('Choose a new time')) \
        .classes('text-xl font-semibold').props('role=heading aria-level=2')
    county = ui.select(list(codes.NC_COUNTIES), label=t('County'), with_input=True, clearable=True) \
        .classes('w-full').mark('find-county')
    city = ui.input(t('City')).classes('w-full').mark('find-city')

    @ui.refreshable
    def results(place: tuple[int, str] | None = None) -> None:
        """The locations with open times, or the times at the `place` (id, name) the person chose."""
        with ui.column().classes('w-full gap-2').mark('location-results'):
            if place is None:
                show_locations()
            else:
                show_slots(*place)

    def show_locations() -> None:
        locations = booking.locations_with_open_slots(county=county.value, city=city.value, on_or_after=due)
        if not locations:
            ui.label(t('No open appointments match. Try another county or city.'))
        for location in locations:
            with ui.card().classes('w-full gap-1').mark('location-card'):
                ui.label(location.location_name).classes('font-semibold')
                ui.label(f'{location.address}, {location.city} ({location.county})').classes('text-sm')
                ui.label(t('Soonest: {when}').format(when=location.soonest)).classes('text-sm')
                ui.button(t('Choose {place}').format(place=location.location_name),
                          on_click=lambda loc=location: results.refresh((loc.location_id, loc.location_name)))

    def show_slots(location_id: int, location_name: str) -> None:
        slots = booking.slots_at(location_id=location_id, on_or_after=due)
        ui.label(t('Times at {place}').format(place=location_name)).classes('font-semibold')
        if not slots:
            ui.label(t('No open appointments match. Try another county or city.'))
        with ui.row().classes('w-full gap-2'):
            for slot in slots:
                ui.button(slot.local_time, on_click=lambda s=slot: book(s.slot_id)) \
                    .props('outline no-caps').mark('slot-button')
        ui.button(t('Back to locations'), on_click=lambda: results.refresh(None)).props('flat')

    results()

    async def book(slot_id: int) -> None:
        message.set_text('')
        try:
            if reschedule is None:
                booked = await run.io_bound(booking.book, principal=acting_recipient(), recipient_id=recipient_id,
                                            slot_id=slot_id)
            else:
                booked = await run.io_bound(booking.reschedule_booking, principal=acting_recipient(),
                                            appointment_id=reschedule, slot_id=slot_id)
        except ServiceError as failure:
            message.set_text(str(failure))
            return
        ui.notify(t('Booked. Confirmation number: {number}').format(number=booked.case_number), type='positive')
        ui.navigate.to('/portal/appointments')

    ui.button(t('Search'), on_click=lambda: results.refresh(None)).mark('find-search')
