"""The State's side of the Provider Enrollment Portal: invite a provider organization, the review queue (oldest
submission first, with counts per status), requests for an invitation, and one agreement with the three decisions:
Approve, Return for changes, Reject."""
from __future__ import annotations

from nicegui import run, ui

from components.error_summary import ErrorSummary, required
from components.guard import acting
from components.page import page
from components.theme import heading
from models import EnrollmentStatus
from services.core.errors import ServiceError
from services.core.localtime import time_label
from services.enrollment import form, invitations, review
from services.permissions import Action, can
from services.principal import Principal

from .agreement import notes, pdf_button, status_card


@page('/admin/enrollments', title='Provider enrollment', action=Action.APPROVE_ORGANIZATIONS)
def enrollments_page(principal: Principal) -> None:
    groups = invitations.priority_groups()
    queue = review.review_queue(principal=principal)
    with ui.row().classes('w-full gap-3').mark('enrollment-counts'):
        for status, count in queue.counts.items():
            with ui.card().classes('min-w-[140px] gap-0'):
                ui.label(f'{count:,}').classes('text-2xl font-bold')
                ui.label(EnrollmentStatus(status).label).classes('text-sm')

    heading('Submitted agreements (oldest first)')
    if not queue.rows:
        ui.label('No agreement is waiting for review.').mark('queue-empty')
    else:
        columns = [{'name': 'organization', 'label': 'Organization', 'field': 'organization', 'align': 'left'},
                   {'name': 'submitted', 'label': 'Submitted', 'field': 'submitted', 'align': 'left'},
                   {'name': 'priority', 'label': 'Priority group', 'field': 'priority', 'align': 'left'},
                   {'name': 'locations', 'label': 'Locations', 'field': 'locations'},
                   {'name': 'note', 'label': 'Note', 'field': 'note', 'align': 'left'},
                   {'name': 'open', 'label': 'Open', 'field': 'open'}]
        rows = [{'id': r.enrollment_id, 'organization': r.organization_name,
                 'submitted': time_label(r.submitted_at, named=True) if r.submitted_at else '',
                 'priority': r.priority_group, 'locations': r.locations,
                 'note': 'Resubmitted after a return' if r.resubmitted else '', 'open': ''} for r in queue.rows]
        table = ui.table(columns=columns, rows=rows, row_key='id').classes('w-full').mark('enrollment-queue')
        table.add_slot('body-cell-open', '''
            <q-td :props="props"><a :href="'/admin/enrollments/' + props.row.id" class="underline">
              Review <span class="sr-only">{{ props.row.organization }}</span></a></q-td>''')

    heading('Invite a provider organization')
    with ui.card().classes('w-full max-w-xl gap-2'):
        summary = ErrorSummary()
        name = required(ui.input('Organization name').classes('w-full').mark('invite-name'))
        email = required(ui.input('Contact email').props('type=email').classes('w-full').mark('invite-email'))
        group = required(ui.select(groups, label='Priority group').classes('w-full').mark('invite-group'))
        done = ui.label('').classes('text-green-800').props('role=status').mark('invite-done')

        async def invite() -> None:
            done.set_text('')
            problems = []
            if not (name.value or '').strip():
                problems.append((name, 'Enter the name of the organization.'))
            if '@' not in (email.value or ''):
                problems.append((email, 'Enter the contact email, like name@example.org.'))
            if not group.value:
                problems.append((group, 'Choose the priority group.'))
            if summary.show(problems, mark_fields=True):
                return
            try:
                await run.io_bound(invitations.invite, principal=acting(), organization_name=name.value,
                                   contact_email=email.value, priority_group=group.value)
            except ServiceError as failure:
                summary.show([(email if 'email' in str(failure) else name, str(failure))], mark_fields=True)
                return
            done.set_text(f'{name.value} was invited: {email.value} received a link to create the enrollment '
                          'account.')
            name.set_value('')
            email.set_value('')
            group.set_value(None)
        ui.button('Send invitation', icon='send', on_click=invite).mark('invite-send')

    heading('Requests for an invitation')
    requests = invitations.list_invitation_requests(principal=principal)
    if can(principal, Action.MANAGE_SETTINGS):
        async def toggle(e) -> None:  # noqa: ANN001
            await run.io_bound(invitations.set_invitation_requests_open, principal=acting(), open_=bool(e.value))
            ui.notify('Providers can now request an invitation at /enrollment/request.' if e.value
                      else 'The request page is closed.')
        ui.switch('Providers may request an invitation (public page /enrollment/request)',
                  value=invitations.invitation_requests_open(), on_change=toggle).mark('requests-open')
    if not requests:
        ui.label('No request is waiting.')
    for request in requests:
        with ui.card().classes('w-full gap-0').mark('invitation-request'):
            ui.label(f'{request.organization_name} · {request.contact_name} <{request.email}> {request.phone}') \
                .classes('font-medium')
            if request.message:
                ui.label(request.message).classes('text-sm whitespace-pre-wrap')
            ui.label(f'Asked {time_label(request.created_at, named=True)}').classes('text-xs')
            ui.button('Fill the invitation form', on_click=lambda r=request: (
                name.set_value(r.organization_name), email.set_value(r.email))).props('flat dense')


@page('/admin/enrollments/{enrollment_id}', title='Review a Provider Agreement', action=Action.APPROVE_ORGANIZATIONS)
def review_page(principal: Principal, enrollment_id: int) -> None:
    agreement = review.open_agreement(principal=principal, enrollment_id=enrollment_id)
    ui.link('Back to the review queue', '/admin/enrollments')
    status_card(agreement)
    ui.label(f'Contact: {agreement.contact_email} · priority group {agreement.priority_group} · invited '
             f'{time_label(agreement.invited_at, named=True)}').classes('text-sm')
    agreement_details(agreement)
    notes(agreement)
    pdf_button(agreement.enrollment_id)
    if agreement.status != EnrollmentStatus.SUBMITTED:
        return
    heading('Decision')
    message = ui.label('').classes('text-red-700').props('role=alert').mark('decision-error')

    async def decide(work, **values) -> None:  # noqa: ANN001, ANN003
        message.set_text('')
        try:
            result = await run.io_bound(work, principal=acting(), enrollment_id=enrollment_id, **values)
        except ServiceError as failure:
            message.set_text(str(failure))
            return
        ui.notify(f'Decision recorded{f": provider PIN {result}" if result else ""}. The contact was emailed.',
                  type='positive')
        ui.navigate.to(f'/admin/enrollments/{enrollment_id}')

    with ui.row().classes('w-full gap-4 items-start'):
        with ui.card().classes('gap-2 min-w-[260px]'):
            heading('Approve', level=3)
            ui.label('Gives the provider PIN, creates the locations and emails each location manager.') \
                .classes('text-sm')
            ui.button('Approve', icon='check', on_click=lambda: decide(review.approve)).mark('decision-approve')
        with ui.card().classes('gap-2 grow'):
            heading('Return for changes', level=3)
            note = required(ui.textarea('Note to the provider').classes('w-full').mark('decision-note'))
            ui.button('Return for changes', icon='undo', on_click=lambda: decide(
                review.return_for_changes, note=note.value or '')).props('outline').mark('decision-return')
        with ui.card().classes('gap-2 grow'):
            heading('Reject', level=3)
            reason = required(ui.textarea('Reason').classes('w-full').mark('decision-reason'))
            ui.button('Reject', icon='block', on_click=lambda: decide(review.reject, reason=reason.value or '')) \
                .props('outline color=negative').mark('decision-reject')


def agreement_details(agreement) -> None:  # noqa: ANN001 - services.enrollment.agreement.Agreement
    draft = agreement.draft
    heading('Section A: Organization')
    for name, label in form.ORGANIZATION_FIELDS.items():
        value = draft['organization'][name]
        ui.label(f'{label}: {form.ORGANIZATION_TYPES.get(value, value) if name == "org_type" else value}') \
            .classes('text-sm')
    for officer, title in form.OFFICERS.items():
        values = draft[officer]
        signed = agreement.signatures.get(officer)
        ui.label(f'{title}: {values["name"]}, {values["title"]}, {values["email"]}, {values["phone"]}; '
                 + (f'signed by {signed.signer_name} {time_label(signed.signed_at, named=True)}' if signed
                    else 'not signed')).classes('text-sm')
    for index, location in enumerate(draft['locations'], start=1):
        heading(f'Section B: Location {index}', level=3)
        for name, label in form.LOCATION_FIELDS.items():
            value = location[name]
            shown = {'time_zone': form.TIME_ZONES, 'population': form.POPULATIONS}.get(name, {}).get(value, value)
            ui.label(f'{label}: {shown or "-"}').classes('text-sm')
        for unit in location['storage_units']:
            ui.label(f'Storage unit: {form.STORAGE_UNIT_TYPES.get(unit["type"], unit["type"])}, {unit["capacity"]} '
                     'doses').classes('text-sm')
    signed = agreement.signatures.get('redistribution')
    ui.label('Supplemental Redistribution Agreement: ' + (
        f'signed by {signed.signer_name}' if draft['redistribution'] and signed else
        'not signed' if draft['redistribution'] else 'not requested')).classes('text-sm font-medium')
