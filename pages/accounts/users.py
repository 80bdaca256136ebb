"""The Users screen: a location manager manages the staff accounts of their location, a state admin those of every
organization (and adds employer and state admin accounts). Recipients' portal logins are never listed here."""
from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from components.error_summary import ErrorSummary, required
from components.guard import acting
from components.page import page
from components.theme import heading
from models import Role
from services.accounts import staff
from services.core.errors import ServiceError
from services.permissions import Action, can
from services.principal import Principal

STAFF_ROLE_OPTIONS = {r.value: r.label for r in staff.LOCATION_STAFF_ROLES}


@page('/admin/users', title='Users', action=Action.MANAGE_STAFF)
def users_page(principal: Principal) -> None:
    ui.label('Staff accounts of your location: add the people who work here (they receive an email with a link to '
             'set their password), change their role, deactivate an account (its sessions end at once) or resend '
             'the invitation of someone who has not set a password yet.' if not principal.is_admin else
             'Staff accounts of every organization (recipients\' portal logins are not listed here).') \
        .classes('text-sm')
    state = {'page': 1}

    _add_staff_form(principal, on_added=lambda: accounts.refresh())
    if can(principal, Action.MANAGE_USERS):
        _add_user_form(principal, on_added=lambda: accounts.refresh())

    heading('Accounts')
    search = ui.input('Search by name, email, location or organization').props('clearable') \
        .classes('w-96').mark('users-search')
    message = ui.label('').props('role=status').classes('text-sm').mark('users-message')

    def act(action: Callable[[], object], done: str) -> None:
        try:
            action()
        except ServiceError as error:
            message.set_text(str(error))
            ui.notify(str(error), type='negative', multi_line=True)
        else:
            message.set_text(done)
        accounts.refresh()

    @ui.refreshable
    def accounts() -> None:
        found = staff.staff_accounts(principal=acting(), search=search.value or '', page=state['page'])
        state['page'] = found.page
        if not found.rows:
            ui.label('No account matches this search.' if search.value else 'No staff accounts yet.') \
                .mark('users-empty')
            return
        with ui.element('table').classes('w-full text-left text-sm cvms-users').mark('users-table'):
            with ui.element('thead'), ui.element('tr'):
                for title in ('Name', 'Email', 'Role', 'Location', 'Organization', 'Status', 'Actions'):
                    with ui.element('th').props('scope=col').classes('p-2 border-b'):
                        ui.label(title)
            with ui.element('tbody'):
                for account in found.rows:
                    _account_row(principal, account, act)
        with ui.row().classes('items-center gap-3'):
            ui.button('Previous', on_click=lambda: turn(-1)).props('flat no-caps').set_enabled(found.page > 1)
            ui.label(f'Page {found.page} of {found.pages} · {found.total} account{"" if found.total == 1 else "s"}') \
                .mark('users-page')
            ui.button('Next', on_click=lambda: turn(1)).props('flat no-caps').set_enabled(found.page < found.pages)

    def turn(step: int) -> None:
        state['page'] = max(1, state['page'] + step)
        accounts.refresh()

    def searched() -> None:
        state['page'] = 1
        accounts.refresh()

    accounts()
    search.on_value_change(searched)


def _account_row(principal: Principal, account: staff.StaffAccount,
                 act: Callable[[Callable[[], object], str], None]) -> None:
    with ui.element('tr').classes('border-b').mark('staff-row'):
        for value in (account.full_name, account.email, Role(account.role).label, account.location,
                      account.organization, account.status):
            with ui.element('td').classes('p-2'):
                ui.label(value)
        with ui.element('td').classes('p-2'), ui.row().classes('gap-1 no-wrap'):
            if account.id == principal.user_id:
                ui.label('(you)')
                return
            if account.role in staff.LOCATION_STAFF_ROLES:
                other = (Role.HEALTHCARE_PROVIDER if account.role == Role.LOCATION_MANAGER
                         else Role.LOCATION_MANAGER)
                ui.button(f'Make {other.label}', on_click=lambda: act(
                    lambda: staff.change_staff_role(principal=acting(), user_id=account.id, role=other),
                    f'{account.email} is now a {other.label}.')) \
                    .props(f'flat dense no-caps aria-label="Make {account.email} a {other.label}"') \
                    .mark(f'role-{account.email}')
            if account.is_active and account.invited:
                ui.button('Resend invitation', on_click=lambda: act(
                    lambda: staff.resend_invitation(principal=acting(), user_id=account.id),
                    f'A new invitation email was sent to {account.email}.')) \
                    .props(f'flat dense no-caps aria-label="Resend the invitation to {account.email}"') \
                    .mark(f'resend-{account.email}')
            if account.is_active:
                ui.button('Deactivate', on_click=lambda: act(
                    lambda: staff.set_staff_active(principal=acting(), user_id=account.id, active=False),
                    f'{account.email} is deactivated; their sessions have ended.')) \
                    .props(f'flat dense no-caps color=negative aria-label="Deactivate {account.email}"') \
                    .mark(f'deactivate-{account.email}')
            else:
                ui.button('Reactivate', on_click=lambda: act(
                    lambda: staff.set_staff_active(principal=acting(), user_id=account.id, active=True),
                    f'{account.email} can log in again.')) \
                    .props(f'flat dense no-caps aria-label="Reactivate {account.email}"') \
                    .mark(f'reactivate-{account.email}')


def _add_staff_form(principal: Principal, *, on_added: Callable[[], None]) -> None:
    """Add a location manager or healthcare provider; the service's message goes beside the field it is about."""
    places = dict(staff.staff_locations(principal=principal))
    with ui.card().classes('w-full').mark('add-staff'):
        heading('Add a staff account')
        summary = ErrorSummary()
        with ui.row().classes('items-end gap-3'):
            name = required(ui.input('Name')).classes('w-56').mark('staff-name')
            email = required(ui.input('Email')).classes('w-72').mark('staff-email')
            role = required(ui.select(STAFF_ROLE_OPTIONS, label='Role', value=Role.HEALTHCARE_PROVIDER)) \
                .classes('w-52').mark('staff-role')
            location = required(ui.select(places, label='Location',
                                          value=next(iter(places)) if len(places) == 1 else None)) \
                .classes('w-96').mark('staff-location')
        done = ui.label('').props('role=status').mark('staff-message')

        def add() -> None:
            summary.hide()
            done.set_text('')
            try:
                added = staff.add_staff_account(principal=acting(), full_name=name.value or '',
                                                email=email.value or '', role=role.value or '',
                                                location_id=location.value)
            except ServiceError as error:
                text = str(error)
                field = {'Name': name, 'Role': role, 'Location': location}.get(text.split(':')[0], email)
                summary.show([(field, text)], mark_fields=True)
                return
            done.set_text(f'{added.email} was added; they will receive an email with a link to set their password.')
            name.value, email.value = '', ''
            on_added()

        ui.button('Add staff account', on_click=add).props('color=primary no-caps').mark('staff-add')


def _add_user_form(principal: Principal, *, on_added: Callable[[], None]) -> None:
    """State admins: any kind of account (employers, state admins too); the service refuses what the rules refuse
    (an employer account outside an employer organization, location staff without a location) with a message
    saying what to change."""
    with ui.card().classes('w-full').mark('add-user'):
        heading('Add another kind of account (employers, state admins)')
        with ui.row().classes('items-end gap-3'):
            email = ui.input('Email').classes('w-72').mark('new-user-email')
            name = ui.input('Name').classes('w-56').mark('new-user-name')
            role = ui.select({r.value: r.label for r in Role if r != Role.RECIPIENT}, label='Role') \
                .classes('w-48').mark('new-user-role')
            location = ui.input('Location code (location staff)').classes('w-56').mark('new-user-location')
            organization = ui.select(dict(staff.organization_choices(principal=principal)),
                                     label='Organization (employers)', clearable=True) \
                .classes('w-72').mark('new-user-organization')
        message = ui.label('').props('role=alert').mark('new-user-message')

        def add() -> None:
            try:
                added = staff.add_user(principal=acting(), email=email.value or '', role=role.value or '',
                                       full_name=name.value or '', location_code=location.value or None,
                                       organization_id=organization.value)
            except ServiceError as error:
                message.set_text(str(error))
                return
            message.set_text(f'{added.email} was added; a welcome email with a set-password link is in the outbox.')
            on_added()

        ui.button('Add user', on_click=add).props('color=primary').mark('new-user-add')
