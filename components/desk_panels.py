"""The three panels of the guide's home screen for location staff: Recipient Check-In, Today's Appointments
(live on every desk of the location) and Appointment Walk-In. Fast with a keyboard and a barcode scanner:
a scanner types the confirmation number and Enter."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from urllib.parse import urlencode

from nicegui import background_tasks, run, ui

from models.clinic import AppointmentPublic, AppointmentStatus
from services.accounts import auth
from services.clinic import checkin, events, walkin
from services.core.errors import ServiceError
from services.permissions import Action, can
from services.principal import Principal
from services.recipients.dates import parse_date

from .error_summary import ErrorSummary
from .focus import focus
from .guard import acting, session_token
from .registry_history import registry_history_button
from .theme import heading

TODAY_COLUMNS = [
    {'name': 'time', 'label': 'TIME', 'field': 'time', 'align': 'left'},
    {'name': 'details', 'label': 'DETAILS', 'field': 'details', 'align': 'left'},
    {'name': 'case_number', 'label': 'CASE NUMBER', 'field': 'case_number', 'align': 'left'},
    {'name': 'location', 'label': 'LOCATION', 'field': 'location', 'align': 'left'},
    {'name': 'status', 'label': 'STATUS', 'field': 'status', 'align': 'left'},
]
STATUS_FILTER = {'': 'All statuses', **{s.value: s.label for s in AppointmentStatus}}
SLOW_REFRESH_SECONDS = 60  # a safety net for the time this instance cannot hear the others (adr 0011)


def today_rows(appointments: list[checkin.TodayAppointment]) -> list[dict]:
    """`href`: where the row leads (Record vaccination for a checked-in person), else ''."""
    return [{'id': a.id, 'time': a.local_time, 'details': a.details, 'case_number': a.case_number,
             'location': a.location_name, 'status': a.status_label,
             'href': vaccinate_path(a.id) if a.status == AppointmentStatus.CHECKED_IN else ''} for a in appointments]


# A row that opens a person has a link in its Details cell, so the keyboard reaches it as the mouse does.
DETAILS_CELL = '''
<q-td :props="props">
  <a v-if="props.row.href" :href="props.row.href" class="underline" @click.stop>{{ props.value }}</a>
  <span v-else>{{ props.value }}</span>
</q-td>'''


def vaccinate_path(appointment_id: int) -> str:
    return f'/desk/vaccinate/{appointment_id}'


def desk(principal: Principal) -> None:
    with ui.row().classes('w-full gap-4 items-stretch'):
        with ui.card().classes('cvms-panel').mark('panel-check-in'):
            _check_in_panel()
        with ui.card().classes('cvms-panel').style('flex: 2 1 520px').mark('panel-today'):
            TodayTable(principal)
        with ui.card().classes('cvms-panel').mark('panel-walk-in'):
            _walk_in_panel()
    with ui.row().classes('gap-2 items-center cvms-no-print'):
        ui.link('Stand-by list', '/desk/standby')
        ui.link('Enter doses recorded on paper', '/desk/back-entry')
        ui.link('Doses recorded today', '/desk/doses')
        ui.link('Printable paper forms', '/forms')
        if can(principal, Action.MANAGE_CLINIC_SESSIONS):
            ui.link('Clinic sessions and appointments', '/appointments')


def _check_in_panel() -> None:
    heading('Recipient Check-In')
    number = ui.input('Appointment confirmation number').props('autofocus inputmode=numeric clearable') \
        .classes('w-full').mark('confirmation-number')
    go = ui.button('Go').mark('check-in-go')

    @ui.refreshable
    def result(found: AppointmentPublic | None, problem: str) -> None:
        """The appointment behind the number, or what is wrong with the number."""
        with ui.column().classes('w-full gap-1').mark('check-in-result'):
            if problem:
                ui.label(problem).classes('text-red-800').mark('check-in-error')
            elif found is not None:
                _show_appointment(found)

    with ui.column().classes('w-full').props('role=status aria-live=polite'):  # the result is read out
        result(None, '')

    async def look_up() -> None:
        principal = acting()
        await result.refresh(None, '')
        try:
            found = await run.io_bound(checkin.find_for_check_in, principal=principal, raw_number=number.value or '')
        except ServiceError as error:
            await result.refresh(None, str(error))
            return
        await result.refresh(found, '')

    number.on('keydown.enter', look_up)
    go.on_click(look_up)


def _show_appointment(found: AppointmentPublic) -> None:
    ui.label(found.recipient_name).classes('text-base font-semibold').mark('check-in-name')
    ui.label(f'Date of birth: {found.date_of_birth:%m/%d/%Y}')
    ui.label(f'{found.local_time} · Dose {found.dose_number}'
             + (f' · {found.product_name}' if found.product_name else ''))
    ui.label(f'Confirmation number {found.case_number} · {found.status_label}')

    async def check_in() -> None:
        principal = acting()
        try:
            await run.io_bound(checkin.check_in, principal=principal, appointment_id=found.id)
        except ServiceError as error:
            ui.notify(str(error), type='negative')
            return
        ui.navigate.to(vaccinate_path(found.id))

    if found.status == AppointmentStatus.SCHEDULED:
        action = ui.button('Check in', on_click=check_in).props('color=positive').mark('check-in-confirm')
    else:
        action = ui.button('Record vaccination', on_click=lambda: ui.navigate.to(vaccinate_path(found.id))) \
            .props('color=positive').mark('record-vaccination')
    focus(action)  # the scanner's Enter looked the number up; the next Enter checks in
    registry_history_button(found.recipient_id)


class TodayTable:
    """Today's Appointments for one connected desk: listens for changes at its location while connected."""

    def __init__(self, principal: Principal) -> None:
        self.location_id = principal.location_id
        self.token = session_token()
        self.client = ui.context.client
        self.loop = asyncio.get_running_loop()
        self.pending = False
        self.unsubscribe: Callable[[], None] | None = None
        with ui.row().classes('w-full items-center justify-between'):
            heading("Today's Appointments")
            self.status = ui.select(STATUS_FILTER, value='', label='Status',
                                    on_change=lambda: self.refresh_soon()).classes('w-40').mark('today-status')
        # wrap-cells: the five columns fit the panel at 1366 px instead of hiding Location and Status in a scroll area
        self.table = ui.table(columns=TODAY_COLUMNS, rows=[], row_key='case_number', pagination=15) \
            .classes('w-full').props('no-data-label="No appointments today" dense wrap-cells').mark('today-table')
        self.table.add_slot('body-cell-details', DETAILS_CELL)
        self.table.on('rowClick', self._open_row)
        self._subscribe()
        self.client.on_connect(self._reconnected)
        self.client.on_disconnect(self._unsubscribe)
        self.client.on_delete(self._unsubscribe)
        ui.timer(SLOW_REFRESH_SECONDS, self.refresh_soon)
        self.refresh_soon()

    def _subscribe(self) -> None:
        if self.location_id is not None and self.unsubscribe is None:
            self.unsubscribe = events.subscribe(self.location_id, self._heard)

    def _unsubscribe(self) -> None:
        if self.unsubscribe is not None:
            self.unsubscribe()
            self.unsubscribe = None

    def _reconnected(self) -> None:
        self._subscribe()
        self.refresh_soon()

    def _heard(self) -> None:
        """Called in the publisher's thread: hand over to this client's event loop."""
        if self.loop.is_closed():  # the server stopped without deleting this client
            self._unsubscribe()
            return
        self.loop.call_soon_threadsafe(self.refresh_soon)

    def refresh_soon(self) -> None:
        if not self.pending:
            self.pending = True
            background_tasks.create(self._refresh(), name='today appointments refresh')

    async def _refresh(self) -> None:
        try:
            principal = await run.io_bound(auth.resolve_session, token=self.token)
            if principal is None:
                self._unsubscribe()
                return
            rows = await run.io_bound(checkin.today_appointments, principal=principal,
                                      status=self.status.value or None)
        finally:
            self.pending = False
        if self.client.id not in self.client.instances:
            return  # the desk was closed meanwhile
        with self.client:
            self.table.rows = today_rows(rows)
            self.table.update()

    def _open_row(self, event) -> None:  # noqa: ANN001
        row = event.args[1] if isinstance(event.args, list) and len(event.args) > 1 else {}
        if row.get('status') == AppointmentStatus.CHECKED_IN.label:
            ui.navigate.to(vaccinate_path(row['id']))


def _walk_in_panel() -> None:
    heading('Appointment Walk-In')
    summary = ErrorSummary()
    name = summary.require(ui.input('Name', placeholder='Last name (or its first letters), or First Last')
                           .classes('w-full').mark('walk-in-name'),
                           'Enter at least the first letters of the last name.')
    born = summary.require(ui.input('Date of birth (MM/DD/YYYY)').classes('w-full').mark('walk-in-dob'),
                           'Enter the date of birth (MM/DD/YYYY).')
    search = ui.button('Search').mark('walk-in-search')

    @ui.refreshable
    def results(hits: list[walkin.WalkInHit] | None, similar: list[walkin.SimilarPerson], query: str) -> None:
        """The people found, else those alike or the way to register the person (`query`: name and date of birth
        for the registration form); what is wrong with the search is in the error summary."""
        with ui.column().classes('w-full gap-1').mark('walk-in-results'):
            if hits is None:
                return
            for hit in hits:
                _walk_in_hit(hit)
            if hits:
                return
            ui.label('No one found with this name and date of birth.').mark('walk-in-none')
            if similar:  # registering one of them again would make a second record of the same person
                _similar_people(similar, register_query=query)
            else:
                ui.button('Register at point of care', on_click=lambda: ui.navigate.to(f'/desk/register?{query}')) \
                    .props('outline').mark('walk-in-register')

    results(None, [], '')

    async def find() -> None:
        principal = acting()
        await results.refresh(None, [], '')
        if summary.missing():
            return
        typed = name.value or ''
        try:
            day = parse_date(born.value, label='date of birth')
        except ServiceError as error:
            summary.refuse(str(error), born)
            return
        try:
            hits = await run.io_bound(lambda: walkin.search_walk_in(principal=principal, name=typed, date_of_birth=day))
            similar = [] if hits else await run.io_bound(
                lambda: walkin.similar_people(principal=principal, name=typed, date_of_birth=day))
        except ServiceError as error:
            summary.refuse(str(error), name)
            return
        summary.hide()
        await results.refresh(hits, similar, urlencode({'name': typed, 'dob': f'{day:%m/%d/%Y}'}))

    born.on('keydown.enter', find)
    name.on('keydown.enter', find)
    search.on_click(find)


def _walk_in_hit(hit: walkin.WalkInHit) -> None:
    with ui.row().classes('w-full items-center justify-between no-wrap'):
        with ui.column().classes('gap-0'):
            ui.label(hit.name).classes('font-medium')
            where = 'registered at another location' if hit.elsewhere else hit.location_name
            ui.label(f'{hit.date_of_birth:%m/%d/%Y} · {where}'
                     + (f' · booked ({hit.open_case_number})' if hit.open_case_number else '')).classes('text-xs')
        _walk_in_button(hit.recipient_id, named=hit.named)
    registry_history_button(hit.recipient_id, named=hit.named)


def _similar_people(people: list[walkin.SimilarPerson], *, register_query: str) -> None:
    """Before registering a new person: those already registered (anywhere) with this date of birth and a name
    alike, to pick instead; or the confirmation that the person at the desk is none of them."""
    with ui.column().classes('w-full gap-1 border-t pt-2').mark('walk-in-similar'):
        ui.label('Already registered with this date of birth and a similar name').classes('font-semibold') \
            .props('role=heading aria-level=3')
        ui.label('Is the person one of them? Check the name and date of birth with them.').classes('text-xs')
        for person in people:
            with ui.row().classes('w-full items-center justify-between no-wrap').mark('walk-in-similar-person'):
                ui.label(f'{person.name} · {person.date_of_birth:%m/%d/%Y}').classes('font-medium')
                _walk_in_button(person.recipient_id, named=person.named)
        ui.button('None of them: register a new person',
                  on_click=lambda: ui.navigate.to(f'/desk/register?{register_query}')) \
            .props('outline').mark('walk-in-register')


def _walk_in_button(recipient_id: int, *, named: tuple[str, str, date] | None) -> None:
    async def start() -> None:
        principal = acting()
        try:
            visit = await run.io_bound(lambda: walkin.start_walk_in(principal=principal, recipient_id=recipient_id,
                                                                    named=named))
        except ServiceError as error:
            ui.notify(str(error), type='negative')
            return
        ui.navigate.to(vaccinate_path(visit.id))

    ui.button('Walk in', on_click=start).props('dense color=positive').mark(f'walk-in-{recipient_id}')

