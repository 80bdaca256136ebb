"""Proof of vaccination: the printable/downloadable PDF and the public verification link in its QR code.

The link is /verify/<code> with a random 192-bit code per person (unguessable, not derived from any id). Whoever
scans it sees only what a checker needs: the name's initials and each dose's number, product and date. A wrong
code shows nothing at all."""
from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from datetime import date

import segno
from fpdf import FPDF
from sqlmodel import Session, select

from models import Recipient
from models.portal import ProofCode
from services.accounts.auth import link
from services.core import audit
from services.core.db import session_scope
from services.core.errors import ServiceError
from services.core.i18n import translator
from services.core.pdf import new_document
from services.fhir import health_cards
from services.portal import program_status
from services.principal import Principal


def _code_for(session: Session, recipient_id: int) -> str:
    row = session.exec(select(ProofCode).where(ProofCode.recipient_id == recipient_id)).first()
    if row is None:
        row = ProofCode(recipient_id=recipient_id, code=secrets.token_urlsafe(24))
        session.add(row)
        session.flush()
    return row.code


def verification_url(*, principal: Principal, recipient_id: int) -> str:
    """The QR code's link for a household member (created on first use). Audited as a view of the proof: the
    record page and the PDF draw it."""
    program_status.vaccination_record(principal=principal,
                                      recipient_id=recipient_id)  # checks the person may see this record
    audit.record_now(action='view_proof_of_vaccination', actor=principal, entity_type='recipient',
                     entity_id=recipient_id)
    with session_scope() as session:
        return link(f'/verify/{_code_for(session, recipient_id)}')


@dataclass(frozen=True)
class VerifiedDose:
    dose_number: int
    product_name: str
    administered_on: date


@dataclass(frozen=True)
class Verified:
    initials: str
    doses: list[VerifiedDose]


def verify(code: str) -> Verified | None:
    """What the public verification page shows for a code, or None (unknown code, or no dose recorded)."""
    if not code or len(code) > 64:
        return None
    with session_scope(read_only=True) as session:
        row = session.exec(select(ProofCode).where(ProofCode.code == code)).first()
        recipient = session.get(Recipient, row.recipient_id) if row else None
        if recipient is None:
            return None
        recipient_id, initials = recipient.id or 0, f'{recipient.first_name[:1]}. {recipient.last_name[:1]}.'.upper()
    doses = program_status.doses_for_verification(recipient_id=recipient_id)
    if not doses:
        return None
    audit.record_now(action='proof_verified', entity_type='recipient', entity_id=recipient_id)  # public: no actor
    return Verified(initials, [VerifiedDose(d.dose_number, d.product_name, d.administered_on) for d in doses])


def qr_svg(content: str) -> str:
    return segno.make(content, error='m').svg_inline(scale=4, dark='#000', light='#fff')


def proof_pdf(*, principal: Principal, recipient_id: int, lang: str) -> bytes:
    """The proof of vaccination as a one-page PDF, in the reader's language, with the verification QR code."""
    t = translator(lang)
    record = program_status.vaccination_record(principal=principal, recipient_id=recipient_id)
    url = verification_url(principal=principal, recipient_id=recipient_id)
    audit.record_now(action='download_proof_pdf', actor=principal, entity_type='recipient', entity_id=recipient_id)
    pdf, family, text = new_document(t('Proof of COVID-19 vaccination'))

    pdf.set_font(family, 'B', 18)
    pdf.cell(0, 12, text(t('Proof of COVID-19 vaccination')), new_x='LMARGIN', new_y='NEXT')
    pdf.set_font(family, '', 12)
    pdf.cell(0, 8, text(t('Name') + f': {record.name}'), new_x='LMARGIN', new_y='NEXT')
    pdf.cell(0, 8, text(t('Date of birth') + f': {record.date_of_birth:%m/%d/%Y}'), new_x='LMARGIN', new_y='NEXT')
    pdf.ln(4)
    headers = [t('Dose'), t('Product'), t('Lot'), t('Date'), t('Location')]
    widths = [16, 52, 30, 28, 60]
    pdf.set_font(family, 'B', 10)
    for header, width in zip(headers, widths, strict=True):
        pdf.cell(width, 8, text(header), border=1)
    pdf.ln()
    pdf.set_font(family, '', 10)
    for dose in record.doses:
        for value, width in zip((str(dose.dose_number), dose.product_name, dose.lot_number,
                                 f'{dose.administered_on:%m/%d/%Y}', dose.location_name), widths, strict=True):
            pdf.cell(width, 8, text(value)[:40], border=1)
        pdf.ln()
    if not record.doses:
        pdf.cell(0, 8, text(t('No dose has been recorded yet.')), new_x='LMARGIN', new_y='NEXT')
    pdf.ln(6)
    size = 45.0
    left, top = pdf.get_x(), pdf.get_y()
    _draw_qr(pdf, segno.make(url, error='m'), left, top, size)
    card = None
    if record.doses:  # the SMART Health Card beside the verification link's code (none for a record too large)
        with contextlib.suppress(ServiceError):
            card = health_cards.health_card(principal=principal, recipient_id=recipient_id)
    if card is not None:
        _draw_qr(pdf, card.qr(), left + size + 20, top, 70.0)
        pdf.set_xy(left + size + 20, top + 71)
        pdf.set_font(family, '', 8)
        pdf.cell(70, 4, text(t('SMART Health Card')), align='C')
    pdf.set_xy(left, top + max(size, 75.0) + 4)
    pdf.set_font(family, '', 9)
    pdf.multi_cell(0, 5, text(t('Scan the code or open this link to check this record:') + f'\n{url}'))
    return bytes(pdf.output())


def _draw_qr(pdf: FPDF, qr, left: float, top: float, size: float) -> None:  # noqa: ANN001 - a segno QRCode
    module = size / qr.symbol_size(scale=1, border=0)[0]
    pdf.set_fill_color(0, 0, 0)
    for row_index, row in enumerate(qr.matrix):
        for col_index, dark in enumerate(row):
            if dark:
                pdf.rect(left + col_index * module, top + row_index * module, module, module, style='F')
