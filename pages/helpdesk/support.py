"""The Vaccine Support Portal for providers and staff: their cases, the intake form (request types, the bulk upload
form with its file, matching articles while the subject is typed), a case's summary and conversation, and the
providers' registration."""
from __future__ import annotations

from fastapi.responses import RedirectResponse
from nicegui import run, ui

from components.case_parts import FilePicker, attachments, comment_box, conversation, summary_grid
from components.error_summary import ErrorSummary, required
from components.guard import acting, client_ip, current_principal, redirect
from components.page import page
from components.theme import apply_theme, heading, main_region
from services.core.errors import ServiceError
from services.core.localtime import time_label
from services.helpdesk import cases, support_accounts
from services.helpdesk.cases import BULK_FIELDS, BULK_FILE_LABEL, BULK_REQUEST_TYPE, REQUEST_TYPES, FieldProblems
from services.helpdesk.suggestions import articles_for
from services.permissions import Action
from services.principal import Principal

CASE_COLUMNS = [
    {'name': 'number', 'label': 'Number', 'field': 'number', 'align': 'left'},
    {'name': 'subject', 'label': 'Subject', 'field': 'subject', 'align': 'left'},
    {'name': 'state', 'label': 'State', 'field': 'state', 'align': 'left'},
    {'name': 'priority', 'label': 'Priority', 'field': 'priority', 'align': 'left'},
    {'name': 'updated', 'label': 'Updated', 'field': 'updated', 'align': 'left'},
]


@page('/support', title='Vaccine Support Portal', action=Action.OPEN_CASE)
async def support_home(principal: Principal) -> None:
    ui.label('Ask the state help desk for what the system cannot do for you: loading a recipient file, removing a '
             'recipient, inventory and shipments, technical problems.')
    with ui.row().classes('gap-2'):
        ui.button('Open a case', icon='add', on_click=lambda: ui.navigate.to('/support/new')).mark('open-case')
        ui.link('A vaccine recipient? Ask here', '/help/recipient')
    heading('Your cases', level=2)
    mine = await run.io_bound(cases.my_cases, principal=principal)
    if not mine:
        ui.label('You have no cases yet.').mark('no-cases')
        return
    rows = [{'number': c.number, 'subject': c.subject, 'state': c.state_label, 'priority': c.priority_label,
             'updated': time_label(c.updated_at)} for c in mine]
    table = ui.table(columns=CASE_COLUMNS, rows=rows, row_key='number').classes('w-full').mark('my-cases')
    table.add_slot('body-cell-number', '''
        <q-td :props="props"><a :href="'/support/cases/' + props.value" class="text-primary underline">
        {{ props.value }}</a></q-td>''')


@page('/support/new', title='Open a case', action=Action.OPEN_CASE)
async def new_case_page(principal: Principal) -> None:
    defaults = await run.io_bound(cases.intake_defaults, principal=principal)
    errors = ErrorSummary()
    ui.label('Fields marked with an asterisk (*) are required.').classes('text-sm')
    request_type = required(ui.select({key: label for key, (label, _) in REQUEST_TYPES.items()},
                                      label='What is your request about?').classes('w-full max-w-xl')
                            .mark('case-type'))
    subject = required(ui.input('Subject').classes('w-full max-w-xl').props('maxlength=200').mark('case-subject'))
    suggestions = ui.column().classes('gap-1').mark('case-suggestions')
    description = ui.textarea('Description').classes('w-full max-w-xl').mark('case-description')
    with ui.column().classes('w-full max-w-xl gap-2').mark('bulk-fields') as bulk_box:
        heading('HCP Onboarding & Recipient Bulk Upload', level=2)
        bulk_inputs = {'request_type': required(ui.select([BULK_REQUEST_TYPE], label=BULK_FIELDS['request_type'],
                                                          value=BULK_REQUEST_TYPE).classes('w-full'))}
        for key in ('vfc_pin', 'organization', 'requestor_name', 'requestor_email'):
            bulk_inputs[key] = required(ui.input(BULK_FIELDS[key], value=defaults.get(key, '')).classes('w-full')
                                        .mark(f'bulk-{key}'))
        bulk_file = FilePicker(f'{BULK_FILE_LABEL} (.csv or .xlsx) *', marker='bulk-file')
    bulk_box.bind_visibility_from(request_type, 'value', backward=lambda value: value == cases.RequestType.BULK_UPLOAD)
    with ui.column().classes('w-full max-w-xl') as other_files_box:
        other_files = FilePicker('Files (optional): .csv, .xlsx, .txt, .pdf, .png, .jpg', marker='case-files')
    other_files_box.bind_visibility_from(request_type, 'value',
                                         backward=lambda value: value != cases.RequestType.BULK_UPLOAD)
    fields_by_name = {'request_type': request_type, 'subject': subject, 'description': description,
                      'file': bulk_file.upload, 'attachments': other_files.upload}

    async def suggest() -> None:
        text = (subject.value or '').strip()
        suggestions.clear()
        if len(text) < 3:
            return
        found = await run.io_bound(articles_for, text, 'providers', 'en')
        if found:
            with suggestions:
                ui.label('These articles may answer it:').classes('text-sm font-medium')
                for article in found:
                    ui.link(article.title, article.url, new_tab=True).classes('text-sm')

    subject.on_value_change(suggest)

    async def submit() -> None:
        kind = request_type.value or ''
        is_bulk = kind == cases.RequestType.BULK_UPLOAD
        fields = {key: str(field.value or '') for key, field in bulk_inputs.items()} if is_bulk else {}
        files = list(bulk_file.files if is_bulk else other_files.files)
        try:
            opened = await run.io_bound(cases.open_case, principal=acting(), request_type=kind,
                                        subject=subject.value or '', description=description.value or '',
                                        fields=fields, attachments=files)
        except FieldProblems as refused:
            targets = fields_by_name | {key: field for key, field in bulk_inputs.items() if is_bulk}
            if is_bulk and 'request_type' in refused.problems and kind:
                targets['request_type'] = bulk_inputs['request_type']
            errors.show([(targets.get(name, subject), message) for name, message in refused.problems.items()],
                        mark_fields=True)
            return
        except ServiceError as refusal:
            errors.show([(subject, str(refusal))])
            return
        ui.navigate.to(f'/support/cases/{opened.number}')

    ui.button('Submit', on_click=submit).mark('case-submit')


@page('/support/cases/{number}', title='Case', action=Action.OPEN_CASE)
async def support_case_page(principal: Principal, number: str) -> None:
    try:
        case_id = await run.io_bound(cases.case_id_of, principal=principal, number=number)
    except ServiceError as refusal:
        ui.label(str(refusal)).mark('case-refused')
        return
    await case_body(case_id)


async def case_body(case_id: int) -> None:
    """The requester's view: summary, conversation, files, a comment box, Close and Re-open."""

    @ui.refreshable
    async def body() -> None:
        view = await run.io_bound(cases.case_view, principal=acting(), case_id=case_id)
        ui.label(f'{view.summary.number}: {view.summary.subject}').classes('text-xl font-semibold') \
            .props('role=heading aria-level=2').mark('case-title')
        summary_grid(view)
        conversation(view)
        attachments(view, download)
        if view.summary.state != cases.State.CLOSED:
            comment_box(send=send, allow_note=False)
        with ui.row().classes('gap-2'):
            if view.may_close:
                ui.button('Close case', on_click=close).props('outline').mark('case-close')
            if view.may_reopen:
                ui.button('Re-open case', on_click=reopen).props('outline').mark('case-reopen')

    async def download(attachment_id: int) -> None:
        name, content_type, data = await run.io_bound(cases.attachment_file, principal=acting(),
                                                      attachment_id=attachment_id)
        ui.download.content(data, name, content_type)

    async def send(text: str, files: list, _internal: bool) -> str | None:
        try:
            await run.io_bound(cases.add_comment, principal=acting(), case_id=case_id, body=text, attachments=files)
        except ServiceError as refusal:
            return str(refusal)
        ui.notify('Comment sent to the help desk.', type='positive')
        body.refresh()
        return None

    async def close() -> None:
        await _act(cases.close_case, 'The case is closed.')

    async def reopen() -> None:
        await _act(cases.reopen_case, 'The case is open again.')

    async def _act(action, done: str) -> None:  # noqa: ANN001 - a service function taking principal and case_id
        try:
            await run.io_bound(action, principal=acting(), case_id=case_id)
        except ServiceError as refusal:
            ui.notify(str(refusal), type='negative')
            return
        ui.notify(done, type='positive')
        body.refresh()

    await body()


@ui.page('/support/register', title='Register for the Vaccine Support Portal · CVMS')
def register_page() -> RedirectResponse | None:
    if current_principal() is not None:
        return redirect('/support')
    apply_theme()
    ui.query('body').classes('bg-slate-100')
    with main_region('w-full column items-center p-4'), ui.card().classes('cvms-auth-card p-6 gap-3 max-w-lg'):
        heading('Register for the Vaccine Support Portal', level=1)
        ui.label('For providers. Your registration code is your provider PIN (NCA and six digits); providers not '
                 'yet enrolled use the code the help desk gave them. Staff with an account log in with it.') \
            .classes('text-sm')
        ui.label('Fields marked with an asterisk (*) are required.').classes('text-sm')
        errors = ErrorSummary()
        inputs = {
            'first_name': required(ui.input('First name').props('autocomplete=given-name').classes('w-full')
                                   .mark('register-first')),
            'last_name': required(ui.input('Last name').props('autocomplete=family-name').classes('w-full')
                                  .mark('register-last')),
            'email': required(ui.input('Business email').props('type=email autocomplete=email').classes('w-full')
                              .mark('register-email')),
            'registration_code': required(ui.input('Registration code').classes('w-full').mark('register-code')),
        }
        done = ui.label('').classes('text-green-800 font-medium').props('role=status').mark('register-done')

        async def submit() -> None:
            try:
                registered = await run.io_bound(
                    support_accounts.register_provider, client_ip=client_ip(),
                    **{name: str(field.value or '') for name, field in inputs.items()})
            except FieldProblems as refused:
                errors.show([(inputs[name], message) for name, message in refused.problems.items()],
                            mark_fields=True)
                return
            errors.hide()
            done.set_text(f'Check your email: we sent your username and a link to set your password to '
                          f'{registered.email}.')
            button.disable()

        button = ui.button('Register', on_click=submit).mark('register-submit')
        ui.link('Log in', '/login')
    return None

