"""The change-password form, for staff (pages/account.py) and recipients (in the portal, in their language)."""
from __future__ import annotations

from collections.abc import Callable

from nicegui import run, ui

from components.error_summary import ErrorSummary, required
from components.guard import forget_session
from services.accounts import auth
from services.accounts.passwords import MIN_LENGTH, password_problem
from services.core.errors import ServiceError
from services.principal import Principal


def change_password_form(acting: Callable[[], Principal], t: Callable[[str], str] = str) -> None:
    """Current, new and repeated password; on success every session ends and the person logs in again."""
    with ui.card().classes('w-full max-w-md gap-3'):
        summary = ErrorSummary(t('There is a problem'))
        ui.label(t('At least {minimum} characters, not your email address, not a common password. Changing it logs '
                   'you out everywhere.').format(minimum=MIN_LENGTH)).classes('text-sm')
        current = ui.input(t('Current password'), password=True).props('autocomplete=current-password') \
            .classes('w-full')
        new = ui.input(t('New password'), password=True, password_toggle_button=True) \
            .props('autocomplete=new-password').classes('w-full')
        again = ui.input(t('Repeat new password'), password=True).props('autocomplete=new-password').classes('w-full')
        for field in (current, new, again):
            required(field)

        async def save() -> None:
            principal = acting()
            errors = []
            if not current.value:
                errors.append((current, t('Enter your current password.')))
            if (problem := password_problem(new.value or '', email=principal.email, translate=t)) is not None:
                errors.append((new, problem))
            elif new.value != again.value:
                errors.append((again, t('The two new passwords are not the same.')))
            if summary.show(errors, mark_fields=True):
                return
            try:
                await run.io_bound(auth.change_password, principal=principal, current_password=current.value,
                                   new_password=new.value)
            except ServiceError as error:
                summary.show([(current, t(str(error)))], mark_fields=True)
                return
            forget_session()  # the password change ended every session, this one too
            ui.notify(t('Password changed. Log in with your new password.'), type='positive')
            ui.navigate.to('/login')

        ui.button(t('Change password'), on_click=save)
