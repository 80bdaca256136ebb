"""Vaccine Inventory tab: doses on hand per product and lot, expiry flags, adjustments with a reason, the daily
"Inventory Levels" count, and the ledger history (with reversal of a mistaken record)."""
from __future__ import annotations

from nicegui import ui

from components.error_summary import ErrorSummary
from components.guard import acting
from components.page import page
from components.theme import heading
from models.inventory import WASTE_REASON_LABELS, LedgerEntryPublic, LotStock, QuarantinedDosesPublic
from services.core import localtime
from services.core.db import session_scope
from services.core.errors import ServiceError
from services.inventory import ledger, quarantine
from services.permissions import Action, can
from services.principal import Principal

STOCK_COLUMNS = [{'name': n, 'label': label, 'field': n, 'align': 'left', 'sortable': True} for n, label in [
    ('product', 'Product'), ('lot_number', 'Lot'), ('expiration', 'Expiration'), ('on_hand', 'Doses on hand'),
    ('vials', 'Vials (approx.)'), ('flag', 'Status')]]
HISTORY_COLUMNS = [{'name': n, 'label': label, 'field': n, 'align': 'left'} for n, label in [
    ('id', 'Record'), ('at', 'When'), ('product', 'Product'), ('lot_number', 'Lot'), ('kind', 'What'),
    ('change', 'Doses'), ('balance_after', 'Lot on hand after'), ('reason', 'Reason'), ('who', 'Who'),
    ('reference', 'Reference')]]
KIND_LABELS = {'receipt': 'Received', 'administration': 'Administered', 'waste': 'Wasted',
               'transfer_out': 'Transferred out', 'transfer_in': 'Transferred in', 'correction': 'Count correction',
               'reversal': 'Reversal'}
ADJUSTMENTS = {'waste': 'Wasted', 'transfer': 'Transfer to another location', 'correction': 'Count correction'}


def stock_rows(items: list[LotStock]) -> list[dict]:
    return [{'lot_id': s.lot_id, 'product': s.product_name, 'lot_number': s.lot_number,
             'expiration': f'{s.expiration_date:%m/%d/%Y}', 'on_hand': s.on_hand,
             'vials': round(s.on_hand / s.doses_per_vial, 1),
             'flag': 'EXPIRED' if s.expired else ('Expires within 7 days' if s.expires_soon else '')} for s in items]


def history_rows(items: list[LedgerEntryPublic], time_zone: str) -> list[dict]:
    return [{'id': e.id, 'at': localtime.time_label(e.at, time_zone, named=True), 'product': e.product_name,
             'lot_number': e.lot_number,
             'kind': KIND_LABELS.get(e.kind, e.kind) + (' (reversed)' if e.reversed else ''),
             'change': f'{e.change:+d}', 'balance_after': e.balance_after, 'reason': e.reason,
             'who': e.actor_email or 'system', 'reference': e.reference or ''} for e in items]


@page('/inventory', title='Vaccine Inventory', action=Action.VIEW_INVENTORY)
def inventory_page(principal: Principal) -> None:
    locations = ledger.visible_locations(principal=principal)
    if not locations:
        ui.label('Your account is not attached to a location.')
        return
    state = {'location_id': principal.location_id if principal.location_id else locations[0].id}
    if len(locations) > 1:
        ui.select({loc.id: f'{loc.name} ({loc.code})' for loc in locations}, label='Location',
                  value=state['location_id'], on_change=lambda e: (state.update(location_id=e.value), refresh())) \
            .classes('w-96').mark('inventory-location')
    totals_row = ui.row().classes('gap-4')
    table = ui.table(columns=STOCK_COLUMNS, rows=[], row_key='lot_id', pagination=25).classes('w-full') \
        .props('no-data-label="No doses on hand"').mark('stock-table')
    table.add_slot('body-cell-flag', '''
        <q-td :props="props">
            <q-badge v-if="props.value" :color="props.value == 'EXPIRED' ? 'negative' : 'warning'"
                     :label="props.value" />
        </q-td>''')
    may_manage = can(principal, Action.MANAGE_INVENTORY)
    quarantine_area = ui.column().classes('w-full')
    manage_area = ui.column().classes('w-full gap-4')
    with ui.expansion('Inventory history (every change, newest first)').classes('w-full'):
        history = ui.table(columns=HISTORY_COLUMNS, rows=[], row_key='id', pagination=25).classes('w-full') \
            .mark('history-table')
        ui.input('Search').bind_value(history, 'filter').classes('w-80')

    def refresh() -> None:
        items = ledger.location_stock(principal=acting(), location_id=state['location_id'])
        show(items)
        totals.refresh(items)
        held_doses.refresh()
        management.refresh()

    def show(items: list[LotStock]) -> None:
        table.rows = stock_rows(items)
        table.update()
        zone = next(loc.time_zone for loc in locations if loc.id == state['location_id'])
        history.rows = history_rows(ledger.history(principal=acting(), location_id=state['location_id']), zone)
        history.update()

    @ui.refreshable
    def totals(items: list[LotStock]) -> None:
        by_product: dict[str, int] = {}
        for s in items:
            if not s.expired:
                by_product[s.product_name] = by_product.get(s.product_name, 0) + s.on_hand
        for name, doses in sorted(by_product.items()):
            with ui.card().classes('min-w-[200px]'):
                ui.label(f'{doses:,}').classes('text-3xl font-bold')
                ui.label(f'{name}: usable doses').classes('text-sm')

    @ui.refreshable
    def held_doses() -> None:
        items = quarantine.held(principal=acting(), location_id=state['location_id'])
        if not items:
            return
        who = acting()
        decides = may_manage and who.location_id == state['location_id']
        with ui.card().classes('w-full border-l-4 border-amber-700').mark('quarantine-card'):
            heading('Quarantine: do not use')
            ui.label('Doses received with a temperature excursion. They are not in usable stock until the '
                     'manufacturer confirms them viable (Release) or they are recorded as wasted.').classes('text-sm')
            for item in items:
                quarantine_row(item, decides)

    def quarantine_row(item: QuarantinedDosesPublic, decides: bool) -> None:
        with ui.row().classes('items-end gap-2 w-full').mark(f'quarantine-{item.lot_number}'):
            ui.label(f'{item.product_name} · lot {item.lot_number} · exp. {item.expiration_date:%m/%d/%Y} · '
                     f'{item.doses} doses · shipment #{item.shipment_id}').classes('w-[30rem]')
            if not decides:
                return
            summary = ErrorSummary()
            why = summary.require(ui.input('Reason (e.g. the manufacturer\'s answer)').classes('w-80')
                                  .mark(f'quarantine-reason-{item.lot_number}'),
                                  "Say why: e.g. the manufacturer's answer and who gave it.")

            def decide(release: bool) -> None:
                if summary.missing():
                    return
                try:
                    call = quarantine.release if release else quarantine.waste
                    call(principal=acting(), hold_id=item.id, reason=why.value or '')
                except ServiceError as error:
                    summary.refuse(str(error), why)
                    return
                ui.notify(f'{item.doses} doses ' + ('released into stock.' if release else 'recorded as wasted.'),
                          type='positive')
                refresh()

            ui.button('Release (viable)', on_click=lambda: decide(True)).props('no-caps') \
                .mark(f'quarantine-release-{item.lot_number}')
            ui.button('Waste', on_click=lambda: decide(False)).props('no-caps flat') \
                .mark(f'quarantine-waste-{item.lot_number}')

    @ui.refreshable
    def management() -> None:
        who = acting()
        if not (may_manage and who.location_id == state['location_id']):
            return
        lots = ledger.count_sheet(principal=who, location_id=state['location_id'])
        adjustment_card(who, [s for s in lots if s.on_hand > 0])
        count_card(lots)
        reversal_card()

    def adjustment_card(who: Principal, lots: list[LotStock]) -> None:
        with ui.card().classes('w-full'):
            heading('Adjust inventory')
            if not lots:
                ui.label('No doses on hand to adjust.')
                return
            summary = ErrorSummary()
            lot = ui.select({s.lot_id: f'{s.product_name} · lot {s.lot_number} · {s.on_hand} on hand' for s in lots},
                            label='Lot', value=lots[0].lot_id).classes('w-[28rem]').mark('adjust-lot')
            kind = ui.toggle(ADJUSTMENTS, value='waste').mark('adjust-kind')
            doses = summary.require(ui.number('Doses', min=1, precision=0).classes('w-40').mark('adjust-doses'),
                                    'Enter the number of doses.')
            with ui.column().bind_visibility_from(kind, 'value', value='waste'):
                waste_reason = ui.select({k.value: v for k, v in WASTE_REASON_LABELS.items()}, label='Why wasted') \
                    .classes('w-80').mark('waste-reason')
                other = ui.input('Describe what happened (for "Other")').classes('w-96').mark('waste-other')
            with ui.column().bind_visibility_from(kind, 'value', value='transfer'):
                destinations = ledger.transfer_destinations(principal=who, location_id=state['location_id'])
                if destinations:
                    destination = ui.select({d.id: f'{d.name} ({d.code})' for d in destinations},
                                            label='Transfer to').classes('w-80').mark('transfer-destination')
                else:
                    destination = None
                    ui.label('Transfers need the CDC Supplemental COVID-19 Vaccine Redistribution Agreement, which '
                             'your organization has not signed.').classes('text-sm')
            with ui.column().bind_visibility_from(kind, 'value', value='correction'):
                direction = ui.toggle({-1: 'Fewer doses than the book', 1: 'More doses than the book'}, value=-1) \
                    .mark('correction-direction')
            reason = ui.input('Reason / note').classes('w-96').mark('adjust-reason')

            def save() -> None:
                if summary.missing():
                    return
                try:
                    count = _whole(doses.value)
                    if kind.value == 'waste':
                        ledger.record_waste(principal=acting(), location_id=state['location_id'], lot_id=lot.value,
                                               doses=count, waste_reason=waste_reason.value or '',
                                               other_text=other.value or reason.value or '')
                        done = f'{count} doses recorded as wasted.'
                    elif kind.value == 'transfer':
                        if destination is None or destination.value is None:
                            raise ServiceError('Choose the location to transfer to.')
                        ledger.transfer(principal=acting(), from_location_id=state['location_id'],
                                           to_location_id=destination.value, lot_id=lot.value, doses=count,
                                           reason=reason.value or '')
                        done = f'{count} doses transferred.'
                    else:
                        ledger.correct_count(principal=acting(), location_id=state['location_id'], lot_id=lot.value,
                                                change=count * direction.value, reason=reason.value or '')
                        done = f'Count corrected by {count * direction.value:+d} doses.'
                except ServiceError as error:
                    summary.refuse(str(error), about={'whole number': doses, 'wasted': waste_reason,
                                                      'other': other, 'transfer': destination, 'why': reason,
                                                      'reason': reason, 'doses': doses, 'lot': lot})
                    return
                summary.hide()
                ui.notify(done, type='positive')
                refresh()

            ui.button('Save adjustment', on_click=save).props('color=primary no-caps').mark('adjust-save')

    def count_card(lots: list[LotStock]) -> None:
        with ui.card().classes('w-full'):
            heading('Inventory Levels (daily count)')
            ui.label('Count the doses in storage for each lot. The difference from the book figure is recorded '
                     'as a count correction.').classes('text-sm')
            if not lots:
                ui.label('No lots on record yet.')
                return
            summary = ErrorSummary()
            inputs: dict[int, ui.number] = {}
            for s in lots:
                with ui.row().classes('items-center gap-4'):
                    ui.label(f'{s.product_name} · lot {s.lot_number} · exp. {s.expiration_date:%m/%d/%Y}') \
                        .classes('w-[26rem]')
                    ui.label(f'Book: {s.on_hand}').classes('w-24')
                    counted = ui.number(f'Counted {s.lot_number}', min=0, precision=0).classes('w-40') \
                        .mark(f'count-{s.lot_number}')
                    difference = ui.label('').classes('w-40').mark(f'count-difference-{s.lot_number}')
                    counted.on_value_change(lambda e, book=s.on_hand, label=difference: label.set_text(
                        '' if e.value is None else f'Difference: {int(e.value) - book:+d}'))
                    inputs[s.lot_id] = counted
            note = ui.input('Note (optional)').classes('w-96')

            def record() -> None:
                partial = [(field, f'{field.props["label"]}: enter a whole number of doses.')
                           for field in inputs.values() if field.value is not None and field.value != int(field.value)]
                if summary.missing(partial):
                    return
                try:
                    values = {lot_id: _whole(field.value) for lot_id, field in inputs.items()
                              if field.value is not None}
                    lines = ledger.record_inventory_count(principal=acting(), location_id=state['location_id'],
                                                             counted=values, note=note.value or '')
                except ServiceError as error:
                    summary.refuse(str(error), next(iter(inputs.values()), None))
                    return
                summary.hide()
                changed = [line for line in lines if line.difference]
                ui.notify(f'Count recorded for {len(lines)} lot(s); {len(changed)} difference(s) recorded as '
                          'corrections.' if changed else f'Count recorded for {len(lines)} lot(s); it matches the '
                          'book.', type='positive')
                refresh()

            ui.button('Record count', on_click=record).props('color=primary no-caps').mark('count-save')

    def reversal_card() -> None:
        with ui.card().classes('w-full'):
            heading('Reverse a mistaken record')
            ui.label('Records are never edited or deleted; a reversal adds the opposite change. Find the record '
                     'number in the history below.').classes('text-sm')
            summary = ErrorSummary()
            with ui.row().classes('items-end gap-2'):
                record_id = summary.require(ui.number('Record', min=1, precision=0).classes('w-32').mark('reverse-id'),
                                            'Enter the number of the record to reverse.')
                why = summary.require(ui.input('Why').classes('w-96').mark('reverse-reason'),
                                      'Say why this record is being reversed.')

                def reverse() -> None:
                    if summary.missing():
                        return
                    try:
                        who, entry_id = acting(), _whole(record_id.value)  # both before the unit of work starts
                        with session_scope() as session:
                            ledger.reverse_entry(session, principal=who, entry_id=entry_id, reason=why.value or '')
                    except ServiceError as error:
                        summary.refuse(str(error), about={'why': why, 'record': record_id, 'number': record_id})
                        return
                    summary.hide()
                    ui.notify('Record reversed.', type='positive')
                    refresh()

                ui.button('Reverse', on_click=reverse).props('no-caps').mark('reverse-save')

    items = ledger.location_stock(principal=principal, location_id=state['location_id'])
    show(items)
    with totals_row:
        totals(items)
    with quarantine_area:
        held_doses()
    with manage_area:
        management()


def _whole(value: float | None) -> int:
    if value is None or value != int(value):
        raise ServiceError('Enter a whole number of doses.')
    return int(value)
