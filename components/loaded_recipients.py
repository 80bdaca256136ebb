"""The loaded-recipients list (guide pages 30-32): total, search by first and last name, sortable columns,
server-side pages, and "Request removal" (loaded recipients cannot be deleted here)."""
from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import run, ui

from components.error_summary import ErrorSummary
from components.guard import acting
from components.theme import heading
from services.core.errors import ServiceError
from services.permissions import Action, can
from services.principal import Principal
from services.recipients import listing

PER_PAGE = 25
PAGE_SIZES = [10, 25, 50, 100]  # what the server pages by (at most recipient_list.MAX_PER_PAGE)
COLUMNS = [
    {'name': 'first_name', 'label': 'First Name', 'field': 'first_name', 'align': 'left', 'sortable': True},
    {'name': 'last_name', 'label': 'Last Name', 'field': 'last_name', 'align': 'left', 'sortable': True},
    {'name': 'date_of_birth', 'label': 'Date of Birth', 'field': 'date_of_birth', 'align': 'left', 'sortable': True},
    {'name': 'email', 'label': 'Email', 'field': 'email', 'align': 'left', 'sortable': True},
]
LOCATION_COLUMN = {'name': 'location', 'label': 'Location', 'field': 'location', 'align': 'left'}
ACTIONS_COLUMN = {'name': 'actions', 'label': 'Actions', 'field': 'id', 'align': 'right'}  # a header names it


def loaded_recipients(principal: Principal, *, show_location: bool = False) -> Callable[[], Awaitable[None]]:
    """Draw the list; returns a coroutine function that reloads it (after an upload)."""
    may_request_removal = can(principal, Action.REQUEST_RECIPIENT_REMOVAL) or can(principal, Action.BULK_UPLOAD)
    columns = COLUMNS + ([LOCATION_COLUMN] if show_location else []) + ([ACTIONS_COLUMN] if may_request_removal
                                                                          else [])
    state = {'search': '', 'sort': 'last_name', 'descending': False, 'page': 1, 'per_page': PER_PAGE, 'matching': 0}
    with ui.column().classes('w-full gap-2').mark('loaded-recipients'):
        total_label = ui.label('Total number of records: …').classes('font-medium').mark('total-records')
        broad = ui.label('').classes('text-sm text-amber-900').props('role=status').mark('broad-search')
        search = ui.input(placeholder='Search this list...').props('clearable dense outlined').classes('w-80') \
            .mark('recipient-search')
        table = ui.table(columns=columns, rows=[], row_key='id', pagination={
            'rowsPerPage': PER_PAGE, 'page': 1, 'sortBy': 'last_name', 'descending': False, 'rowsNumber': 0,
        }).classes('w-full').props(f'binary-state-sort :rows-per-page-options="{PAGE_SIZES}" '
                                   'no-data-label="No recipients loaded yet"') \
            .mark('recipients-table')
        if may_request_removal:
            table.add_slot('body-cell-actions', '''
                <q-td :props="props">
                    <q-btn flat dense no-caps color="primary" label="Request removal"
                           @click="() => $parent.$emit('request-removal', props.row)" />
                </q-td>''')

    async def reload() -> None:
        page = await run.io_bound(listing.list_recipients, principal=acting(), search=state['search'],
                                  sort=state['sort'], descending=state['descending'], page=state['page'],
                                  per_page=state['per_page'])
        total_label.set_text(f'Total number of records: {page.total:,}')
        broad.set_text(f'More than {listing.MATCH_COUNT_CAP:,} records match this search; the list shows the '
                       f'first {listing.MATCH_COUNT_CAP:,}. Type more of the name to narrow it.'
                       if page.more_than else '')
        state['matching'] = page.matching
        table.pagination = server_pagination()
        table.rows = [vars(row) for row in page.rows]
        empty = 'No recipient matches this search' if state['search'].strip() else 'No recipients loaded yet'
        table.props(f'no-data-label="{empty}"')
        table.update()

    def server_pagination() -> dict:
        """The pagination prop for Quasar's server-side mode: `rowsNumber` (how many rows the search matches)
        is what its "1-25 of N" label and page buttons count; only the server knows it."""
        return {'rowsPerPage': state['per_page'], 'page': state['page'], 'sortBy': state['sort'],
                'descending': state['descending'], 'rowsNumber': state['matching']}

    def on_pagination_change(_e) -> None:  # noqa: ANN001
        # QTable emits update:pagination with its own copy when it mounts (rowsNumber 0 then) and NiceGUI stores
        # whatever the browser sends; if that arrives after the first page, the label read "1-0 of 0".
        # The server's page, sort and count are the truth: put them back whenever they differ.
        if table.pagination != server_pagination():
            table.pagination = server_pagination()

    async def on_request(e) -> None:  # noqa: ANN001 - Quasar's server-side request (page or sort changed)
        pagination = (e.args or {}).get('pagination', {})
        state['page'] = int(pagination.get('page') or 1)
        state['sort'] = pagination.get('sortBy') or 'last_name'
        state['descending'] = bool(pagination.get('descending'))
        per_page = int(pagination.get('rowsPerPage') or PER_PAGE)
        state['per_page'] = per_page if per_page in PAGE_SIZES else PER_PAGE
        await reload()

    async def on_search() -> None:
        state['search'] = search.value or ''
        state['page'] = 1
        await reload()

    async def on_request_removal(e) -> None:  # noqa: ANN001
        row = e.args
        with ui.dialog() as dialog, ui.card().classes('min-w-[420px]'):
            title = heading(f'Request removal of {row["first_name"]} {row["last_name"]}')
            dialog.props(f'aria-labelledby={title.html_id}')
            ui.label('Loaded recipients cannot be deleted. The state help desk reviews removal requests.') \
                .classes('text-sm')
            summary = ErrorSummary()
            reason = summary.require(ui.textarea('Reason').classes('w-full').mark('removal-reason'),
                                     'Say why the record should be removed.')

            async def submit() -> None:
                if summary.missing():
                    return
                try:
                    number = await run.io_bound(listing.request_removal, principal=acting(),
                                                recipient_id=int(row['id']), reason=reason.value or '')
                except ServiceError as error:
                    summary.refuse(str(error), reason)
                    return
                dialog.close()
                ui.notify(f'Removal request sent to the state help desk: case {number}.', type='positive')

            with ui.row():
                ui.button('Submit request', on_click=submit)
                ui.button('Cancel', on_click=dialog.close).props('flat')
        dialog.open()

    table.on('request', on_request)
    table.on_pagination_change(on_pagination_change)
    table.on('request-removal', on_request_removal)
    search.on_value_change(on_search)
    ui.timer(0, reload, once=True)
    return reload
