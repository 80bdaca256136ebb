"""Self-registration (when the state admin has opened it): create a portal account, confirmed by an emailed link."""
from __future__ import annotations

from nicegui import run, ui

from components.error_summary import ErrorSummary
from components.guard import client_ip
from components.page import PORTAL, page
from components.portal_frame import PortalContext
from pages.portal.home import recipient_field_words
from services.core.errors import ServiceError
from services.core.i18n import marked as _
from services.permissions import Action
from services.portal import registration_form, vaccine_groups
from services.recipients.registry import DuplicateRecipient


@page('/portal/sign-up', title=_('Create your COVID-19 Vaccine Portal account'), action=Action.USE_PORTAL,
      audience=PORTAL, public=True)
def sign_up_page(ctx: PortalContext) -> None:
    t = ctx.t
    if not vaccine_groups.self_registration_enabled():
        ui.label(t('Self-registration is not open yet. Your employer or vaccine provider can invite you.'))
        ui.link(t('Log in'), '/login')
        return
    ui.label(t('We will email you a link to confirm your address and choose your password.')).classes('text-sm')
    summary = ErrorSummary(t('There is a problem'))
    first = summary.require(ui.input(t('First name')).classes('w-full').props('autocomplete=given-name')
                            .mark('signup-first'), t('Enter the first name.'))
    last = summary.require(ui.input(t('Last name')).classes('w-full').props('autocomplete=family-name')
                           .mark('signup-last'), t('Enter the last name.'))
    born = summary.require(ui.input(t('Date of birth (MM/DD/YYYY)')).classes('w-full').props('inputmode=numeric')
                           .mark('signup-dob'), t('Enter the date of birth (MM/DD/YYYY).'))
    email = summary.require(ui.input(t('Email')).classes('w-full').props('type=email autocomplete=email')
                            .mark('signup-email'), t('Enter the email address.'))
    done = ui.label('').classes('text-green-800 font-medium').props('role=status').mark('signup-done')

    async def create() -> None:
        if summary.missing():
            return
        try:
            await run.io_bound(registration_form.sign_up, first_name=first.value, last_name=last.value,
                               date_of_birth=born.value, email=email.value, lang=ctx.lang,
                               client_ip=client_ip())
        except ServiceError as failure:
            hint = t('If this is you, use the email from your vaccine provider or "Forgot password?".')
            summary.refuse(f'{failure}. {hint}' if isinstance(failure, DuplicateRecipient) else str(failure),
                           about=recipient_field_words(t, first=first, last=last, born=born, email=email))
            return
        summary.hide()
        done.set_text(t('Check your email: we sent a link to {email}. Open it within 2 days to choose your '
                        'password.').format(email=email.value.strip()))
        button.disable()

    button = ui.button(t('Create account'), on_click=create)
    ui.link(t('Log in'), '/login')
