"""Bulk Registration (Recipient Bulk Upload User Guide, pages 8-32): Low Volume preview and Create Records,
High Volume background upload with progress and history, and the loaded-recipients list."""
from __future__ import annotations

from nicegui import events, run, ui

from components.error_summary import required
from components.guard import acting
from components.loaded_recipients import loaded_recipients
from components.page import page
from components.theme import heading
from components.uploads import described_by, spooled
from services.bulk import registration as bulk
from services.bulk.pipeline import LOW_VOLUME_MAX, CheckedRow, FileRejected
from services.core import localtime
from services.core.errors import ServiceError
from services.core.settings import get_settings
from services.permissions import Action
from services.principal import Principal

PREVIEW_COLUMNS = [
    {'name': 'first_name', 'label': 'First Name', 'field': 'first_name', 'align': 'left', 'sortable': True},
    {'name': 'last_name', 'label': 'Last Name', 'field': 'last_name', 'align': 'left', 'sortable': True},
    {'name': 'date_of_birth', 'label': 'Date of Birth', 'field': 'date_of_birth', 'align': 'left'},
    {'name': 'email', 'label': 'Email', 'field': 'email', 'align': 'left'},
    {'name': 'status', 'label': 'Status', 'field': 'status', 'align': 'left'},
]
HISTORY_COLUMNS = [
    {'name': 'when', 'label': 'When', 'field': 'when', 'align': 'left'},
    {'name': 'who', 'label': 'Who', 'field': 'who', 'align': 'left'},
    {'name': 'file', 'label': 'File', 'field': 'file', 'align': 'left'},
    {'name': 'total', 'label': 'In file', 'field': 'total_shown', 'align': 'right'},
    {'name': 'loaded', 'label': 'Loaded', 'field': 'loaded_shown', 'align': 'right'},
    {'name': 'failed', 'label': 'Failed', 'field': 'failed_shown', 'align': 'right'},
    {'name': 'status', 'label': 'Status', 'field': 'status', 'align': 'left'},
    {'name': 'error_file', 'label': 'Error file', 'field': 'id', 'align': 'left'},
]
STATUS_LABELS = {'queued': 'Waiting', 'running': 'Processing', 'done': 'Done', 'rejected': 'Refused',
                 'failed': 'Stopped'}
ACCEPT = '.csv,.xlsx'


def _preview_row(row: CheckedRow) -> dict:
    return {'line': row.line, 'first_name': row.first_name, 'last_name': row.last_name,
            'date_of_birth': row.date_of_birth_text, 'email': row.email,
            'status': 'Ready' if row.ready else f'Failed: {row.error}'}


@page('/bulk-registration', title='Bulk Registration', action=Action.BULK_UPLOAD)
def bulk_registration_page(principal: Principal) -> None:
    settings = get_settings()
    with ui.row().classes('items-center gap-2'):
        ui.label('Recipient Bulk Upload template:').classes('text-sm')
        ui.button('Download template (CSV)', icon='download',
                  on_click=lambda: ui.download.content(bulk.template_csv(), 'Recipient Bulk Upload Template.csv',
                                                       'text/csv')).props('flat dense no-caps')
        ui.button('Download template (.xlsx)', icon='download',
                  on_click=lambda: ui.download.content(
                      bulk.template_xlsx(), 'Recipient Bulk Upload Template.xlsx',
                      'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')).props('flat dense no-caps')
    banner = ui.label('').classes('w-full p-3 rounded bg-green-100 text-green-900 font-medium') \
        .props('role=status').mark('bulk-banner')
    banner.set_visibility(False)
    with ui.tabs().classes('w-full').props('align=left no-caps') as tabs:
        low_tab = ui.tab('low', label=f'Low Volume ({LOW_VOLUME_MAX})')
        ui.tab('high', label=f'High Volume ({settings.bulk_max_rows:,})')
    with ui.tab_panels(tabs, value=low_tab).classes('w-full'):
        with ui.tab_panel('low'):
            low = _LowVolume(principal)
        with ui.tab_panel('high'):
            high = _HighVolume(principal, banner)
    ui.separator()
    reload_list = loaded_recipients(principal)
    low.after_load = reload_list
    high.after_load = reload_list


class _LowVolume:
    """Drop a file of at most 100 records, review it, then Create Records or Cancel."""

    def __init__(self, principal: Principal) -> None:
        self.preview: bulk.Preview | None = None
        self.content_type = 'text/csv'
        self.outcome: bulk.Outcome | None = None
        self.after_load = None
        heading('Recipient Upload')
        ui.label(f"If you're uploading {LOW_VOLUME_MAX} employees or less, upload file here.")
        self.upload = ui.upload(label='Drag and Drop CSV file here', auto_upload=True, on_upload=self.received,
                                max_file_size=get_settings().bulk_max_file_mb * 1024 * 1024) \
            .props(f'accept="{ACCEPT}" flat bordered').classes('w-full max-w-xl').mark('low-volume-upload')
        self.message = ui.label('').classes('text-red-700').props('role=alert').mark('low-volume-message')
        described_by(self.upload, self.message)
        self.show_preview()
        self.show_failed()
        self.alert_area = ui.element()  # stays while the preview and failed rows come and go (notices, the alert)
        with self.alert_area, ui.dialog().props('persistent') as self.alert, \
                ui.card().classes('min-w-[360px]').mark('result-alert'):
            self.show_alert()

    async def received(self, e: events.UploadEventArguments) -> None:
        self.upload.reset()
        self.message.set_text('')
        self.outcome = None
        self.show_failed.refresh()
        try:
            path = await spooled(e, bulk.max_file_bytes())
            try:
                self.preview = await run.io_bound(bulk.preview, principal=acting(), data=path, file_name=e.file.name)
            finally:
                path.unlink(missing_ok=True)
        except (FileRejected, ServiceError) as refusal:
            self.preview = None
            self.show_preview.refresh()
            self.message.set_text(str(refusal))
            return
        self.content_type = e.file.content_type or 'text/csv'
        self.show_preview.refresh()

    @ui.refreshable_method
    def show_preview(self) -> None:
        """The file waiting for Create Records or Cancel, row by row."""
        preview = self.preview
        with ui.column().classes('w-full gap-2'):
            if preview is None:
                return
            content_type = self.content_type
            failed = len(preview.rows) - preview.ready_count
            ui.label(f'{preview.file_name} ({content_type}) - {preview.file_size:,} bytes, '
                     f'{len(preview.rows)} records: {preview.ready_count} ready, {failed} failed') \
                .classes('font-medium').mark('preview-file')
            for notice in preview.notices:
                ui.label(notice).classes('text-sm text-amber-800').mark('preview-notice')
            table = ui.table(columns=PREVIEW_COLUMNS, rows=[_preview_row(r) for r in preview.rows], row_key='line',
                             pagination=LOW_VOLUME_MAX).classes('w-full').mark('preview-table')
            table.add_slot('body-cell-status', '''
                <q-td :props="props">
                    <span :class="props.value === 'Ready' ? 'text-green-800' : 'text-red-700'">{{ props.value }}</span>
                </q-td>''')
            ui.input(placeholder='Search this list...').bind_value(table, 'filter').props('dense outlined clearable') \
                .classes('w-80').mark('preview-search')
            with ui.row():
                ui.button('Create Records', on_click=self.create).mark('create-records')
                ui.button('Cancel', on_click=self.cancel).props('outline').mark('cancel-preview')

    def cancel(self) -> None:
        self.preview = None
        self.show_preview.refresh()
        with self.alert_area:
            ui.notify('The file was removed. Nothing was loaded.')

    async def create(self) -> None:
        if self.preview is None:
            return
        preview, self.preview = self.preview, None
        try:
            self.outcome = await run.io_bound(bulk.create_records, principal=acting(), previewed=preview)
        except ServiceError as error:
            self.message.set_text(str(error))
            return
        self.show_preview.refresh()
        self.show_failed.refresh()
        await self.show_alert.refresh()
        self.alert.open()
        with self.alert_area:
            if self.after_load:
                await self.after_load()

    @ui.refreshable_method
    def show_alert(self) -> None:
        """The result of Create Records, in the alert dialog."""
        outcome = self.outcome
        if outcome is None:
            return
        heading('Alert')
        ui.label(f'Successful records: {outcome.loaded}').mark('alert-successful')
        ui.label(f'Failed records: {outcome.failed}').mark('alert-failed')
        if outcome.loaded:
            ui.label('Loaded recipients receive an email to register in the COVID-19 Vaccine Portal.') \
                .classes('text-sm')
        with ui.row():
            if outcome.failed:
                ui.button('Download BulkError.csv', icon='download', on_click=self.download_errors) \
                    .props('outline no-caps')
            ui.button('OK', on_click=self.alert.close)

    async def download_errors(self) -> None:
        if self.outcome is not None:
            data = await run.io_bound(bulk.upload_error_file, principal=acting(),
                                      upload_id=self.outcome.upload_id)
            if data:
                ui.download.content(data, bulk.ERROR_FILE_NAME, 'text/csv')

    @ui.refreshable_method
    def show_failed(self) -> None:
        """Each failed row can be corrected right here and submitted again."""
        outcome = self.outcome
        with ui.column().classes('w-full gap-2'):
            if outcome is None or not outcome.failed_rows:
                return
            with ui.row().classes('items-center gap-4'):
                heading('Failed records')
                ui.button('Download BulkError.csv', icon='download', on_click=self.download_errors) \
                    .props('flat dense no-caps').mark('download-bulk-error')
            ui.label('Correct a row and press Resubmit; it is checked again and created when it passes.') \
                .classes('text-sm')
            for row in outcome.failed_rows:
                self._failed_row(row)

    def _failed_row(self, row: CheckedRow) -> None:
        with ui.card().classes('w-full p-2').mark(f'failed-line-{row.line}') as card:
            # the line's error (read out when it changes) describes each of its fields
            error = ui.label(row.error).classes('text-red-700 text-sm').props('role=alert')
            with ui.row().classes('items-end gap-2'):
                first = ui.input('First name', value=row.first_name).props('dense').mark(f'fix-first-name-{row.line}')
                last = ui.input('Last name', value=row.last_name).props('dense').mark(f'fix-last-name-{row.line}')
                dob = ui.input('Date of birth', value=row.date_of_birth_text).props('dense') \
                    .mark(f'fix-date-of-birth-{row.line}')
                email = ui.input('Email', value=row.email).props('dense').classes('w-72').mark(f'fix-email-{row.line}')
                for field in (first, last, dob, email):
                    required(field).props(f'aria-describedby={error.html_id}')

                async def resubmit() -> None:
                    outcome = self.outcome
                    assert outcome is not None
                    try:
                        result = await run.io_bound(bulk.resubmit_row, principal=acting(), upload_id=outcome.upload_id,
                                                    line=row.line,
                                                    first_name=first.value or '', last_name=last.value or '',
                                                    date_of_birth=dob.value or '', email=email.value or '')
                    except ServiceError as problem:
                        error.set_text(str(problem))
                        return
                    if not result.ready:
                        error.set_text(result.error)
                        return
                    outcome.failed_rows.remove(row)
                    outcome.loaded += 1
                    card.delete()
                    with self.alert_area:
                        ui.notify(f'Line {row.line}: record created.', type='positive')
                        if self.after_load:
                            await self.after_load()

                ui.button('Resubmit', on_click=resubmit).props('dense').mark(f'resubmit-{row.line}')


class _HighVolume:
    """Upload a file; a background job loads it while the person may leave; progress and history show here."""

    def __init__(self, principal: Principal, banner: ui.label) -> None:
        settings = get_settings()
        self.banner = banner
        self.after_load = None
        self.known_status: dict[int, str] = {}
        self.followed: int | None = None  # the upload the banner tells about
        self.principal_email = principal.email
        heading('Recipient Upload')
        ui.label(f"If you're uploading between {LOW_VOLUME_MAX + 1} to {settings.bulk_max_rows:,} employees, upload "
                 'or drop file here. You can leave this page while it is processed.')
        self.upload = ui.upload(label='Upload or drop CSV file here', auto_upload=True, on_upload=self.received,
                                max_file_size=settings.bulk_max_file_mb * 1024 * 1024) \
            .props(f'accept="{ACCEPT}" flat bordered').classes('w-full max-w-xl').mark('high-volume-upload')
        self.message = ui.label('').classes('text-red-700').props('role=alert').mark('high-volume-message')
        described_by(self.upload, self.message)
        self.show_progress([])
        heading('Upload history', level=3).classes('mt-2')
        self.history = ui.table(columns=HISTORY_COLUMNS, rows=[], row_key='id').classes('w-full') \
            .props('no-data-label="No files uploaded yet"').mark('upload-history')
        self.history.add_slot('body-cell-error_file', '''
            <q-td :props="props">
                <q-btn v-if="props.row.failed > 0 && props.row.status !== 'Refused'" flat dense no-caps
                       color="primary" label="BulkError.csv" icon="download"
                       @click="() => $parent.$emit('download-errors', props.row)" />
                <span v-else-if="props.row.message" class="text-red-700 text-xs">{{ props.row.message }}</span>
            </q-td>''')
        self.history.on('download-errors', self.download_errors)
        self.timer = ui.timer(1.0, self.refresh)
        ui.timer(0, self.refresh, once=True)

    async def received(self, e: events.UploadEventArguments) -> None:
        self.upload.reset()
        self.message.set_text('')
        principal = acting()
        try:
            path = await spooled(e, bulk.max_file_bytes())
            try:
                summary = await run.io_bound(lambda: bulk.submit_file(principal=principal, file_name=e.file.name,
                                                                      path=path))
            finally:
                path.unlink(missing_ok=True)
        except (FileRejected, ServiceError) as refusal:
            self.message.set_text(str(refusal))
            await self.refresh()
            return
        self.known_status[summary.id] = summary.status
        self.followed = summary.id
        self._tell('positive', f'Success: File submitted for processing ({summary.file_name}, '
                               f'{summary.total:,} records).')
        await self.refresh()

    def _tell(self, kind: str, text: str) -> None:
        colors = {'positive': 'bg-green-100 text-green-900', 'progress': 'bg-blue-50 text-blue-900',
                  'negative': 'bg-red-50 text-red-900'}
        self.banner.classes(replace=f'w-full p-3 rounded font-medium {colors[kind]}')
        self.banner.set_text(text)
        self.banner.set_visibility(True)

    def _tell_about(self, u: bulk.UploadSummary) -> None:
        """The banner for the followed upload: what happens to it now (coming back to the page shows it too)."""
        submitted = f'Success: File submitted for processing ({u.file_name}, {u.total:,} records).'
        if u.status == 'queued':
            self._tell('positive', submitted)
        elif u.status == 'running':
            self._tell('progress', f'{submitted} Processing: {u.done:,} of {u.total:,} records '
                                   f'({u.done / u.total if u.total else 0:.0%}).')
        elif u.status == 'done':
            self._tell('positive', f'{u.file_name}: processing finished. {u.loaded:,} records loaded, '
                                   f'{u.failed:,} failed.' + (' The failed rows are in BulkError.csv.'
                                                              if u.failed else ''))
        else:
            self._tell('negative', f'{u.file_name}: {STATUS_LABELS.get(u.status, u.status)}. {u.message}'.strip())

    async def refresh(self) -> None:
        try:
            uploads = await run.io_bound(bulk.upload_history, principal=acting())
        except ServiceError:
            self.timer.deactivate()
            return
        if self.history.is_deleted:  # the page was closed while the history was read: nothing left to draw
            return
        self.history.rows = [{
            'id': u.id, 'when': localtime.time_label(u.created_at, u.time_zone), 'who': u.uploaded_by,
            'file': u.file_name, 'total_shown': f'{u.total:,}', 'loaded_shown': f'{u.loaded:,}',
            'failed': u.failed, 'failed_shown': f'{u.failed:,}', 'status': STATUS_LABELS.get(u.status, u.status),
            'message': u.message if u.status in ('rejected', 'failed') else '',
        } for u in uploads if u.mode != 'low']
        await self.show_progress.refresh([u for u in uploads if u.status in ('queued', 'running')])
        if self.followed is None and (latest := bulk.recent_own_upload(uploads, email=self.principal_email)):
            self.followed = latest.id  # back on the page after submitting: the banner picks the job up again
        finished = False
        for u in uploads:
            before = self.known_status.get(u.id)
            if before in ('queued', 'running') and u.status == 'done':
                finished = True
            if u.id == self.followed and (before != u.status or u.status in ('queued', 'running')):
                self._tell_about(u)
            self.known_status[u.id] = u.status
        if finished and self.after_load:
            await self.after_load()

    @ui.refreshable_method
    def show_progress(self, active: list[bulk.UploadSummary]) -> None:
        with ui.column().classes('w-full gap-1').mark('job-progress'):
            for u in active:
                ui.label(f'{u.file_name}: {u.done:,} of {u.total:,} records processed').mark('job-progress-label')
                ui.linear_progress(value=u.done / u.total if u.total else 0, show_value=False) \
                    .classes('max-w-xl').mark('job-progress-bar')

    async def download_errors(self, e) -> None:  # noqa: ANN001
        data = await run.io_bound(bulk.upload_error_file, principal=acting(), upload_id=int(e.args['id']))
        if data:
            ui.download.content(data, bulk.ERROR_FILE_NAME, 'text/csv')
