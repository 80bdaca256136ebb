"""Appointments: location managers open clinic sessions (date, hours, slot length, capacity, products); staff
book, reschedule and cancel appointments and close the day (No-show)."""
from __future__ import annotations

from datetime import time, timedelta

from nicegui import run, ui

from components.error_summary import ErrorSummary, required
from components.guard import acting
from components.page import page
from components.theme import heading
from services.clinic import administration, reminders, scheduling, walkin
from services.core import localtime
from services.core.errors import ServiceError
from services.inventory import ledger
from services.permissions import Action, can
from services.principal import Principal
from services.recipients.dates import parse_date

UPCOMING_COLUMNS = [
    {'name': 'time', 'label': 'TIME', 'field': 'time', 'align': 'left', 'sortable': True},
    {'name': 'details', 'label': 'DETAILS', 'field': 'details', 'align': 'left'},
    {'name': 'case_number', 'label': 'CASE NUMBER', 'field': 'case_number', 'align': 'left'},
    {'name': 'product', 'label': 'PRODUCT', 'field': 'product', 'align': 'left'},
]

# Each row's checkbox is named after its appointment, so a screen reader says what it selects.
SELECT_CELL = '''
<q-checkbox v-model="props.selected" dense
            :aria-label="'Select ' + props.row.details + ' at ' + props.row.time" />'''

# Quasar leaves the selection column's header cell empty for single selection: this header names it.
HEADER_ROW = '''
<q-tr :props="props">
  <q-th auto-width><span class="sr-only">Select</span></q-th>
  <q-th v-for="col in props.cols" :key="col.name" :props="props">{{ col.label }}</q-th>
</q-tr>'''


def _time(text: str, label: str) -> time:
    try:
        return time.fromisoformat((text or '').strip())
    except ValueError as error:
        raise ServiceError(f'{label}: enter the time as HH:MM (24-hour).') from error


@page('/appointments', title='Appointments', action=Action.MANAGE_APPOINTMENTS)
def appointments_page(principal: Principal) -> None:
    if principal.location_id is None:
        ui.label('Appointments are kept per location; your account has no location.')
        return
    location_id = principal.location_id
    products = {p.id: p.name for p in ledger.list_products(principal=principal, active_only=True)}
    upcoming = _upcoming(principal, location_id)
    if can(principal, Action.MANAGE_CLINIC_SESSIONS):
        _sessions(principal, location_id, products, upcoming.refresh)
    _booking(principal, location_id, products, upcoming.refresh)


class _Upcoming:
    def __init__(self, principal: Principal, location_id: int) -> None:
        self.location_id = location_id
        with ui.card().classes('w-full').mark('upcoming'):
            with ui.row().classes('w-full items-center justify-between'):
                heading('Upcoming appointments')
                if can(principal, Action.MANAGE_APPOINTMENTS):
                    ui.button('End of day: mark unattended as No-show', on_click=self.no_shows).props('flat') \
                        .mark('end-of-day')
            self.table = ui.table(columns=UPCOMING_COLUMNS, rows=[], row_key='id', selection='single',
                                  pagination=20).classes('w-full').props('wrap-cells').mark('upcoming-table')
            self.table.add_slot('body-selection', SELECT_CELL)
            self.table.add_slot('header', HEADER_ROW)
            with ui.row().classes('items-end gap-3'):
                self.new_slot = ui.select({}, label='New time').classes('w-72').mark('reschedule-slot')
                ui.button('Reschedule', on_click=self.reschedule).props('outline').mark('reschedule')
                self.reason = ui.input('Cancellation reason').mark('cancel-reason')
                ui.button('Cancel appointment', on_click=self.cancel).props('outline color=negative') \
                    .mark('cancel-appointment')
        self.refresh()

    def refresh(self) -> None:
        rows = scheduling.upcoming_appointments(principal=acting(), location_id=self.location_id)
        self.table.rows = [{'id': a.id, 'time': a.local_time, 'details': a.details, 'case_number': a.case_number,
                            'product': a.product_name or ''} for a in rows if a.status in ('scheduled', 'checked_in')]
        self.table.selected = []
        self.table.update()
        self.new_slot.options = {s.slot_id: f'{s.local_time} ({s.remaining} left)'
                                 for s in scheduling.open_slots(location_id=self.location_id, limit=300)}
        self.new_slot.update()

    def _selected(self) -> int | None:
        if not self.table.selected:
            ui.notify('Select an appointment in the table first.', type='warning')
            return None
        return self.table.selected[0]['id']

    def reschedule(self) -> None:
        appointment_id = self._selected()
        if appointment_id is None:
            return
        try:
            moved = scheduling.reschedule_appointment(principal=acting(), appointment_id=appointment_id,
                                                      slot_id=self.new_slot.value)
        except ServiceError as error:
            ui.notify(str(error), type='negative')
            return
        ui.notify(f'Rescheduled to {moved.local_time}; the person was emailed.')
        self.refresh()

    def cancel(self) -> None:
        appointment_id = self._selected()
        if appointment_id is None:
            return
        try:
            scheduling.cancel_appointment(principal=acting(), appointment_id=appointment_id,
                                          reason=self.reason.value or '')
        except ServiceError as error:
            ui.notify(str(error), type='negative')
            return
        ui.notify('Appointment cancelled; the person was emailed.')
        self.refresh()

    def no_shows(self) -> None:
        count = reminders.mark_no_shows(principal=acting(), location_id=self.location_id)
        ui.notify(f'{count} appointment(s) marked as No-show.')
        self.refresh()


def _upcoming(principal: Principal, location_id: int) -> _Upcoming:
    return _Upcoming(principal, location_id)


def _sessions(principal: Principal, location_id: int, products: dict[int, str], changed) -> None:  # noqa: ANN001
    with ui.card().classes('w-full').mark('clinic-sessions'):
        heading('Clinic sessions')
        summary = ErrorSummary()
        with ui.row().classes('items-end gap-3'):
            tomorrow = localtime.local_today(administration.location_time_zone(principal=principal)) + timedelta(days=1)
            day = summary.require(ui.input('Date (MM/DD/YYYY)', value=f'{tomorrow:%m/%d/%Y}').mark('session-date'),
                                  'Enter the date of the session (MM/DD/YYYY).')
            start = summary.require(ui.input('Start (HH:MM)', value='09:00').classes('w-28').mark('session-start'),
                                    'Enter the start time (HH:MM).')
            end = summary.require(ui.input('End (HH:MM)', value='12:00').classes('w-28').mark('session-end'),
                                  'Enter the end time (HH:MM).')
            minutes = summary.require(ui.number('Slot length (min)', value=15, min=5, max=240).classes('w-32')
                                      .mark('session-slot'), 'Enter the length of a slot in minutes.')
            capacity = summary.require(ui.number('Capacity per slot', value=4, min=1, max=500).classes('w-32')
                                       .mark('session-capacity'), 'Enter how many people a slot takes.')
            offered = summary.require(ui.select(products, multiple=True, label='Products offered',
                                                value=list(products)[:1]).classes('w-72').mark('session-products'),
                                      'Choose the products offered.')
            create = ui.button('Create clinic session').mark('session-create')

        @ui.refreshable
        def show() -> None:
            with ui.column().classes('w-full gap-1'):
                sessions = scheduling.list_clinic_sessions(principal=acting(), location_id=location_id)
                if not sessions:
                    ui.label('No upcoming clinic sessions.')
                for s in sessions:
                    ui.label(f'{s.session_date:%a %m/%d/%Y} {s.start_time:%H:%M}-{s.end_time:%H:%M} · '
                             f'{s.slots} slots of {s.slot_minutes} min × {s.capacity_per_slot} · '
                             f'{", ".join(s.product_names)} · booked {s.booked} of {s.capacity}') \
                        .mark('session-row')

        async def add() -> None:
            principal_now = acting()
            if summary.missing():
                return
            try:
                info = await run.io_bound(lambda: scheduling.create_clinic_session(
                    principal=principal_now, location_id=location_id,
                    session_date=parse_date(day.value, label='session date'),
                    start_time=_time(start.value, 'Start'), end_time=_time(end.value, 'End'),
                    slot_minutes=int(minutes.value or 0), capacity_per_slot=int(capacity.value or 0),
                    product_ids=list(offered.value or [])))
            except ServiceError as error:
                summary.refuse(str(error), about={'session date': day, 'start': start, 'end': end, 'slot': minutes,
                                                  'capacity': capacity, 'product': offered, 'date': day})
                return
            summary.hide()
            ui.notify(f'Clinic session created: {info.slots} slots.')
            await show.refresh()
            changed()

        show()
        create.on_click(add)


def _booking(principal: Principal, location_id: int, products: dict[int, str], changed) -> None:  # noqa: ANN001
    with ui.card().classes('w-full').mark('book'):
        heading('Book an appointment')
        chosen: dict[str, int | None] = {'recipient_id': None}
        named: dict[int, tuple | None] = {}  # a person registered elsewhere is booked as named in the search
        summary = ErrorSummary()
        with ui.row().classes('items-end gap-3'):
            name = summary.require(ui.input('Name').mark('book-name'),
                                   'Enter at least the first letters of the last name.')
            born = summary.require(ui.input('Date of birth (MM/DD/YYYY)').mark('book-dob'),
                                   'Enter the date of birth (MM/DD/YYYY).')
            find = ui.button('Search').props('outline').mark('book-search')

        @ui.refreshable
        def people(hits: list[walkin.WalkInHit] | None) -> None:
            """The people the search found to choose from (the first is chosen)."""
            with ui.column():
                if hits is None:
                    return
                if not hits:
                    ui.label('No one found. Register the person first (Walk-In at the desk, or Bulk Registration).')
                    return
                options = {h.recipient_id: f'{h.name} · {h.date_of_birth:%m/%d/%Y}'
                           + (f' · already booked ({h.open_case_number})' if h.open_case_number else '')
                           for h in hits}
                named.clear()
                named.update({h.recipient_id: h.named for h in hits})
                ui.radio(options, value=next(iter(options)),
                         on_change=lambda e: chosen.update(recipient_id=e.value)).mark('book-person')
                chosen['recipient_id'] = next(iter(options))

        people(None)
        with ui.row().classes('items-end gap-3'):
            slot = ui.select({}, label='Time').classes('w-72').mark('book-slot')
            required(slot)
            product = ui.select({0: 'As the session offers', **products}, value=0, label='Product') \
                .classes('w-64').mark('book-product')
            book = ui.button('Book').props('color=positive').mark('book-confirm')
        result = ui.label('').props('role=status').mark('book-result')

        def load_slots() -> None:
            slot.options = {s.slot_id: f'{s.local_time} · {", ".join(s.product_names)} ({s.remaining} left)'
                            for s in scheduling.open_slots(location_id=location_id, limit=300)}
            slot.value = next(iter(slot.options), None)
            slot.update()

        async def search() -> None:
            chosen['recipient_id'] = None
            await people.refresh(None)
            principal_now = acting()
            if summary.missing():
                return
            try:
                born_on = parse_date(born.value, label='date of birth')
            except ServiceError as error:
                summary.refuse(str(error), born)
                return
            try:
                hits = await run.io_bound(lambda: walkin.search_walk_in(
                    principal=principal_now, name=name.value or '', date_of_birth=born_on))
            except ServiceError as error:
                summary.refuse(str(error), name)
                return
            summary.hide()
            await people.refresh(hits)

        async def confirm() -> None:
            principal_now = acting()
            result.set_text('')
            problems = [] if chosen['recipient_id'] is not None else [(name, 'Search for the person and choose '
                                                                              'them first.')]
            if slot.value is None:
                problems.append((slot, 'Choose a time (open a clinic session first if there is none).'))
            if summary.show(problems, mark_fields=True):
                return
            try:
                booked = await run.io_bound(lambda: scheduling.book_appointment(
                    principal=principal_now, recipient_id=chosen['recipient_id'], slot_id=slot.value,
                    product_id=product.value or None, named=named.get(chosen['recipient_id'] or 0)))
            except ServiceError as error:
                summary.refuse(str(error), about={'time': slot, 'slot': slot, 'product': product})
                return
            summary.hide()
            result.set_text(f'Booked {booked.recipient_name} for {booked.local_time}: confirmation number '
                            f'{booked.case_number} (emailed with its QR code).')
            load_slots()
            changed()

        find.on_click(search)
        born.on('keydown.enter', search)
        book.on_click(confirm)
        load_slots()
