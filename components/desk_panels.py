"""The three panels of the guide's home screen for location staff."""
from __future__ import annotations

from nicegui import ui

from services.principal import Principal

TODAY_COLUMNS = [
    {'name': 'time', 'label': 'TIME', 'field': 'time', 'align': 'left'},
    {'name': 'details', 'label': 'DETAILS', 'field': 'details', 'align': 'left'},
    {'name': 'case_number', 'label': 'CASE NUMBER', 'field': 'case_number', 'align': 'left'},
    {'name': 'location', 'label': 'LOCATION', 'field': 'location', 'align': 'left'},
]


def desk(principal: Principal) -> None:
    with ui.row().classes('w-full gap-4 items-stretch'):
        with ui.card().classes('cvms-panel').mark('panel-check-in'):
            ui.label('Recipient Check-In').classes('text-lg font-semibold')
            ui.input('Appointment confirmation number').classes('w-full').mark('confirmation-number')
            ui.button('Go').mark('check-in-go')
        with ui.card().classes('cvms-panel').mark('panel-today'):
            ui.label("Today's Appointments").classes('text-lg font-semibold')
            ui.table(columns=TODAY_COLUMNS, rows=[], row_key='case_number').classes('w-full') \
                .props('no-data-label="No appointments today"').mark('today-table')
        with ui.card().classes('cvms-panel').mark('panel-walk-in'):
            ui.label('Appointment Walk-In').classes('text-lg font-semibold')
            ui.input('Name').classes('w-full').mark('walk-in-name')
            ui.input('Date of birth (MM/DD/YYYY)').classes('w-full').mark('walk-in-dob')
            ui.button('Search').mark('walk-in-search')
