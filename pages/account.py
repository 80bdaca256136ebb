"""The signed-in person's own account: change password."""
from __future__ import annotations

from nicegui import app, run, ui

from components.guard import acting, protected_page
from services import auth
from services.errors import ServiceError
from services.passwords import MIN_LENGTH
from services.permissions import Action
from services.principal import Principal


@protected_page('/account/password', Action.CHANGE_OWN_PASSWORD, title='Change password')
def change_password_page(principal: Principal) -> None:
    with ui.card().classes('w-full max-w-md gap-3'):
        ui.label(f'At least {MIN_LENGTH} characters, not your email address, not a common password. '
                 'Changing it logs you out everywhere.').classes('text-sm')
        current = ui.input('Current password', password=True).props('autocomplete=current-password').classes('w-full')
        new = ui.input('New password', password=True, password_toggle_button=True) \
            .props('autocomplete=new-password').classes('w-full')
        again = ui.input('Repeat new password', password=True).props('autocomplete=new-password').classes('w-full')
        message = ui.label('').classes('text-red-700').props('role=alert')

        async def save() -> None:
            if new.value != again.value:
                message.set_text('The two new passwords are not the same.')
                return
            try:
                await run.io_bound(auth.change_password, acting(), current.value, new.value)
            except ServiceError as error:
                message.set_text(str(error))
                return
            app.storage.user.clear()
            ui.notify('Password changed. Log in with your new password.', type='positive')
            ui.navigate.to('/login')

        ui.button('Change password', on_click=save)
