"""The help desk agents' screens: the queue (filters, counts per group, oldest first, search, pages) and a case
(state, priority, assignment, comments and internal notes, resolution, and each request type's own actions)."""
from __future__ import annotations

from collections.abc import Callable

from nicegui import run, ui

from components.case_parts import attachments, comment_box, conversation, summary_grid
from components.error_summary import ErrorSummary, required
from components.guard import acting
from components.page import page
from components.theme import heading
from pages.helpdesk.removal_panel import removal_panel
from services.core.errors import ServiceError
from services.core.localtime import time_label
from services.helpdesk import bulk_loads, cases
from services.helpdesk.cases import GROUPS, PRIORITIES, STATE_LABELS, CaseView, RequestType
from services.permissions import Action
from services.principal import Principal

PAGE_SIZE = 25
AGES = {0: 'Any age', 1: 'Older than 1 day', 3: 'Older than 3 days', 7: 'Older than 7 days',
        30: 'Older than 30 days'}
STATES = {'open': 'Open (New, In Progress, Awaiting Requester)', 'all': 'All states'} | \
    {str(key): label for key, label in STATE_LABELS.items()}
QUEUE_COLUMNS = [
    {'name': 'number', 'label': 'Number', 'field': 'number', 'align': 'left'},
    {'name': 'opened', 'label': 'Opened', 'field': 'opened', 'align': 'left'},
    {'name': 'priority', 'label': 'Priority', 'field': 'priority', 'align': 'left'},
    {'name': 'state', 'label': 'State', 'field': 'state', 'align': 'left'},
    {'name': 'group', 'label': 'Assignment group', 'field': 'group', 'align': 'left'},
    {'name': 'assigned', 'label': 'Assigned to', 'field': 'assigned', 'align': 'left'},
    {'name': 'subject', 'label': 'Subject', 'field': 'subject', 'align': 'left'},
    {'name': 'requester', 'label': 'Requester', 'field': 'requester', 'align': 'left'},
    {'name': 'account', 'label': 'Account', 'field': 'account', 'align': 'left'},
]


@page('/help-desk', title='Help Desk', action=Action.WORK_CASES)
async def queue_page(principal: Principal) -> None:
    filters = {'group': None, 'state': 'open', 'priority': 0, 'age': 0, 'search': '', 'page': 0}
    with ui.row().classes('items-end gap-3 w-full'):
        state = ui.select(STATES, value='open', label='State').classes('min-w-[220px]').mark('queue-state')
        priority = ui.select({0: 'Any priority'} | PRIORITIES, value=0, label='Priority').classes('min-w-[160px]') \
            .mark('queue-priority')
        age = ui.select(AGES, value=0, label='Age').classes('min-w-[170px]').mark('queue-age')
        search = ui.input('Search number, requester or organization').classes('min-w-[320px]') \
            .props('clearable').mark('queue-search')
        ui.button('Search', on_click=lambda: changed()).props('outline no-caps').mark('queue-search-button')
    counts_row = ui.row().classes('gap-2 items-center').mark('queue-counts')
    table = ui.table(columns=QUEUE_COLUMNS, rows=[], row_key='id').classes('w-full').mark('queue-table')
    table.add_slot('body-cell-number', '''
        <q-td :props="props"><a :href="'/help-desk/cases/' + props.row.id" class="text-primary underline">
        {{ props.value }}</a></q-td>''')
    table.add_slot('no-data', '<div class="p-2">No cases match.</div>')
    with ui.row().classes('items-center gap-2'):
        previous = ui.button('Previous', on_click=lambda: turn(-1)).props('flat no-caps').mark('queue-previous')
        position = ui.label('').mark('queue-position')
        following = ui.button('Next', on_click=lambda: turn(1)).props('flat no-caps').mark('queue-next')

    async def reload() -> None:
        page_of = await run.io_bound(
            cases.queue, principal=acting(), group=filters['group'], state=filters['state'],
            priority=filters['priority'] or None, older_than_days=filters['age'] or None, search=filters['search'],
            page=filters['page'], page_size=PAGE_SIZE)
        table.rows = [{'id': c.id, 'number': c.number, 'opened': time_label(c.created_at),
                       'priority': c.priority_label, 'state': c.state_label, 'group': c.assignment_group,
                       'assigned': c.assigned_to, 'subject': c.subject,
                       'requester': f'{c.requester_name} <{c.requester_email}>',
                       'account': c.organization_name + (' (Unregistered Provider)' if c.unregistered_provider
                                                         else '')} for c in page_of.rows]
        table.update()
        counts_row.clear()
        with counts_row:
            ui.label('Groups:').classes('text-sm font-medium')
            everyone = sum(page_of.counts_by_group.values())
            for name, count in [('All groups', everyone), *page_of.counts_by_group.items()]:
                chosen = filters['group'] == (None if name == 'All groups' else name)
                look = 'unelevated' if chosen else 'outline'
                ui.button(f'{name} ({count})', on_click=lambda n=name: choose_group(n)) \
                    .props(f'{look} dense no-caps aria-pressed={str(chosen).lower()}').mark(f'group-{name}')
        first = filters['page'] * PAGE_SIZE
        position.set_text(f'{first + 1:,}–{first + len(page_of.rows):,} of {page_of.total:,}' if page_of.total
                          else '0 cases')
        previous.set_enabled(filters['page'] > 0)
        following.set_enabled(first + len(page_of.rows) < page_of.total)

    async def choose_group(name: str) -> None:
        filters['group'] = None if name == 'All groups' else name
        filters['page'] = 0
        await reload()

    async def turn(step: int) -> None:
        filters['page'] = max(filters['page'] + step, 0)
        await reload()

    async def changed() -> None:
        filters.update(state=state.value, priority=priority.value, age=age.value, search=search.value or '', page=0)
        await reload()

    for control in (state, priority, age):
        control.on_value_change(changed)
    search.on('keydown.enter', changed)
    search.on('clear', changed)
    await reload()


@page('/help-desk/cases/{case_id}', title='Case', action=Action.WORK_CASES)
async def agent_case_page(principal: Principal, case_id: int) -> None:
    agents = await run.io_bound(cases.agents, principal=principal)

    @ui.refreshable
    async def body() -> None:
        try:
            view = await run.io_bound(cases.case_view, principal=acting(), case_id=case_id)
        except ServiceError as refusal:
            ui.label(str(refusal)).mark('case-refused')
            return
        ui.label(f'{view.summary.number}: {view.summary.subject}').classes('text-xl font-semibold') \
            .props('role=heading aria-level=2').mark('case-title')
        with ui.row().classes('w-full gap-6 items-start no-wrap'):
            with ui.column().classes('flex-1 min-w-0 gap-3'):
                summary_grid(view)
                conversation(view)
                attachments(view, download)
                if view.summary.state != cases.State.CLOSED:
                    comment_box(send=send, allow_note=True)
            with ui.column().classes('w-[360px] gap-3'):
                _work_panel(view)
                panel = ACTION_PANELS.get(view.summary.request_type)
                if panel is not None:
                    await panel(view, body.refresh)

    def _work_panel(view: CaseView) -> None:
        closed = view.summary.state == cases.State.CLOSED
        with ui.card().classes('w-full gap-2'):
            heading('Work the case', level=2)
            state = ui.select({str(s): STATE_LABELS[s] for s in cases.AGENT_STATES}, label='State',
                              value=view.summary.state if view.summary.state in cases.AGENT_STATES else None) \
                .classes('w-full').mark('case-state')
            state.set_enabled(not closed)
            state.on_value_change(lambda e: _do(cases.set_state, 'State changed.', state=e.value)
                                  if e.value and e.value != view.summary.state else None)
            priority = ui.select(PRIORITIES, label='Priority', value=view.summary.priority).classes('w-full') \
                .mark('case-priority')
            priority.on_value_change(lambda e: _do(cases.set_priority, 'Priority changed.', priority=e.value)
                                     if e.value != view.summary.priority else None)
            group = ui.select(GROUPS, label='Assignment group', value=view.summary.assignment_group) \
                .classes('w-full').mark('case-group')
            agent = ui.select({0: 'Nobody'} | dict(agents), label='Agent', value=view.assigned_user_id or 0) \
                .classes('w-full').mark('case-agent')
            ui.button('Assign', on_click=lambda: _do(cases.assign, 'Assigned.', group=group.value,
                                                     agent_user_id=agent.value or None)) \
                .props('outline no-caps').mark('case-assign')
        with ui.card().classes('w-full gap-2'):
            heading('Resolve', level=2)
            errors = ErrorSummary()
            notes = required(ui.textarea('Resolution notes').classes('w-full').mark('case-resolution-notes'))
            ui.label('The requester receives the resolution notes by email.').classes('text-xs')

            async def resolve() -> None:
                try:
                    await run.io_bound(cases.resolve, principal=acting(), case_id=case_id, notes=notes.value or '')
                except ServiceError as refusal:
                    errors.show([(notes, str(refusal))], mark_fields=True)
                    return
                ui.notify('Resolved; the requester was emailed.', type='positive')
                body.refresh()

            resolve_button = ui.button('Resolve', on_click=resolve).mark('case-resolve')
            resolve_button.set_enabled(view.summary.state in cases.OPEN_STATES)
            if view.may_close:
                ui.button('Close case', on_click=lambda: _do(cases.close_case, 'Closed.')).props('outline') \
                    .mark('case-close')

    async def _do(action: Callable, done: str, **values: object) -> None:
        try:
            await run.io_bound(action, principal=acting(), case_id=case_id, **values)
        except ServiceError as refusal:
            ui.notify(str(refusal), type='negative')
        else:
            ui.notify(done, type='positive')
        body.refresh()

    async def download(attachment_id: int) -> None:
        name, content_type, data = await run.io_bound(cases.attachment_file, principal=acting(),
                                                      attachment_id=attachment_id)
        ui.download.content(data, name, content_type)

    async def send(text: str, files: list, internal: bool) -> str | None:
        try:
            await run.io_bound(cases.add_comment, principal=acting(), case_id=case_id, body=text, internal=internal,
                               attachments=files)
        except ServiceError as refusal:
            return str(refusal)
        ui.notify('Internal note saved.' if internal else 'Comment sent; the requester was emailed.',
                  type='positive')
        body.refresh()
        return None

    await body()


# ---------------------------------------------------------------- each request type's own actions


async def bulk_upload_panel(view: CaseView, refresh: Callable[[], None]) -> None:
    """Load the case's Recipient Bulk Upload file into the provider's location, in one click (High Volume job)."""
    choices = await run.io_bound(bulk_loads.load_choices, principal=acting(), case_id=view.summary.id)
    with ui.card().classes('w-full gap-2').mark('bulk-load-panel'):
        heading('Load the file for the provider', level=2)
        if choices.upload is not None:
            upload = choices.upload
            ui.label(f'{upload.file_name}: {upload.status}. {upload.done:,} of {upload.total:,} records read, '
                     f'{upload.loaded:,} loaded, {upload.failed:,} failed.').mark('bulk-load-status')
            if upload.status in ('queued', 'running'):
                ui.timer(2.0, refresh, once=True)
            return
        if not choices.files:
            ui.label('This case has no .csv or .xlsx file to load.')
            return
        if not choices.locations:
            ui.label('No location to load into: the provider has none yet.')
            return
        file = ui.select(dict(choices.files), value=choices.files[0][0], label='File').classes('w-full') \
            .mark('bulk-load-file')
        location = ui.select(dict(choices.locations), value=choices.locations[0][0], label='Location') \
            .classes('w-full').mark('bulk-load-location')
        problem = ui.label('').classes('text-red-700 text-sm').props('role=alert')

        async def load() -> None:
            button.disable()
            try:
                await run.io_bound(bulk_loads.load_on_behalf, principal=acting(), case_id=view.summary.id,
                                   attachment_id=file.value, location_id=location.value)
            except ServiceError as refusal:
                problem.set_text(str(refusal))
                button.enable()
                return
            ui.notify('Loading: the requester is emailed the result.', type='positive')
            refresh()

        button = ui.button('Load into location', icon='upload', on_click=load).mark('bulk-load')


# A request type's own actions on the agent's case page: an async function (view, refresh).
ACTION_PANELS: dict[str, Callable] = {
    RequestType.BULK_UPLOAD: bulk_upload_panel,
    RequestType.REMOVE_RECIPIENT: removal_panel,
}
