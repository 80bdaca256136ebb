"""The "Remove a recipient" case's panel on the agent's case page: the person's record as the agent decides from it
(doses, appointments, portal login, pending emails, records alike) and the four answers: Remove, Decline, Mark
inactive, Merge into another record (services/recipients/removal.py). Each answer resolves the case with notes
saying what was done, which the requester receives by email (services.helpdesk.cases.resolve)."""
from __future__ import annotations

from collections.abc import Callable

from nicegui import run, ui

from components.error_summary import ErrorSummary, required
from components.guard import acting
from components.theme import heading
from services.core.errors import NotFound, ServiceError
from services.core.localtime import time_label
from services.helpdesk import cases
from services.helpdesk.cases import CaseView
from services.principal import Principal
from services.recipients import removal


async def removal_panel(view: CaseView, refresh: Callable[[], None]) -> None:
    case_id = view.summary.id
    with ui.card().classes('w-full gap-2').mark('removal-panel'):
        heading('Recipient record', level=2)
        if view.recipient_id is None:
            ui.label('This case names no recipient record.')
            return
        try:
            record = await run.io_bound(removal.removal_preview, principal=acting(), recipient_id=view.recipient_id)
        except NotFound:
            ui.label('This record no longer exists: it was removed or merged into another record.') \
                .mark('removal-record-gone')
            return
        _facts(record)
        if view.summary.state not in cases.OPEN_STATES:
            return
        errors = ErrorSummary()
        reason = required(ui.textarea('Reason').classes('w-full').props('autogrow').mark('removal-reason'))
        ui.label('The reason is kept in the audit log and sent to the requester with what was done.') \
            .classes('text-xs')

        async def act(work: Callable[[Principal, str], object], notes: Callable[[str], str], done: str) -> None:
            errors.hide()
            who = acting()  # here, on the event loop: the work runs in a thread, outside the page's context
            text = (reason.value or '').strip()
            if len(text) < removal.MIN_REASON:
                errors.show([(reason, 'Say why (at least a few words): the requester receives it.')],
                            mark_fields=True)
                return
            try:
                await run.io_bound(work, who, text)
            except ServiceError as refused:
                errors.show([(reason, str(refused))], mark_fields=True)
                return
            try:
                await run.io_bound(cases.resolve, principal=who, case_id=case_id, notes=notes(text))
            except ServiceError as refused:
                ui.notify(f'{done} The case was not resolved: {refused}', type='warning')
            else:
                ui.notify(f'{done} The case is resolved; the requester was emailed.', type='positive')
            refresh()

        def remove(who: Principal, text: str) -> None:
            removal.remove_recipient(principal=who, recipient_id=record.recipient_id, reason=text,
                                     case_id=case_id)

        def inactive(who: Principal, text: str) -> None:
            removal.mark_inactive(principal=who, recipient_id=record.recipient_id, reason=text, case_id=case_id)

        with ui.row().classes('gap-2'):
            if record.may_delete:
                with ui.dialog() as confirm, ui.card():
                    ui.label(f'Delete the record of {record.name}? This cannot be undone.')
                    with ui.row():
                        ui.button('Delete the record', color='negative', on_click=lambda: (confirm.close(), act(
                            remove, lambda text: f'{record.name} was removed from the system. Reason: {text}',
                            'Record removed.'))[1]).mark('removal-confirm')
                        ui.button('Cancel', on_click=confirm.close).props('outline')
                ui.button('Remove', color='negative', on_click=confirm.open).mark('removal-remove')
            ui.button('Decline', on_click=lambda: act(
                lambda who, text: None, lambda text: f'The removal of {record.name} was declined. Reason: {text}',
                'Removal declined.')).props('outline').mark('removal-decline')
            if not record.inactive:
                ui.button('Mark inactive', on_click=lambda: act(
                    inactive, lambda text: f'The record of {record.name} has recorded doses, so it is kept, '
                    f'marked inactive: it no longer shows in lists and searches. Reason: {text}',
                    'Record marked inactive.')).props('outline').mark('removal-inactive')
        if not record.may_delete:
            ui.label(record.why_not_delete).classes('text-sm text-red-800').mark('removal-why-not')
        _merge_controls(record, act, case_id)


def _facts(record: removal.RemovalPreview) -> None:
    ui.label(f'{record.name}, born {record.date_of_birth:%m/%d/%Y}').classes('font-medium').mark('removal-name')
    ui.label(f'{record.location_name or "No location"} · {record.email or "no email"} · record {record.recipient_id}')
    if record.inactive:
        ui.label(f'Marked inactive: {record.inactive_reason}').classes('text-sm').mark('removal-inactive-state')
    if record.doses:
        ui.label(f'{len(record.doses)} recorded dose{"s" if len(record.doses) != 1 else ""}:').classes('text-sm')
        with ui.element('ul').classes('list-disc pl-5 text-sm').mark('removal-doses'):
            for dose in record.doses:
                with ui.element('li'):
                    ui.label(f'{time_label(dose.administered_at)}: {dose.product_name} dose {dose.dose_number}, '
                             f'{dose.location_name}{" (voided)" if dose.voided else ""}')
    else:
        ui.label('No recorded dose.').classes('text-sm').mark('removal-no-dose')
    if record.appointments:
        ui.label('Appointments: ' + '; '.join(f'{a.case_number} {time_label(a.scheduled_at)} {a.status}'
                                              for a in record.appointments)).classes('text-sm')
    if record.portal_email:
        ui.label(f'Portal login {record.portal_email}: ' + (
            f'stays for {", ".join(record.household_others)}' if record.household_others
            else 'closes with a removal (nobody else in the household)')).classes('text-sm')
    if record.pending_emails:
        ui.label(f'{record.pending_emails} welcome email(s) not sent yet.').classes('text-sm')
    for merge in record.merged_here:
        ui.label(f'Merged here: record {merge.source_id} ({merge.source_name}) on {time_label(merge.at)}, '
                 f'{merge.reason}').classes('text-sm')


def _merge_controls(record: removal.RemovalPreview, act: Callable, case_id: int) -> None:
    heading('Merge into another record of the person', level=3)
    choices = {c.recipient_id: f'{c.first_name} {c.last_name}, born {c.date_of_birth:%m/%d/%Y} (record '
               f'{c.recipient_id})' for c in record.merge_candidates}
    if choices:
        survivor = ui.select(choices, label='Record to keep', value=next(iter(choices))).classes('w-full') \
            .mark('removal-survivor')
    else:
        ui.label('No other record born the same day has an alike name. Enter the record number to keep.') \
            .classes('text-sm')
        survivor = ui.number('Record number to keep', format='%d').classes('w-full').mark('removal-survivor')

    def merge(who: Principal, text: str) -> None:
        if not survivor.value:
            raise ServiceError('Choose the record to keep.')
        removal.merge_recipients(principal=who, source_id=record.recipient_id, survivor_id=int(survivor.value),
                                 reason=text, case_id=case_id)

    ui.button('Merge', on_click=lambda: act(
        merge, lambda text: f'The record of {record.name} was merged into record {int(survivor.value or 0)}, the '
        f'same person: doses, appointments and portal access are there now. Reason: {text}',
        'Records merged.')).props('outline').mark('removal-merge')
