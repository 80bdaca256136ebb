"""Pieces of a help desk case shared by the requester's and the agent's pages: the summary (Number, Priority, State,
Account, Updated), the conversation, the attachments, and the comment box with its files."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from nicegui import events, run, ui

from components.error_summary import ErrorSummary
from components.theme import heading
from components.uploads import described_by, spooled
from services.bulk.files import FileRejected
from services.bulk.registration import max_file_bytes
from services.core.localtime import time_label
from services.helpdesk.cases import ATTACHMENT_TYPES, MAX_FILES, CaseView, NewFile

T = Callable[[str], str]
ACCEPT = ','.join(ATTACHMENT_TYPES)


def _same(text: str) -> str:
    return text


def summary_grid(view: CaseView, t: T = _same) -> None:
    """The guide's case summary: Number, Priority, State, Account, Updated (and who the case is with)."""
    s = view.summary
    account = s.organization_name or s.requester_name
    if s.unregistered_provider:
        account = f'{account} · {t("Unregistered Provider")}' if account else t('Unregistered Provider')
    with ui.element('dl').classes('grid grid-cols-[max-content_1fr] gap-x-6 gap-y-1').mark('case-summary'):
        for label, value in ((t('Number'), s.number), (t('Priority'), s.priority_label), (t('State'), t(s.state_label)),
                             (t('Account'), account), (t('Requester'), f'{s.requester_name} <{s.requester_email}>'),
                             (t('Request type'), s.request_type_label), (t('Assignment group'), s.assignment_group),
                             (t('Assigned to'), s.assigned_to or '—'), (t('Opened'), time_label(s.created_at)),
                             (t('Updated'), time_label(s.updated_at))):
            with ui.element('dt').classes('font-medium'):
                ui.label(label)
            with ui.element('dd'):
                ui.label(value)


def conversation(view: CaseView, t: T = _same) -> None:
    heading(t('Conversation'), level=2)
    with ui.column().classes('w-full gap-2').mark('case-conversation'):
        with ui.card().classes('w-full'):
            ui.label(f'{view.summary.requester_name} · {time_label(view.summary.created_at)}') \
                .classes('text-xs text-slate-600')
            ui.label(view.summary.subject).classes('font-semibold')
            if view.description:
                ui.label(view.description).classes('whitespace-pre-wrap')
            for key, value in view.fields.items():
                if value and key != 'date_of_birth':
                    ui.label(f'{FIELD_LABELS.get(key, key)}: {value}').classes('text-sm')
        for entry in view.entries:
            style = {'note': 'bg-amber-50 border-l-4 border-amber-600', 'event': 'bg-slate-100',
                     'comment': 'bg-white' if entry.from_requester else 'bg-blue-50'}[entry.kind]
            with ui.card().classes(f'w-full {style}').mark(f'case-entry-{entry.kind}'):
                tag = {'note': t('Internal note'), 'event': t('Update'), 'comment': ''}[entry.kind]
                ui.label(' · '.join(part for part in (entry.author, time_label(entry.created_at), tag) if part)) \
                    .classes('text-xs text-slate-700')
                ui.label(entry.body).classes('whitespace-pre-wrap')
        if view.resolution_notes:
            with ui.card().classes('w-full bg-green-50'):
                ui.label(t('Resolution notes')).classes('font-semibold')
                ui.label(view.resolution_notes).classes('whitespace-pre-wrap').mark('case-resolution')


def attachments(view: CaseView, download: Callable[[int], Awaitable[None]], t: T = _same) -> None:
    heading(t('Attachments'), level=2)
    if not view.attachments:
        ui.label(t('No files yet.')).classes('text-sm text-slate-600')
        return
    with ui.column().classes('gap-1').mark('case-attachments'):
        for item in view.attachments:
            with ui.row().classes('items-center gap-2'):
                ui.button(item.filename, icon='download', on_click=lambda i=item.id: download(i)) \
                    .props('flat dense no-caps').mark(f'attachment-{item.filename}')
                note = f'{item.size:,} bytes · {item.uploaded_by} · {time_label(item.created_at)}'
                ui.label(note + (f' · {t("Internal")}' if item.internal else '')).classes('text-xs text-slate-600')


class FilePicker:
    """An upload box whose files are checked on the server as they arrive (Bulk Registration's size limit, read
    off the event loop) and kept until the form is sent."""

    def __init__(self, label: str, *, marker: str, t: T = _same) -> None:
        self.files: list[NewFile] = []
        self.t = t
        ui.label(label).classes('text-sm font-medium')
        self.upload = ui.upload(on_upload=self._received, multiple=True, auto_upload=True,
                                max_file_size=max_file_bytes()).props(f'accept="{ACCEPT}" flat bordered') \
            .classes('w-full').mark(marker)
        self.listing = ui.label('').classes('text-sm').mark(f'{marker}-names')
        self.problem = ui.label('').classes('text-red-700 text-sm').props('role=alert')
        described_by(self.upload, self.problem)  # a screen reader hears why a file was refused on the control

    async def _received(self, e: events.UploadEventArguments) -> None:
        self.problem.set_text('')
        if len(self.files) >= MAX_FILES:
            self.problem.set_text(self.t('Attach at most {count} files.').format(count=MAX_FILES))
            return
        try:
            path = await spooled(e, max_file_bytes())
        except FileRejected as refusal:
            self.problem.set_text(f'{e.file.name}: {refusal}')
            return
        try:
            data = await run.io_bound(Path(path).read_bytes)
        finally:
            Path(path).unlink(missing_ok=True)
        self.files.append(NewFile(e.file.name, data))
        self.listing.set_text(', '.join(f.filename for f in self.files))

    def clear(self) -> None:
        self.files = []
        self.listing.set_text('')
        self.upload.reset()


def comment_box(*, send: Callable[[str, list[NewFile], bool], Awaitable[str | None]], allow_note: bool,
                t: T = _same) -> None:
    """Write a comment (or, for agents, an internal note) with files; `send` returns an error message or None."""
    heading(t('Add a comment'), level=2)
    errors = ErrorSummary(t('There is a problem'))
    body = ui.textarea(t('Comment')).classes('w-full').mark('case-comment')
    picker = FilePicker(t('Files (optional)'), marker='case-comment-files', t=t)
    note = ui.checkbox(t('Internal note (agents only)')).mark('case-internal') if allow_note else None

    async def submit() -> None:
        problem = await send(body.value or '', list(picker.files), bool(note and note.value))
        if problem:
            errors.show([(body, problem)], mark_fields=True)
            return
        errors.hide()
        body.value = ''
        picker.clear()

    ui.button(t('Send'), on_click=submit).mark('case-send')


FIELD_LABELS = {'request_type': 'Request Type', 'vfc_pin': 'VFC Pin', 'organization': 'Organization',
                'requestor_name': 'Requestor Name', 'requestor_email': 'Requestor Email Address',
                'recipient': 'Recipient'}
