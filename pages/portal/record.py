"""Proof of vaccination (printable, PDF download, QR verification link) and the public verification page."""
from __future__ import annotations

from nicegui import run, ui

from components.change_password import change_password_form
from components.page import PORTAL, page
from components.portal_frame import PortalContext, acting_recipient
from services.core.errors import ServiceError
from services.core.i18n import marked as _
from services.fhir import health_cards
from services.permissions import Action
from services.portal import program_status, proof


@page('/portal/record', title=_('Vaccination record'), action=Action.USE_PORTAL, audience=PORTAL)
def record_page(ctx: PortalContext) -> None:
    t = ctx.t
    if ctx.person is None:
        ui.label(t('No one is linked to this account yet.'))
        return
    record = program_status.vaccination_record(principal=ctx.principal, recipient_id=ctx.person.id)
    with ui.card().classes('w-full gap-1 cvms-proof').mark('proof'):
        ui.label(t('Proof of COVID-19 vaccination')).classes('text-xl font-semibold') \
            .props('role=heading aria-level=2')
        ui.label(t('Name') + f': {record.name}')
        ui.label(t('Date of birth') + f': {record.date_of_birth:%m/%d/%Y}')
        if not record.doses:
            ui.label(t('No dose has been recorded yet.')).mark('no-doses')
            return
        for dose in record.doses:
            with ui.element('section').classes('w-full border-t pt-2 mt-2').mark('dose'):
                ui.label(t('Dose {dose}').format(dose=dose.dose_number)).classes('font-semibold') \
                    .props('role=heading aria-level=3')
                ui.label(t('Product') + f': {dose.product_name}')
                ui.label(t('Lot') + f': {dose.lot_number}')
                ui.label(t('Date') + f': {dose.administered_on:%m/%d/%Y}')
                ui.label(t('Location') + f': {dose.location_name}')
        if record.next_dose_due:
            ui.label(t('Your next dose is due on or after {date}.')
                     .format(date=f'{record.next_dose_due:%m/%d/%Y}')).classes('mt-2')
        url = proof.verification_url(principal=ctx.principal, recipient_id=ctx.person.id)
        qr = ui.html(proof.qr_svg(url), sanitize=False).classes('mt-2').props('role=img')
        qr.props['aria-label'] = t('QR code of the verification link')
        ui.label(t('Scan the code or open this link to check this record:')).classes('text-sm')
        ui.link(url, url).classes('text-sm break-all').mark('verification-link')
        try:
            card = health_cards.health_card(principal=ctx.principal, recipient_id=ctx.person.id)
        except ServiceError:  # a record too large for one code: the verification link above still serves
            card = None
        if card is not None:
            shc = ui.html(card.qr().svg_inline(scale=3, dark='#000', light='#fff'), sanitize=False) \
                .classes('mt-2').props('role=img').mark('health-card-qr')
            shc.props['aria-label'] = t('SMART Health Card QR code')
            ui.label(t('SMART Health Card: scan it with a health wallet or verifier app.')).classes('text-sm')
    person_id = ctx.person.id

    async def download() -> None:
        data = await run.io_bound(proof.proof_pdf, principal=acting_recipient(), recipient_id=person_id,
                                  lang=ctx.lang)
        ui.download.content(data, 'proof-of-vaccination.pdf', 'application/pdf')

    def download_card() -> None:
        try:
            card_file = health_cards.health_card(principal=acting_recipient(), recipient_id=person_id).file_content
        except ServiceError as error:
            ui.notify(str(error), type='warning')
            return
        ui.download.content(card_file, 'vaccination.smart-health-card', health_cards.FILE_MEDIA_TYPE)

    with ui.row().classes('gap-2 cvms-no-print'):
        ui.button(t('Download PDF'), icon='download', on_click=download).mark('download-pdf')
        ui.button(t('Download SMART Health Card'), icon='download', on_click=download_card).props('outline') \
            .mark('download-health-card')
        ui.button(t('Print'), icon='print', on_click=lambda: ui.run_javascript('window.print()')).props('outline')


@page('/verify/{code}', title=_('Vaccination record check'), action=Action.USE_PORTAL, audience=PORTAL, public=True)
def verify_page(ctx: PortalContext, code: str) -> None:
    t = ctx.t
    verified = proof.verify(code)
    if verified is None:
        ui.label(t('No record was found for this code.')).classes('text-lg text-red-800').mark('verify-none')
        return
    with ui.card().classes('w-full gap-1').mark('verify-valid'):
        ui.label(t('Valid COVID-19 vaccination record')).classes('text-lg font-semibold text-green-800') \
            .props('role=heading aria-level=2')
        ui.label(t('Name initials') + f': {verified.initials}')
        for dose in verified.doses:
            ui.label(t('Dose {dose}').format(dose=dose.dose_number) + f': {dose.product_name}, '
                     f'{dose.administered_on:%m/%d/%Y}').mark('verify-dose')


@page('/portal/password', title=_('Change password'), action=Action.USE_PORTAL, audience=PORTAL)
def portal_password_page(ctx: PortalContext) -> None:
    change_password_form(acting_recipient, ctx.t)
