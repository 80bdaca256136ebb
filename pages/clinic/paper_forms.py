"""Printable offline forms (the training page's three PDFs), mirroring the screens field by field: Recipient
Registration (with the screening questionnaire), Recipient Administration, Inventory Levels. Print with the
browser; the header and buttons are left off the paper."""
from __future__ import annotations

from html import escape

from nicegui import ui

from components.page import page
from services.clinic import administration, common
from services.inventory import ledger
from services.permissions import Action
from services.principal import Principal
from services.recipients import codes

FORM_CSS = '''
.cvms-form table { border-collapse: collapse; width: 100%; font-size: 12px; }
.cvms-form th, .cvms-form td { border: 1px solid #444; padding: 6px 4px; text-align: left; vertical-align: top; }
.cvms-form .line { border-bottom: 1px solid #444; min-height: 26px; }
.cvms-form h2 { font-size: 18px; font-weight: 600; margin: 8px 0; }
@media print { .cvms-form { font-size: 11px; } }
'''


def _print_button() -> None:
    with ui.row().classes('cvms-no-print gap-3'):
        ui.button('Print', icon='print', on_click=lambda: ui.run_javascript('window.print()'))
        ui.link('All paper forms', '/forms')


def _fields(labels: list[str]) -> str:
    cells = ''.join(f'<td style="width:{100 // len(labels)}%"><small>{escape(label)}</small>'
                    '<div class="line"></div></td>' for label in labels)
    return f'<table><tr>{cells}</tr></table>'


def _screening_rows() -> str:
    return ''.join(f'<tr><td>{escape(question)}</td><td>☐ Yes</td><td>☐ No</td></tr>'
                   for _, question in common.SCREENING_QUESTIONS)


@page('/forms', title='Printable paper forms', action=Action.CHECK_IN)
def forms_index(principal: Principal) -> None:
    ui.label('When the system is offline, keep vaccinating on paper with these forms, then enter the records as '
             'soon as it is back (Enter doses recorded on paper).').classes('text-sm')
    ui.link('CVMS Recipient Registration (with the COVID-19 Vaccination Questionnaire)', '/forms/registration')
    ui.link('CVMS Recipient Administration', '/forms/administration')
    ui.link('CVMS Inventory Levels', '/forms/inventory-levels')


@page('/forms/registration', title='CVMS Recipient Registration', action=Action.CHECK_IN)
def registration_form(principal: Principal) -> None:
    ui.add_css(FORM_CSS)
    _print_button()
    sexes, races, ethnicities = (' '.join(f'☐ {escape(label)}' for label in codes.options(field).values())
                                 for field in ('sex', 'race', 'ethnicity'))
    ui.html(f'''<div class="cvms-form">
<h2>Recipient information</h2>
{_fields(['First name *', 'Last name *', 'Date of birth (MM/DD/YYYY) *'])}
<table><tr><td><small>Sex</small><div>{sexes}</div></td></tr></table>
{_fields(['Address', 'City', 'County', 'State', 'ZIP code'])}
{_fields(['Phone', 'Email (optional)'])}
<table><tr><td><small>Race</small><div>{races}</div></td></tr>
<tr><td><small>Ethnicity</small><div>{ethnicities}</div></td></tr></table>
<h2>COVID-19 Vaccination Questionnaire</h2>
<table><tr><th>Question</th><th>Yes</th><th>No</th></tr>{_screening_rows()}</table>
{_fields(['Signature of recipient or guardian', 'Date'])}
</div>''', sanitize=False).classes('w-full')


@page('/forms/administration', title='CVMS Recipient Administration', action=Action.CHECK_IN)
def administration_form(principal: Principal) -> None:
    ui.add_css(FORM_CSS)
    _print_button()
    columns = ['Recipient name', 'Date of birth', 'Confirmation number', 'Screening all No? (else list)',
               'Consent ☐', 'Product', 'Lot number', 'Dose number', 'Site', 'Route', 'Dose volume (mL)',
               'Administered by', 'Date given', 'Time given']
    head = ''.join(f'<th>{escape(c)}</th>' for c in columns)
    blank = ''.join('<tr>' + '<td>&nbsp;</td>' * len(columns) + '</tr>' for _ in range(12))
    ui.html(f'''<div class="cvms-form">
<p>Sites: {escape(', '.join(administration.SITES))}. Routes: {escape(', '.join(administration.ROUTES))}.
Enter these lines later in "Enter doses recorded on paper" (one at a time or as a CSV file with the same columns).
</p>
{_fields(['Location', 'Date'])}
<table><tr>{head}</tr>{blank}</table></div>''', sanitize=False).classes('w-full')


@page('/forms/inventory-levels', title='CVMS Inventory Levels', action=Action.VIEW_INVENTORY)
def inventory_levels_form(principal: Principal) -> None:
    ui.add_css(FORM_CSS)
    _print_button()
    lots = ledger.location_stock(principal=principal, location_id=principal.location_id or 0, include_empty=False) \
        if principal.location_id else []
    rows = ''.join(f'<tr><td>{escape(s.product_name)}</td><td>{escape(s.lot_number)}</td>'
                   f'<td>{s.expiration_date:%m/%d/%Y}</td><td>{s.on_hand}</td><td></td><td></td></tr>'
                   for s in lots)
    rows += '<tr>' + '<td>&nbsp;</td>' * 6 + '</tr>'
    ui.html(f'''<div class="cvms-form">
{_fields(['Location', 'Date of count', 'Counted by'])}
<table><tr><th>Product</th><th>Lot number</th><th>Expiration date</th><th>Book on hand (printed)</th>
<th>Counted doses</th><th>Note (wasted, damaged…)</th></tr>{rows}</table>
<p>Enter the counts in Vaccine Inventory → Inventory Levels when the system is back.</p></div>''',
            sanitize=False).classes('w-full')
