"""State admin screens: the outbox (emails of the demo) and the audit log (users: pages/accounts/users.py)."""
from __future__ import annotations

from datetime import date

from nicegui import run, ui

from components.guard import acting
from components.page import page
from services.core import audit, localtime, outbox
from services.permissions import Action
from services.principal import Principal


@page('/outbox', title='Outbox', action=Action.VIEW_OUTBOX)
def outbox_page(principal: Principal) -> None:
    ui.label('Emails the system has queued. Without an SMTP server configured they stay here, so their links '
             'can be followed. Once an email is sent, its password link shows as [hidden]: it is kept nowhere.') \
        .classes('text-sm')
    with ui.row().classes('items-end gap-3 w-full'):
        recipient = ui.input('Recipient address (or its beginning)').props('clearable dense') \
            .classes('w-72').mark('outbox-recipient')
        subject = ui.input('Subject (its beginning)').props('clearable dense').classes('w-64').mark('outbox-subject')
        status = ui.select({'': 'Any status', **{s: s.capitalize() for s in outbox.STATUSES}}, value='',
                           label='Status').props('dense').classes('w-36').mark('outbox-status')
        sent_from = ui.input('Written from').props('type=date dense stack-label').classes('w-40') \
            .mark('outbox-from')
        sent_to = ui.input('Written to').props('type=date dense stack-label').classes('w-40').mark('outbox-to')
    # Cursors of the pages shown so far (None: the newest); Older pushes, Newer pops.
    cursors: list[int | None] = [None]
    shown: dict[str, object] = {'page': None, 'asked': None}

    def day(value: str | None) -> date | None:
        try:
            return date.fromisoformat(value) if value else None
        except ValueError:
            return None

    async def load() -> None:
        shown['asked'] = asked = object()  # typing asks once a key: only the last answer is drawn
        found = await run.io_bound(outbox.list_outbox, principal=acting(), recipient=recipient.value or '',
                                   subject=subject.value or '', status=status.value or '',
                                   sent_from=day(sent_from.value), sent_to=day(sent_to.value),
                                   before_id=cursors[-1])
        if shown['asked'] is asked and not results.is_deleted:  # the page may have closed meanwhile
            shown['page'] = found
            show.refresh()

    async def filter_changed() -> None:
        del cursors[1:]
        await load()

    async def older() -> None:
        page_now = shown['page']
        if isinstance(page_now, outbox.OutboxPage) and page_now.older is not None:
            cursors.append(page_now.older)
            await load()

    async def newer() -> None:
        if len(cursors) > 1:
            cursors.pop()
            await load()

    results = ui.column().classes('w-full gap-2')

    @ui.refreshable
    def show() -> None:
        found = shown['page']
        if not isinstance(found, outbox.OutboxPage):
            ui.label('Loading…').classes('text-sm')
            return
        filtered = any((recipient.value, subject.value, status.value, sent_from.value, sent_to.value))
        if not found.rows:
            ui.label('No email matches these filters.' if filtered else 'The outbox is empty.') \
                .mark('outbox-empty')
        for message in found.rows:
            with ui.expansion(f'{localtime.time_label(message.created_at, named=True)} · {message.to_addr} · '
                              f'{message.subject}',
                              caption=f'{message.status} · attempts {message.attempts}').classes('w-full') \
                    .mark('outbox-message'):
                ui.label(message.body_text).classes('whitespace-pre-wrap font-mono text-sm').mark('outbox-body')
                for name in message.attachment_names:
                    ui.label(f'Attachment: {name}').classes('text-sm')
                if message.last_error:
                    ui.label(f'Last error: {message.last_error}').classes('text-red-700 text-sm')
        with ui.row().classes('items-center gap-2'):
            ui.button('Newer', icon='chevron_left', on_click=newer).props('flat dense no-caps') \
                .set_enabled(len(cursors) > 1)
            ui.label(f'Page {len(cursors)}').classes('text-sm').mark('outbox-page')
            ui.button('Older', icon='chevron_right', on_click=older).props('flat dense no-caps') \
                .set_enabled(found.older is not None)

    with results:
        show()
    for field in (recipient, subject, status, sent_from, sent_to):
        field.on_value_change(filter_changed)
    ui.timer(0, load, once=True)


@page('/audit', title='Audit log', action=Action.VIEW_AUDIT)
def audit_page(principal: Principal) -> None:
    """Filtered and paged in the database (services.core.audit.search): the log holds every read too."""
    state = {'page': 1}
    with ui.row().classes('items-end gap-3 flex-wrap'):
        person = ui.input('Recipient ID', validation={'Enter the recipient\'s number': lambda v: not v or
                                                      v.strip().isdigit()}).classes('w-36').mark('audit-person')
        user = ui.input('User email').classes('w-64').mark('audit-user')
        action = ui.select(['', *audit.actions()], label='Action', value='').classes('w-64').mark('audit-action')
        start = ui.input('From (YYYY-MM-DD)').props('type=date').classes('w-44').mark('audit-from')
        end = ui.input('To (YYYY-MM-DD)').props('type=date').classes('w-44').mark('audit-to')

    def day(value: str | None) -> date | None:
        try:
            return date.fromisoformat(value) if value else None
        except ValueError:
            return None

    @ui.refreshable
    def show() -> None:
        wanted = (person.value or '').strip()
        found = audit.search(principal=acting(), person=int(wanted) if wanted.isdigit() else None,
                             user=user.value or '', action=action.value or '', start=day(start.value),
                             end=day(end.value), page=state['page'])
        columns = [{'name': n, 'label': label, 'field': n, 'align': 'left'} for n, label in
                   [('at', 'When'), ('actor_email', 'Who'), ('action', 'What'), ('entity', 'Record'),
                    ('detail', 'Detail'), ('client_ip', 'From')]]
        rows = [{'id': e.id, 'at': localtime.stamp_label(e.at), 'actor_email': e.actor_email or '',
                 'action': e.action, 'entity': f'{e.entity_type}:{e.entity_id}' if e.entity_type else '',
                 'detail': e.detail, 'client_ip': e.client_ip or ''} for e in found.rows]
        if not rows:
            ui.label('No audit events match these filters.').mark('audit-empty')
            return
        ui.table(columns=columns, rows=rows, row_key='id', pagination=0).classes('w-full').mark('audit-table')
        with ui.row().classes('items-center gap-3'):
            ui.button('Previous', on_click=lambda: turn(-1)).props('flat no-caps') \
                .set_enabled(state['page'] > 1)
            ui.label(f'Page {state["page"]}').mark('audit-page')
            ui.button('Next', on_click=lambda: turn(1)).props('flat no-caps').set_enabled(found.has_more)

    def turn(step: int) -> None:
        state['page'] = max(1, state['page'] + step)
        show.refresh()

    def filtered() -> None:
        state['page'] = 1
        show.refresh()

    show()
    for field in (person, user, action, start, end):
        field.on_value_change(filtered)
