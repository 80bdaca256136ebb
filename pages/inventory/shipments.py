"""Shipments tab: incoming shipments of the location (allocated, shipped, delivered) and receiving one."""
from __future__ import annotations

from datetime import date

from nicegui import ui

from components.error_summary import ErrorSummary
from components.guard import acting
from components.page import page
from components.theme import heading
from models.inventory import ArrivalCondition, ShipmentPublic, ShipmentStatus
from services.core import localtime
from services.core.errors import ServiceError
from services.inventory import shipments
from services.inventory.shipments import ReceivedLot
from services.permissions import Action, can
from services.principal import Principal
from services.recipients.dates import date_or_none

COLUMNS = [{'name': n, 'label': label, 'field': n, 'align': 'left', 'sortable': True} for n, label in [
    ('id', 'Shipment'), ('location', 'Location'), ('product', 'Product'), ('doses_expected', 'Doses allocated'),
    ('status', 'Status'), ('tracking_number', 'Tracking'), ('delivered', 'Received'),
    ('doses_received', 'Doses received'), ('condition', 'Condition'), ('excursion', 'Temperature excursion')]]
STATUS_LABELS = {ShipmentStatus.ALLOCATED: 'Allocated', ShipmentStatus.SHIPPED: 'Shipped',
                 ShipmentStatus.DELIVERED: 'Delivered'}
CONDITION_LABELS = {ArrivalCondition.GOOD: 'Good', ArrivalCondition.DAMAGED: 'Damaged',
                    ArrivalCondition.PARTIAL: 'Partial (some cartons missing or damaged)'}


def shipment_rows(items: list[ShipmentPublic]) -> list[dict]:
    return [{'id': s.id, 'location': f'{s.location_name} ({s.location_code})', 'product': s.product_name,
             'doses_expected': s.doses_expected, 'status': STATUS_LABELS.get(s.status, s.status),
             'tracking_number': s.tracking_number,
             'delivered': localtime.time_label(s.delivered_at, s.time_zone, named=True) if s.delivered_at else '',
             'doses_received': s.doses_received if s.status == ShipmentStatus.DELIVERED else '',
             'condition': CONDITION_LABELS.get(s.condition_on_arrival or '', ''),
             'excursion': ('Yes' if s.temperature_excursion else 'No') if s.status == ShipmentStatus.DELIVERED else ''}
            for s in items]


@page('/shipments', title='Shipments', action=Action.VIEW_SHIPMENTS)
def shipments_page(principal: Principal) -> None:
    may_receive = can(principal, Action.RECEIVE_SHIPMENT)
    status_filter = ui.toggle({'': 'All', **STATUS_LABELS}, value='').mark('shipment-status-filter')
    table = ui.table(columns=COLUMNS, rows=[], row_key='id', pagination=20).classes('w-full') \
        .props('no-data-label="No shipments"').mark('shipments-table')

    def show_shipments() -> None:
        items = shipments.list_shipments(principal=acting(), status=status_filter.value or None)
        table.rows = shipment_rows(items)
        table.update()

    def refresh() -> None:
        show_shipments()
        receiving.refresh()

    @ui.refreshable
    def receiving() -> None:
        items = shipments.list_shipments(principal=acting())
        # Only shipped ones: an allocated shipment has not left the depot, so nothing of it can be in hand.
        open_items = {s.id: f'#{s.id} · {s.product_name} · {s.doses_expected} doses · shipped'
                      + (f' · tracking {s.tracking_number}' if s.tracking_number else '')
                      for s in items if s.status == ShipmentStatus.SHIPPED}
        allocated = sum(1 for s in items if s.status == ShipmentStatus.ALLOCATED)
        with ui.card().classes('w-full'):
            heading('Receive a shipment')
            if not open_items:
                ui.label('No shipments are waiting to be received.' + (
                    f' {allocated} allocated shipment{"s have" if allocated != 1 else " has"} not been shipped yet.'
                    if allocated else '')).mark('no-shipments-to-receive')
                return
            summary = ErrorSummary()
            choice = summary.require(ui.select(open_items, label='Shipment to receive', value=next(iter(open_items)))
                                     .classes('w-96').mark('receive-shipment'), 'Choose the shipment to receive.')
            ui.label('Count each lot in the shipment: lot number and expiration date from the carton, and the doses '
                     'received.').classes('text-sm')
            lot_lines = ui.column().classes('w-full gap-1')
            lines: list[tuple[ui.input, ui.input, ui.number]] = []

            def add_line() -> None:
                n = len(lines) + 1
                with lot_lines, ui.row().classes('items-end gap-2'):
                    lot = summary.require(ui.input(f'Lot number {n}').classes('w-48').mark(f'lot-number-{n}'),
                                          f'Lot number {n}: enter the lot number printed on the carton.')
                    expires = ui.input(f'Expiration date {n} (MM/DD/YYYY)').classes('w-56').mark(f'lot-expiration-{n}')
                    quantity = summary.require(ui.number(f'Doses received {n}', min=0, precision=0)
                                               .classes('w-40').mark(f'lot-quantity-{n}'),
                                               f'Doses received {n}: enter the doses counted.')
                lines.append((lot, expires, quantity))

            add_line()
            ui.button('Add another lot', icon='add', on_click=add_line).props('flat no-caps').mark('add-lot')
            condition = ui.select({k.value: v for k, v in CONDITION_LABELS.items()}, label='Condition on arrival',
                                  value=ArrivalCondition.GOOD.value).classes('w-80').mark('arrival-condition')
            excursion = ui.checkbox('Temperature excursion (the monitor shows the shipment left its storage range)') \
                .mark('temperature-excursion')
            notes = ui.textarea('Receiving notes').classes('w-full').mark('receiving-notes')

            def receive() -> None:
                if summary.missing():
                    return
                try:
                    received = [ReceivedLot(lot_number=lot.value or '', quantity=_whole(quantity.value),
                                            expiration_date=_parse_date(expires.value))
                                for lot, expires, quantity in lines]
                    result = shipments.receive(principal=acting(), shipment_id=int(choice.value), lots=received,
                                               condition=condition.value, temperature_excursion=bool(excursion.value),
                                               notes=notes.value or '')
                except ServiceError as error:
                    summary.refuse(str(error), about={
                        **{f'lot number {n}': lot for n, (lot, _, _) in enumerate(lines, 1)},
                        **{f'expiration date {n}': expires for n, (_, expires, _) in enumerate(lines, 1)},
                        'expiration': lines[0][1], 'dose': lines[0][2], 'lot': lines[0][0], 'condition': condition})
                    return
                summary.hide()
                message = f'Shipment #{result.id} received: {result.doses_received} doses added to inventory.'
                if result.temperature_excursion:
                    message = (f'Shipment #{result.id} received with a temperature excursion: '
                               f'{result.doses_quarantined} doses are in quarantine, not in usable stock. Keep them '
                               'apart, marked "do not use", and contact the manufacturer; then release or waste them '
                               'on the Vaccine Inventory tab.')
                ui.notify(message, type='warning' if result.temperature_excursion else 'positive', multi_line=True)
                refresh()

            ui.button('Receive shipment', on_click=receive).props('color=primary no-caps').mark('receive-button')

    if may_receive:
        receiving()
    status_filter.on_value_change(show_shipments)
    show_shipments()


def _whole(value: float | None) -> int:
    if value is None:
        return 0
    if value != int(value):
        raise ServiceError('Doses are whole numbers.')
    return int(value)


def _parse_date(text: str | None) -> date | None:
    """As on the carton (services.recipients.dates reads the usual ways to type it); empty means 'a lot already on
    record'."""
    text = (text or '').strip()
    if not text:
        return None
    if (parsed := date_or_none(text)) is None:
        raise ServiceError(f'Expiration date {text!r}: write it as MM/DD/YYYY.')
    return parsed
