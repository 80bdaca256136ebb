"""The signed Provider Agreement as a printable PDF (fpdf2, as the proof of vaccination)."""
from __future__ import annotations

from services.core.localtime import time_label
from services.core.pdf import new_document
from services.enrollment import form
from services.enrollment.agreement import Agreement


def render(agreement: Agreement) -> bytes:
    pdf, family, text = new_document('COVID-19 Vaccination Program Provider Agreement')

    def heading(value: str) -> None:
        pdf.ln(3)
        pdf.set_font(family, 'B', 12)
        pdf.multi_cell(0, 7, text(value), new_x='LMARGIN', new_y='NEXT')
        pdf.set_font(family, '', 10)

    def line(label: str, value: str) -> None:
        pdf.multi_cell(0, 5.5, text(f'{label}: {value or "-"}'), new_x='LMARGIN', new_y='NEXT')

    draft = agreement.draft
    pdf.set_font(family, 'B', 16)
    pdf.multi_cell(0, 9, text('COVID-19 Vaccination Program Provider Agreement'), new_x='LMARGIN', new_y='NEXT')
    pdf.set_font(family, '', 10)
    line('Organization', draft['organization']['legal_name'])
    line('Status', agreement.status.replace('_', ' ').capitalize())
    if agreement.provider_pin:
        line('Provider PIN', agreement.provider_pin)
    if agreement.submitted_at:
        line('Submitted', time_label(agreement.submitted_at, named=True))
    heading('Section A: Organization')
    for name, label in form.ORGANIZATION_FIELDS.items():
        value = draft['organization'][name]
        line(label, form.ORGANIZATION_TYPES.get(value, value) if name == 'org_type' else value)
    for officer, title in form.OFFICERS.items():
        heading(title)
        for name, label in form.OFFICER_FIELDS.items():
            line(label, draft[officer][name])
    heading('Requirements accepted')
    for requirement in form.ATTESTATIONS.values():
        pdf.multi_cell(0, 5.5, text(f'- {requirement}'), new_x='LMARGIN', new_y='NEXT')
    for index, location in enumerate(draft['locations'], start=1):
        heading(f'Section B: Location {index}')
        for name, label in form.LOCATION_FIELDS.items():
            value = location[name]
            shown = {'time_zone': form.TIME_ZONES, 'population': form.POPULATIONS}.get(name, {}).get(value, value)
            line(label, shown)
        for unit in location['storage_units']:
            line('Storage unit', f'{form.STORAGE_UNIT_TYPES.get(unit["type"], unit["type"])}, '
                                 f'{unit["capacity"]} doses')
    if draft['redistribution']:
        heading('Supplemental COVID-19 Vaccine Redistribution Agreement')
        for requirement in form.REDISTRIBUTION_ATTESTATIONS.values():
            pdf.multi_cell(0, 5.5, text(f'- {requirement}'), new_x='LMARGIN', new_y='NEXT')
    heading('Signatures')
    for part, label in form.SIGNATURE_PARTS.items():
        signed = agreement.signatures.get(part)
        if part == 'redistribution' and not draft['redistribution']:
            continue
        line(label, f'/s/ {signed.signer_name}, {signed.signer_title}, signed '
                    f'{time_label(signed.signed_at, named=True)}' if signed else 'not signed')
    return bytes(pdf.output())
