"""The "Vaccine Recipient" form (signed in or not, English and Spanish) and the page its requester follows their
case on, opened by the key in their emails' link."""
from __future__ import annotations

from nicegui import run, ui

from components.case_parts import attachments, conversation, summary_grid
from components.error_summary import ErrorSummary, required
from components.page import PORTAL, page
from components.portal_frame import PortalContext
from services.core.errors import ServiceError
from services.core.i18n import marked as _
from services.helpdesk import cases
from services.helpdesk.cases import FieldProblems
from services.helpdesk.suggestions import articles_for
from services.permissions import Action
from services.recipients.dates import date_or_none


@page('/help/recipient', title=_('Vaccine Recipient'), action=Action.USE_PORTAL, audience=PORTAL, public=True)
def recipient_form_page(ctx: PortalContext) -> None:
    t = ctx.t
    ui.label(t('Ask the state help desk a question about your vaccination. We answer by email.')).classes('text-sm')
    ui.label(t('Fields marked with an asterisk (*) are required.')).classes('text-sm')
    errors = ErrorSummary(t('There is a problem'))
    inputs = {
        'name': required(ui.input(t('Your name')).props('autocomplete=name').classes('w-full').mark('ask-name')),
        'date_of_birth': required(ui.input(t('Date of birth (MM/DD/YYYY)')).props('inputmode=numeric')
                                  .classes('w-full').mark('ask-dob')),
        'email': required(ui.input(t('Email')).props('type=email autocomplete=email').classes('w-full')
                          .mark('ask-email')),
        'question': required(ui.textarea(t('Your question')).classes('w-full').mark('ask-question')),
    }
    if ctx.person is not None:  # signed in: their own details to start from
        inputs['name'].value = ctx.person.name
        inputs['date_of_birth'].value = ctx.person.date_of_birth.strftime('%m/%d/%Y')
        inputs['email'].value = ctx.principal.email if ctx.principal else ''
    suggestions = ui.column().classes('gap-1').mark('ask-suggestions')
    done = ui.label('').classes('text-green-800 font-medium').props('role=status').mark('ask-done')

    async def suggest() -> None:
        found = await run.io_bound(articles_for, str(inputs['question'].value or ''), 'recipients', ctx.lang)
        suggestions.clear()
        if found:
            with suggestions:
                ui.label(t('These articles may answer it:')).classes('text-sm font-medium')
                for article in found:
                    ui.link(article.title, article.url, new_tab=True).classes('text-sm')

    inputs['question'].on_value_change(suggest)

    async def submit() -> None:
        born_text = str(inputs['date_of_birth'].value or '').strip()
        born = date_or_none(born_text)
        try:
            if born_text and born is None:
                raise FieldProblems({'date_of_birth': 'Enter your date of birth.'})
            asked = await run.io_bound(cases.ask_as_recipient, name=str(inputs['name'].value or ''),
                                       date_of_birth=born, email=str(inputs['email'].value or ''),
                                       question=str(inputs['question'].value or ''), language=ctx.lang,
                                       principal=ctx.principal)
        except FieldProblems as refused:
            errors.show([(inputs[name], t(message)) for name, message in refused.problems.items()],
                        mark_fields=True)
            return
        errors.hide()
        done.set_text(t('Thank you. Your question is case {number}; we sent a confirmation to {email}.').format(
            number=asked.number, email=asked.requester_email))
        button.disable()

    button = ui.button(t('Send'), on_click=submit).mark('ask-submit')
    ui.link(t('Log in'), '/login')


@page('/help/case/{number}', title=_('Your question to the help desk'), action=Action.USE_PORTAL, audience=PORTAL,
      public=True)
async def recipient_case_page(ctx: PortalContext, number: str, key: str = '') -> None:
    t = ctx.t

    @ui.refreshable
    async def body() -> None:
        try:
            view = await run.io_bound(cases.case_view_with_key, number=number, key=key)
        except ServiceError:
            ui.label(t('This link is not valid. Use the link in your latest email from the help desk.')) \
                .mark('case-refused')
            return
        summary_grid(view, t)
        conversation(view, t)
        attachments(view, download, t)
        if view.summary.state != cases.State.CLOSED:
            answer = ui.textarea(t('Your answer')).classes('w-full').mark('case-comment')

            async def send() -> None:
                try:
                    await run.io_bound(cases.add_comment_with_key, number=number, key=key, body=answer.value or '')
                except ServiceError:
                    ui.notify(t('Write your answer.'), type='negative')
                    return
                ui.notify(t('Sent to the help desk.'), type='positive')
                body.refresh()

            ui.button(t('Send'), on_click=send).mark('case-send')
        # The requester closes their case, or re-opens a resolved one within the days allowed, as account holders do
        # on the support portal (the rules: services/helpdesk/cases.py `_close`, `_reopen`).
        with ui.row().classes('gap-2'):
            if view.may_close:
                ui.button(t('Close case'), on_click=close).props('outline').mark('case-close')
            if view.may_reopen:
                ui.button(t('Re-open case'), on_click=reopen).props('outline').mark('case-reopen')

    async def close() -> None:
        await act(cases.close_case_with_key, t('The case is closed.'))

    async def reopen() -> None:
        await act(cases.reopen_case_with_key, t('The case is open again.'))

    async def act(action, done: str) -> None:  # noqa: ANN001 - a service function taking the number and key
        try:
            await run.io_bound(action, number=number, key=key)
        except ServiceError as refusal:
            ui.notify(t(str(refusal)), type='negative')
            return
        ui.notify(done, type='positive')
        body.refresh()

    async def download(attachment_id: int) -> None:
        name, content_type, data = await run.io_bound(cases.attachment_file, principal=None,
                                                      attachment_id=attachment_id, key=key)
        ui.download.content(data, name, content_type)

    await body()
