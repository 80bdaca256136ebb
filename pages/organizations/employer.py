"""Employer portal: the status of the organization's invitations (invited, registered) and totals, no health data.
Employers invite with the Bulk Registration screen (the same screen and rules as location managers)."""
from __future__ import annotations

from nicegui import ui

from components.page import page
from services.core import localtime
from services.organizations import employers
from services.permissions import Action
from services.principal import Principal

COLUMNS = [{'name': n, 'label': label, 'field': n, 'align': 'left', 'sortable': True} for n, label in
           [('name', 'Name'), ('email', 'Email'), ('invited', 'Invited on'), ('status', 'Status')]]


@page('/invitations', title='Invitations', action=Action.VIEW_INVITATIONS)
def invitations_page(principal: Principal) -> None:
    if not employers.organization_approved(principal=principal):
        ui.label(employers.WAITING_FOR_APPROVAL).classes('text-amber-900').mark('employer-pending')
        return
    result = employers.invitations(principal=principal)
    with ui.row().classes('w-full gap-4'):
        for label, value in (('Invited', result.invited), ('Registered', result.registered),
                             ('Not registered yet', result.invited - result.registered)):
            with ui.card().classes('min-w-[160px]').mark('invitation-total'):
                ui.label(f'{value:,}').classes('text-3xl font-bold')
                ui.label(label).classes('text-sm')
    with ui.row().classes('items-center gap-3'):
        ui.label('Invite employees with a file of first name, last name, date of birth and email.')
        ui.link('Bulk Registration', '/bulk-registration')
    rows = [{'id': r.recipient_id, 'name': r.name, 'email': r.email,
             'invited': f'{localtime.local_date(r.invited_at):%m/%d/%Y}', 'status': r.status} for r in result.rows]
    table = ui.table(columns=COLUMNS, rows=rows, row_key='id', pagination=25).classes('w-full') \
        .props('no-data-label="No invitations yet"').mark('invitations-table')
    ui.input('Search this list...').bind_value(table, 'filter').classes('w-80')
