"""Log-in, log-out, forgot password and the emailed set-password link."""
from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app, run, ui

from components.error_summary import ErrorSummary, required
from components.guard import (
    browser_id,
    client_ip,
    current_principal,
    end_session,
    redirect,
    set_session_cookie,
    sign_in,
)
from components.portal_frame import browser_language, switch_language
from components.theme import apply_theme, main_region
from services.accounts import auth
from services.accounts.passwords import MIN_LENGTH, password_problem
from services.core.errors import ServiceError
from services.core.i18n import LANGUAGES, translator
from services.permissions import Action, can
from services.portal import household_members
from services.portal.vaccine_groups import self_registration_enabled


def _safe_next(target: str | None) -> str:
    """Only same-site paths, so a crafted link cannot send people elsewhere after log-in."""
    if target and target.startswith('/') and not target.startswith('//'):
        return target
    return '/'


def _auth_card(title: str):  # noqa: ANN202
    """The card of the log-in pages, in the language chosen on it (recipients use these pages too)."""
    lang = browser_language()
    t = translator(lang)
    apply_theme()
    ui.query('html').props(f'lang={lang}')
    ui.query('body').classes('bg-slate-100')
    with main_region('w-full column items-center p-4'):
        other = next(code for code in LANGUAGES if code != lang)
        ui.button(LANGUAGES[other], on_click=lambda: switch_language(None, other)) \
            .props(f'flat dense no-caps lang={other}').classes('self-end').mark('auth-language')
        ui.label(t('Vaccine Management System')).classes('cvms-brand text-2xl font-bold text-[#1f4e79] mt-4')
        card = ui.card().classes('cvms-auth-card p-6 gap-3')
        with card:
            ui.label(t(title)).classes('text-xl font-semibold').props('role=heading aria-level=1')
    return card


@ui.page('/login', title='Log in · CVMS')
def login_page(next: str | None = None) -> RedirectResponse | None:  # noqa: A002 - the query parameter's name
    if current_principal() is not None:
        return redirect(_safe_next(next))
    t = translator(browser_language())
    with _auth_card('Log in'):
        summary = ErrorSummary(t('There is a problem'))
        email = summary.require(ui.input(t('Email')).props('type=email autocomplete=username autofocus')
                                .classes('w-full'), t('Enter the email address of your account.'))
        password = summary.require(ui.input(t('Password'), password=True, password_toggle_button=True)
                                   .props('autocomplete=current-password').classes('w-full'), t('Enter your password.'))

        async def try_login() -> None:
            if summary.missing():
                return
            button.disable()
            try:
                result = await auth.login_async(email=email.value, password=password.value, browser=browser_id(),
                                                client_ip=client_ip(), in_thread=run.io_bound)
            except auth.LoginRefused as refusal:
                summary.refuse(refusal.translated(t), password)
                password.value = ''
                return
            finally:
                button.enable()
            sign_in(result.sign_in_code, _safe_next(next))

        password.on('keydown.enter', try_login)
        button = ui.button(t('Log in'), on_click=try_login).classes('w-full')
        ui.link(t('Forgot password?'), '/forgot-password')
        if self_registration_enabled():
            ui.link(t('Create a COVID-19 Vaccine Portal account'), '/portal/sign-up')
        with ui.column().classes('gap-1 mt-2').mark('help-links'):
            ui.label(t('Need Assistance?')).classes('font-medium')
            ui.link(t('Vaccine Recipient: ask the help desk'), '/help/recipient')
            ui.link(t('Providers: register for the Vaccine Support Portal'), '/support/register')
    return None


@app.get('/session/start', include_in_schema=False)
def start_session(request: Request, code: str = '', next: str = '/') -> RedirectResponse:  # noqa: A002
    """Where a browser goes right after its log-in: trades the sign-in code for the session cookie (plain HTTP,
    since a websocket cannot set a cookie). A sync route: FastAPI runs it in its thread pool."""
    token = auth.start_session(sign_in_code=code, browser=str(request.session.get('id', '')),
                               client_ip=request.client.host if request.client else None)
    if token is None:
        return RedirectResponse('/login', status_code=303)
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(response, token)
    return response


@app.get('/logout', include_in_schema=False)
def logout(request: Request) -> RedirectResponse:
    response = RedirectResponse('/login', status_code=303)
    end_session(request, response)
    return response


@ui.page('/forgot-password', title='Forgot password · CVMS')
def forgot_password_page() -> None:
    t = translator(browser_language())
    with _auth_card('Forgot password'):
        ui.label(t('Enter the email address of your account. We will email you a link to choose a new password.'))
        summary = ErrorSummary(t('There is a problem'))
        email = summary.require(ui.input(t('Email')).props('type=email autocomplete=username').classes('w-full'),
                                t('Enter the email address of your account.'))
        done = ui.label('').classes('text-green-800').props('role=status')

        async def send() -> None:
            done.set_text('')
            if summary.missing([] if '@' in (email.value or '@') else
                               [(email, t('Enter the email address of your account.'))]):
                return
            await run.io_bound(auth.request_password_reset, email=email.value, client_ip=client_ip())
            # The same answer whether or not the account exists: the page must not reveal who has one.
            done.set_text(t('If an account exists for this address, an email with a reset link is on its way. '
                            'The link works for 1 hour.'))

        ui.button(t('Send reset link'), on_click=send).classes('w-full')
        ui.link(t('Back to log in'), '/login')


@ui.page('/set-password/{token}', title='Set password · CVMS')
def set_password_page(token: str) -> None:
    lang = browser_language()
    t = translator(lang)
    with _auth_card('Set your password'):
        try:
            _purpose, email = auth.check_token(token)
        except auth.TokenInvalid as invalid:
            ui.label(invalid.translated(t)).classes('text-red-700').props('role=alert')
            ui.link(t('Forgot password?'), '/forgot-password')
            return
        ui.label(t('Username: {email}').format(email=email)).classes('font-medium')
        ui.label(t('Choose a password of at least {minimum} characters. Do not use your email address or a '
                   'common password.').format(minimum=MIN_LENGTH)).classes('text-sm')
        summary = ErrorSummary(t('There is a problem'))
        first = required(ui.input(t('New password'), password=True, password_toggle_button=True)
                         .props('autocomplete=new-password').classes('w-full'))
        second = required(ui.input(t('Repeat new password'), password=True).props('autocomplete=new-password')
                          .classes('w-full'))

        async def save() -> None:
            # the service checks again; this is the reason in the reader's language
            if (problem := password_problem(first.value or '', email=email, translate=t)) is not None:
                summary.show([(first, problem)], mark_fields=True)
                return
            if first.value != second.value:
                summary.show([(second, t('The two passwords are not the same.'))], mark_fields=True)
                return
            try:
                result = await run.io_bound(auth.set_password_with_token, token=token, new_password=first.value,
                                            browser=browser_id(), client_ip=client_ip())
            except auth.Refusal as refusal:
                summary.refuse(refusal.translated(t), first)
                return
            except ServiceError as error:
                summary.refuse(str(error), first)
                return
            if lang != 'en' and can(result.principal, Action.USE_PORTAL):
                # keep the language they chose
                await run.io_bound(household_members.set_language, principal=result.principal, lang=lang)
            ui.notify(t('Your password is set. Welcome!'), type='positive')
            sign_in(result.sign_in_code, '/')

        ui.button(t('Set password'), on_click=save).classes('w-full')
