"""The desk's follow-up screens: Record vaccination, point-of-care registration, stand-by list, doses recorded
today (with corrections by the location manager)."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, time

from nicegui import run, ui

from components.desk_panels import vaccinate_path
from components.error_summary import ErrorSummary, required
from components.focus import focus, focus_page_heading
from components.guard import acting
from components.page import page
from components.screening import ScreeningQuestions
from components.theme import heading
from models.clinic import AppointmentPublic, AppointmentStatus
from models.inventory import LotStock
from services.clinic import administration, dose_rules, scheduling, standby, walkin
from services.clinic.administration import DoseDetails, OverrideNeeded
from services.clinic.walkin import PointOfCareRegistration
from services.core import localtime
from services.core.errors import ServiceError
from services.permissions import Action, can
from services.principal import Principal
from services.recipients import codes
from services.recipients.dates import parse_date
from services.recipients.fields import check_recipient
from services.recipients.registry import DuplicateRecipient
from services.registry import reporting
from services.registry.codes import DEFAULT_FUNDING_ELIGIBILITY, FUNDING_ELIGIBILITY


def lot_label(lot: LotStock) -> str:
    return (f'{lot.product_name} · lot {lot.lot_number} · exp {lot.expiration_date:%m/%d/%Y} · '
            f'{lot.on_hand} on hand' + (' · expires soon' if lot.expires_soon else ''))


def _when(day_text: str, time_text: str, zone: str) -> datetime:
    day = parse_date(day_text)
    try:
        at = time.fromisoformat((time_text or '').strip())
    except ValueError as error:
        raise ServiceError('Enter the time as HH:MM (24-hour).') from error
    return localtime.local_moment(day, at, zone)


@page('/desk/vaccinate/{appointment_id}', title='Record vaccination', action=Action.RECORD_VACCINATION)
async def vaccinate_page(principal: Principal, appointment_id: int) -> None:
    try:
        form = await run.io_bound(administration.vaccination_form, principal=principal,
                                  appointment_id=appointment_id)
    except ServiceError as error:
        ui.label(str(error)).classes('text-red-800')
        ui.link('Back to Home', '/')
        return
    visit = form.appointment
    with ui.card().classes('w-full'):
        with ui.row().classes('w-full items-baseline gap-6'):
            heading(visit.recipient_name).classes(replace='cvms-heading text-xl font-semibold').mark('vaccinate-name')
            ui.label(f'Date of birth {visit.date_of_birth:%m/%d/%Y}')
            ui.label(f'Confirmation number {visit.case_number}')
            ui.label(f'Dose {form.dose_number}').classes('text-lg font-medium').mark('dose-number')
        if form.history:
            ui.label('Earlier doses: ' + '; '.join(
                f'dose {d.dose_number} {d.product_name} lot {d.lot_number} on {d.administered_on:%m/%d/%Y} '
                f'at {d.location_name}' for d in form.history)).classes('text-sm')
    if visit.status != AppointmentStatus.CHECKED_IN:
        ui.label(f'This appointment is {visit.status_label.lower()}: a dose can only be recorded for a checked-in '
                 'person.').classes('text-red-800')
        ui.link('Back to Home', '/')
        return

    # results and saved / failed messages are read out by screen readers from here (it stays while the body redraws)
    announcer = ui.label('').classes('sr-only').props('role=status aria-live=polite').mark('dose-announcer')

    @ui.refreshable
    def body(result: administration.RecordedDose | None = None) -> None:
        """The dose form, then what was recorded once it is saved."""
        with ui.column().classes('w-full gap-4'):
            if result is None:
                _dose_form(principal, form, announce=announcer.set_text,
                           on_saved=lambda recorded: body.refresh(recorded))
            else:
                _saved(principal, visit, result)
                announcer.set_text(saved_message(result))

    body()
    ui.timer(0, focus_page_heading, once=True)  # the person at the desk starts at the form's heading


def saved_message(result: administration.RecordedDose) -> str:
    return (f'Dose {result.dose_number} of {result.product_name} recorded (lot {result.lot_number}).'
            + (' The series is complete.' if result.next_dose_due is None else
               f' Dose {result.next_dose_number} is due on or after {result.next_dose_due:%m/%d/%Y}.'))


def _dose_form(principal: Principal, form: administration.VaccinationForm, *, announce: Callable[[str], None],
               on_saved: Callable[[administration.RecordedDose], Awaitable[None]]) -> None:
    visit = form.appointment
    summary = ErrorSummary()
    with ui.card().classes('w-full'):
        heading('Screening')

        def none_applied(count: int) -> None:
            announce(f'{count} unanswered question(s) answered No.' if count else 'Every question was answered.')
            focus(consent)  # the one thing left before saving

        screening = ScreeningQuestions(form.screening, by_recipient=form.screening_by_recipient,
                                       on_none_apply=none_applied)
    with ui.card().classes('w-full'):
        heading('Vaccine')
        if not form.lots:
            ui.label('No unexpired lot has doses on hand at this location. Receive a shipment or transfer doses '
                     'in Vaccine Inventory first.').classes('text-red-800')
        lot = required(ui.select({s.lot_id: lot_label(s) for s in form.lots}, value=form.lot_id,
                                 label='Product and lot').classes('w-full').mark('lot'))
        with ui.row().classes('w-full gap-4'):
            site = ui.select(administration.SITES, value=form.site, label='Site').classes('w-48').mark('site')
            route = ui.select(administration.ROUTES, value=form.route, label='Route').classes('w-48').mark('route')
            volume = ui.number('Dose volume (mL)', value=form.dose_volume_ml, step=0.05, min=0.05, max=2.0,
                               format='%.2f').classes('w-40').mark('volume')
            funding = ui.select({code: f'{code} {label}' for code, label in FUNDING_ELIGIBILITY.items()},
                                value=DEFAULT_FUNDING_ELIGIBILITY, label='Funding eligibility (VFC)') \
                .classes('w-96').mark('funding-eligibility')
        ui.label(f'Administered by: {form.administered_by}').classes('text-sm')
        earlier = ui.checkbox('Given earlier (for example recorded on paper during an outage)').mark('earlier')
        with ui.row().classes('w-full gap-4').bind_visibility_from(earlier, 'value'):
            today = localtime.local_today(form.time_zone)
            earlier_day = ui.input('Date given (MM/DD/YYYY)', value=f'{today:%m/%d/%Y}').mark('earlier-day')
            earlier_time = ui.input('Time given (HH:MM)').mark('earlier-time')
            backdate_reason = ui.input('Reason for the earlier time').classes('w-80').mark('backdate-reason')

        # the warnings stay in one element the override field is described by (aria-describedby), so a screen
        # reader hears them on the field; they are announced through the page's live region when they change
        warnings_box = ui.column().classes('w-full gap-1').mark('dose-warnings')

        @ui.refreshable
        def warnings(problems: list[str]) -> None:
            for problem in problems:
                ui.label(problem).classes('text-orange-800 font-medium')

        with warnings_box:
            warnings([])
        override = required(ui.input('Override reason (required for the warnings above)').classes('w-full')
                            .props(f'aria-describedby=c{warnings_box.id}').mark('override-reason'))
        override.set_visibility(False)

    async def show_warnings() -> None:
        problems = await run.io_bound(lambda: dose_rules.preview_dose_problems(
            principal=principal, recipient_id=visit.recipient_id, lot_id=lot.value))
        if problems is not None and not override.is_deleted:  # None: the app is stopping; deleted: page left
            _warn(problems)

    def _warn(problems: list[str]) -> None:
        if problems and problems != shown:
            announce('This dose needs an override reason: ' + ' '.join(problems))
        shown[:] = problems
        warnings.refresh(problems)
        override.set_visibility(bool(problems))

    shown: list[str] = []

    lot.on_value_change(show_warnings)

    with ui.card().classes('w-full'):
        heading('Consent')
        consent = ui.checkbox('The recipient (or guardian) gave consent to vaccination *').mark('consent')
        consent_error = ui.label('Record the person\'s consent before saving the dose.') \
            .classes('text-sm font-medium text-red-800').mark('consent-error')
        consent_error.set_visibility(False)
        consent.props(f'aria-required=true aria-describedby=c{consent_error.id}')
        consent.on_value_change(lambda e: consent_error.set_visibility(consent_error.visible and not e.value))

    def refused() -> bool:
        """Mark what is missing beside each field and in the summary at the top (focus goes there)."""
        problems = screening.show_errors()
        consent_error.set_visibility(not consent.value)
        if not consent.value:
            problems.append((consent, 'Record the person\'s consent'))
        if problems:
            summary.show(problems)
            return True
        summary.hide()
        return False

    async def save() -> None:
        if refused():
            return
        acting_principal = acting()
        try:
            given_at = (_when(earlier_day.value, earlier_time.value, form.time_zone) if earlier.value else None)
            details = DoseDetails(lot_id=lot.value, site=site.value, route=route.value,
                                  dose_volume_ml=float(volume.value or 0), administered_at=given_at,
                                  backdate_reason=backdate_reason.value or '', override_reason=override.value or '',
                                  screening=screening.values(), consent=bool(consent.value),
                                  funding_eligibility=funding.value)
            if details.lot_id is None:
                raise ServiceError('Choose the product and lot.')
            result = await run.io_bound(lambda: administration.record_vaccination(
                principal=acting_principal, appointment_id=visit.id, details=details))
        except OverrideNeeded as needed:
            # the summary pattern: "There is a problem" at the top (focused, an alert) linking to the override
            # field, the message beside it; the field is also described by the warnings above it
            shown[:] = needed.problems  # read out with the summary, not twice
            _warn(needed.problems)
            summary.show([(override, 'Not saved: give the reason for overriding the dose warnings')],
                          mark_fields=True)
            return
        except ServiceError as error:  # in the summary at the top (an alert, focused), beside the field it names
            summary.refuse(str(error), about={'lot': lot, 'volume': volume, 'site': site, 'route': route,
                                              'reason': backdate_reason, 'time': earlier_time, 'date': earlier_day})
            return
        await on_saved(result)

    ui.button('Save', on_click=save).props('color=positive size=lg').mark('save-dose')
    ui.timer(0.01, show_warnings, once=True)


def _saved(principal: Principal, visit, result: administration.RecordedDose) -> None:  # noqa: ANN001
    with ui.card().classes('w-full bg-green-50').mark('dose-saved'):
        heading(f'Dose {result.dose_number} of {result.product_name} recorded (lot {result.lot_number}).')
        if result.next_dose_due is None:
            ui.label('The series is complete.')
        else:
            ui.label(f'Dose {result.next_dose_number} is due on or after {result.next_dose_due:%m/%d/%Y}. '
                     'A reminder email is scheduled a few days before.').mark('next-dose-due')
            slots = scheduling.open_slots(location_id=visit.location_id, product_id=result.product_id,
                                          on_or_after=result.next_dose_due, limit=20)
            if slots:
                choice = ui.select({s.slot_id: f'{s.local_time} ({s.remaining} left)' for s in slots},
                                   value=slots[0].slot_id, label=f'Book dose {result.next_dose_number}') \
                    .classes('w-80').mark('next-slot')

                @ui.refreshable
                def booked(appointment: AppointmentPublic | None = None) -> None:
                    if appointment is not None:
                        ui.label(f'Booked {appointment.local_time}, confirmation number '
                                 f'{appointment.case_number}.').classes('font-medium').mark('next-booked')

                booked()

                async def book() -> None:
                    acting_principal = acting()
                    try:
                        appointment = await run.io_bound(lambda: scheduling.book_appointment(
                            principal=acting_principal, recipient_id=visit.recipient_id, slot_id=choice.value,
                            product_id=result.product_id, dose_number=result.next_dose_number))
                    except ServiceError as error:
                        ui.notify(str(error), type='negative')
                        return
                    await booked.refresh(appointment)
                ui.button(f'Book dose {result.next_dose_number}', on_click=book).props('outline') \
                    .mark('book-next')
            else:
                ui.label('No clinic session offers this product after the due date yet; the reminder email asks '
                         'the person to book.')
    back = ui.button('Back to the desk', on_click=lambda: ui.navigate.to('/')).mark('back-to-desk')
    focus(back)  # the Save button is gone: Enter here goes on to the next person


@page('/desk/register', title='Recipient Registration (point of care)', action=Action.REGISTER_RECIPIENT)
def register_page(principal: Principal, name: str = '', dob: str = '') -> None:
    first_guess, _, last_guess = name.strip().rpartition(' ')
    try:  # registration takes MM/DD/YYYY only (the guide's format); a link may carry another
        dob = f'{parse_date(dob):%m/%d/%Y}' if dob.strip() else ''
    except ServiceError:
        pass
    ui.label('The paper "CVMS Recipient Registration" form, entered at the desk. The person is checked in as a '
             'walk-in afterwards.').classes('text-sm')
    summary = ErrorSummary()
    with ui.card().classes('w-full'):
        heading('Recipient')
        with ui.row().classes('w-full gap-4'):
            first = summary.require(ui.input('First name', value=first_guess.title()).mark('reg-first'),
                                    'Enter the first name.')
            last = summary.require(ui.input('Last name', value=last_guess.title()).mark('reg-last'),
                                   'Enter the last name.')
            born = summary.require(ui.input('Date of birth (MM/DD/YYYY)', value=dob).mark('reg-dob'),
                                   'Enter the date of birth (MM/DD/YYYY).')
            sex = ui.select(codes.options('sex'), label='Sex').classes('w-44').mark('reg-sex')
        with ui.row().classes('w-full gap-4'):
            street = ui.input('Address').classes('w-80').mark('reg-address')
            city = ui.input('City').mark('reg-city')
            county = ui.input('County').mark('reg-county')
            state = ui.input('State', value=codes.HOME_STATE).classes('w-20').mark('reg-state')
            zip_code = ui.input('ZIP code').classes('w-28').mark('reg-zip')
        with ui.row().classes('w-full gap-4'):
            phone = ui.input('Phone').mark('reg-phone')
            email = ui.input('Email (optional)').classes('w-80').mark('reg-email')
            race = ui.select(codes.options('race'), label='Race').classes('w-64').mark('reg-race')
            ethnicity = ui.select(codes.options('ethnicity'), label='Ethnicity').classes('w-56') \
                .mark('reg-ethnicity')
    with ui.card().classes('w-full'):
        heading('COVID-19 Vaccination Questionnaire')
        screening = ScreeningQuestions({})

    fields = {'first_name': first, 'last_name': last, 'date_of_birth': born, 'sex': sex, 'address_line1': street,
              'city': city, 'county': county, 'state': state, 'zip_code': zip_code, 'phone': phone, 'email': email,
              'race': race, 'ethnicity': ethnicity}

    async def save() -> None:
        acting_principal = acting()
        data = PointOfCareRegistration(
            first_name=first.value or '', last_name=last.value or '', date_of_birth=born.value or '',
            sex=sex.value or '', address_line1=street.value or '', city=city.value or '',
            county=county.value or '', state=state.value or '', zip_code=zip_code.value or '',
            phone=phone.value or '', email=email.value or '', race=race.value or '',
            ethnicity=ethnicity.value or '', screening=screening.values())
        # the recipient module's field rules, each problem beside its field (the service applies them again)
        problems = [(fields.get(p.field), p.text()) for p in check_recipient(data.recipient_values(), required=())
                    .problems if p.field != 'required']
        if summary.missing(problems + screening.show_errors()):
            return
        try:
            visit = await run.io_bound(walkin.register_at_point_of_care, principal=acting_principal, data=data)
        except ServiceError as error:
            message = str(error)
            if isinstance(error, DuplicateRecipient):
                message += '. Search for them in Appointment Walk-In with the full name and date of birth.'
            summary.refuse(message)
            return
        ui.navigate.to(vaccinate_path(visit.id))

    ui.button('Register and check in', on_click=save).props('color=positive').mark('reg-save')


@page('/desk/standby', title='Stand-by list', action=Action.MANAGE_APPOINTMENTS)
def standby_page(principal: Principal) -> None:
    ui.label('People willing to come at short notice: call them when a punctured vial has doses left before they '
             'are wasted.').classes('text-sm')
    summary = ErrorSummary()
    with ui.row().classes('items-end gap-3'):
        full_name = summary.require(ui.input('Name').mark('standby-name'), "Enter the person's name.")
        phone = summary.require(ui.input('Phone').mark('standby-phone'),
                                'Enter a 10-digit phone number so the person can be called at short notice.')
        email = ui.input('Email (optional)').mark('standby-email')
        note = ui.input('Note').classes('w-64').mark('standby-note')
        add = ui.button('Add').mark('standby-add')

    @ui.refreshable
    def show() -> None:
        with ui.column().classes('w-full gap-1'):
            entries = standby.standby_list(principal=acting())
            if not entries:
                ui.label('The stand-by list is empty.')
            for entry in entries:
                with ui.row().classes('w-full items-center gap-3'):
                    ui.label(f'{entry.full_name} · {entry.phone}' + (f' · {entry.email}' if entry.email else '')
                             + (f' · {entry.note}' if entry.note else '')
                             + (' · called' if entry.status == 'called' else '')).mark('standby-entry')
                    ui.button('Called', on_click=lambda e=entry: change(e.id, 'called')).props('dense flat')
                    ui.button('Remove', on_click=lambda e=entry: change(e.id, 'removed')).props('dense flat')

    def change(entry_id: int, status: str) -> None:
        standby.update_standby(principal=acting(), entry_id=entry_id, status=status)
        show.refresh()

    def add_entry() -> None:
        if summary.missing():
            return
        try:
            standby.add_to_standby(principal=acting(), full_name=full_name.value or '', phone=phone.value or '',
                                  email=email.value or '', note=note.value or '')
        except ServiceError as error:
            summary.refuse(str(error), about={'phone': phone, 'email': email, 'name': full_name})
            return
        ui.notify(f'{full_name.value} was added to the stand-by list.', type='positive')
        for field in (full_name, phone, email, note):
            field.value = ''
        show.refresh()

    show()
    add.on_click(add_entry)


@page('/desk/doses', title='Doses recorded', action=Action.RECORD_VACCINATION)
def doses_page(principal: Principal, day: str = '') -> None:
    when = parse_date(day) if day else None
    records = administration.administrations_at(principal=principal, day=when)
    zone = administration.location_time_zone(principal=principal)
    may_correct = can(principal, Action.CORRECT_VACCINATION)
    ui.label('Doses recorded at your location' + (f' on {when:%m/%d/%Y}' if when else ' today') + '.'
             + (' A location manager can void or correct a record; the dose goes back to stock by a ledger row and '
                'the original stays in the audit trail.' if may_correct else '')).classes('text-sm')
    if not records:
        ui.label('No doses recorded.')
    registry = reporting.statuses_of(principal=principal,
                                     administration_ids=[r.administration_id for r, _, _ in records])
    for record, name, voided in records:
        with ui.row().classes('w-full items-center gap-3'):
            ui.label(f'{localtime.clock_label(record.administered_at, zone, named=True)} · {name} · '
                     f'dose {record.dose_number} · {record.product_name} lot {record.lot_number} · {record.site}'
                     + (' · VOID' if voided else '')).classes('line-through' if voided else '').mark('dose-row')
            if record.administration_id in registry:
                ui.label(f'Registry: {registry[record.administration_id]}').classes('text-xs') \
                    .mark('dose-registry-status')
            if may_correct and not voided:
                ui.button('Correct…', on_click=lambda r=record: _correct_dialog(principal, r)).props('dense flat') \
                    .mark('correct-dose')
                ui.button('Void…', on_click=lambda r=record: _void_dialog(r.administration_id)).props('dense flat')


def _correct_dialog(principal: Principal, record: dose_rules.DoseRecord) -> None:
    lots = administration.lots_on_hand(principal=principal)
    with ui.dialog() as dialog, ui.card().classes('min-w-[480px]'):
        title = heading(f'Correct dose {record.dose_number} (lot {record.lot_number})')
        dialog.props(f'aria-labelledby={title.html_id}')
        ui.label('The original record is voided (its dose returns to stock) and the corrected one is drawn.') \
            .classes('text-sm')
        summary = ErrorSummary()
        lot = summary.require(ui.select({s.lot_id: lot_label(s) for s in lots}, label='Product and lot')
                              .classes('w-full').mark('correct-lot'), 'Choose the product and lot.')
        site = ui.select(administration.SITES, value=record.site, label='Site')
        route = ui.select(administration.ROUTES, value=record.route, label='Route')
        volume = ui.number('Dose volume (mL)', value=record.dose_volume_ml, step=0.05, format='%.2f')
        reason = summary.require(ui.input('Reason').classes('w-full').mark('correct-reason'),
                                 'Enter the reason for the correction.')

        def correct() -> None:
            if summary.missing():
                return
            try:
                administration.correct_administration(principal=acting(), administration_id=record.administration_id,
                                              reason=reason.value or '', details=DoseDetails(
                                                  lot_id=lot.value, site=site.value, route=route.value,
                                                  dose_volume_ml=float(volume.value or 0)))
            except ServiceError as error:
                summary.refuse(str(error), about={'reason': reason, 'lot': lot, 'volume': volume, 'site': site,
                                                  'route': route})
                return
            dialog.close()
            ui.notify('Record corrected; stock adjusted by ledger rows.')
            ui.navigate.reload()
        with ui.row():
            ui.button('Save correction', on_click=correct).props('color=primary').mark('correct-confirm')
            ui.button('Close', on_click=dialog.close).props('flat')
    dialog.open()


def _void_dialog(administration_id: int) -> None:
    with ui.dialog() as dialog, ui.card():
        title = heading('Void this vaccination record')
        dialog.props(f'aria-labelledby={title.html_id}')
        summary = ErrorSummary()
        reason = summary.require(ui.input('Reason').classes('w-80').mark('void-reason'),
                                 'Enter the reason for voiding the record.')

        def void() -> None:
            if summary.missing():
                return
            try:
                administration.void_administration(principal=acting(), administration_id=administration_id,
                                                  reason=reason.value or '')
            except ServiceError as error:
                summary.refuse(str(error), reason)
                return
            dialog.close()
            ui.notify('Record voided; the dose is back in stock.')
            ui.navigate.reload()
        with ui.row():
            ui.button('Void record', on_click=void).props('color=negative').mark('void-confirm')
            ui.button('Keep it', on_click=dialog.close).props('flat')
    dialog.open()
