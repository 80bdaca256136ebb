"""Registry: how the location's dose messages fared at the state immunization registry. Location managers see the
counts by status, the rejected doses with the registry's reason (correct the record, then resend) and those waiting
for a registry out of reach; the state admin sees every location's backlog and rejection rate, and any location's
detail."""
from __future__ import annotations

from nicegui import run, ui

from components.guard import acting
from components.page import page
from components.theme import heading
from models.registry import RegistryStatus
from services.core import localtime
from services.core.errors import ServiceError
from services.permissions import Action, can
from services.principal import Principal
from services.registry import overview

BACKLOG_COLUMNS = [{'name': n, 'label': label, 'field': n, 'align': 'left', 'sortable': True} for n, label in [
    ('location', 'Location'), ('waiting', 'Waiting to be sent'), ('accepted', 'Accepted'),
    ('warnings', 'With warnings'), ('rejected', 'Rejected'), ('rate', 'Rejection rate')]]
LOCATION_CELL = '''
<q-td :props="props"><a :href="'/registry?location=' + props.row.location_id" class="underline">{{ props.value }}</a>
</q-td>'''


def backlog_rows(backlog: list[overview.LocationBacklog]) -> list[dict]:
    return [{'location_id': b.location_id, 'location': f'{b.location_name} ({b.code})', 'waiting': b.waiting,
             'accepted': b.accepted, 'warnings': b.warnings, 'rejected': b.rejected,
             'rate': '—' if b.rejection_rate is None else f'{b.rejection_rate:.1%}'} for b in backlog]


@page('/registry', title='Immunization registry', action=Action.VIEW_REPORTS)
async def registry_page(principal: Principal, location: str = '') -> None:
    ui.label(overview.transport_label()).classes('text-sm').mark('registry-transport')
    chosen = int(location) if location.isdigit() else None
    if can(principal, Action.VIEW_ALL_LOCATIONS):
        backlog = await run.io_bound(overview.state_backlog, principal=principal)
        heading('Every location')
        if backlog:
            table = ui.table(columns=BACKLOG_COLUMNS, rows=backlog_rows(backlog), row_key='location_id',
                             pagination=25).classes('w-full').mark('registry-backlog')
            table.add_slot('body-cell-location', LOCATION_CELL)
        else:
            ui.label('No dose has been reported yet.').mark('registry-backlog-empty')
        if chosen is None:
            ui.label('Choose a location to see its rejected doses.').classes('text-sm')
            return
    elif principal.location_id is None:
        ui.label('Your account is not attached to a location.')
        return
    try:
        shown = await run.io_bound(overview.location_registry, principal=principal, location_id=chosen)
    except ServiceError as error:
        ui.label(str(error)).classes('text-red-800')
        return
    LocationView(shown).draw()


class LocationView:
    """One location's messages; redrawn after a resend."""

    def __init__(self, shown: overview.LocationRegistry) -> None:
        self.shown = shown

    @ui.refreshable_method
    def draw(self) -> None:
        shown = self.shown
        heading(f'Dose messages of {shown.location_name}')
        with ui.row().classes('gap-3').mark('registry-counts'):
            for status in RegistryStatus:
                with ui.card().classes('p-3 min-w-[9rem]').mark(f'registry-count-{status.value}'):
                    ui.label(status.label).classes('text-sm')
                    ui.label(f'{shown.counts.get(status.value, 0):,}').classes('text-2xl font-semibold')
        if shown.exported:
            ui.label(f'{shown.exported:,} queued message(s) were written to a batch file for the registry.') \
                .classes('text-sm')
        heading('Rejected by the registry', level=3)
        if not shown.rejected:
            ui.label('No rejected doses.').mark('registry-no-rejections')
        else:
            ui.label('Correct the record (the dose at Doses recorded, or the person\'s details), then resend: the '
                     'message is built again from the record as it is now.').classes('text-sm')
        for problem in shown.rejected:
            self._problem(problem)
        heading('Waiting for the registry', level=3)
        if not shown.retrying:
            ui.label('None: every message reached the registry or waits its turn.').mark('registry-no-retries')
        for problem in shown.retrying:
            with ui.card().classes('w-full').mark('registry-retrying'):
                ui.label(f'{problem.given_on:%m/%d/%Y} · {problem.recipient_name} · {problem.product_name} · '
                         f'{problem.event}').classes('font-medium')
                ui.label(problem.reason).classes('text-sm')
                if problem.at:
                    ui.label(f'Next try {localtime.time_label(problem.at, shown.time_zone, named=True)}') \
                        .classes('text-xs')

    def _problem(self, problem: overview.ProblemMessage) -> None:
        with ui.card().classes('w-full').mark('registry-rejected'):
            ui.label(f'{problem.given_on:%m/%d/%Y} · {problem.recipient_name} · {problem.product_name} · '
                     f'{problem.event}').classes('font-medium')
            ui.label(problem.reason).classes('text-sm text-red-900').style('white-space: pre-line') \
                .mark('registry-reason')
            if problem.at:
                ui.label(f'Answered {localtime.time_label(problem.at, self.shown.time_zone, named=True)}') \
                    .classes('text-xs')
            if problem.may_resend:
                with ui.row().classes('gap-3 items-center'):
                    ui.link('Correct the record', f'/desk/doses?day={problem.given_on:%m/%d/%Y}') \
                        .mark('registry-correct')
                    ui.button('Resend', on_click=lambda p=problem: self._resend(p)).props('outline no-caps') \
                        .mark(f'registry-resend-{problem.message_id}')

    async def _resend(self, problem: overview.ProblemMessage) -> None:
        principal = acting()
        try:
            await run.io_bound(overview.resend, principal=principal, message_id=problem.message_id)
            self.shown = await run.io_bound(overview.location_registry, principal=principal,
                                            location_id=self.shown.location_id)
        except ServiceError as error:
            ui.notify(str(error), type='negative', multi_line=True)
            return
        ui.notify(f'The dose of {problem.recipient_name} is queued for the registry again.')
        self.draw.refresh()
