"""State admin screens for vaccine supply: the product list and allocation of doses to locations."""
from __future__ import annotations

from nicegui import ui

from components.error_summary import ErrorSummary
from components.guard import acting
from components.page import page
from components.theme import heading
from models.inventory import ProductCreate, ProductPublic, ShipmentStatus, Storage
from pages.inventory.shipments import COLUMNS as SHIPMENT_COLUMNS
from pages.inventory.shipments import shipment_rows
from services.core.errors import ServiceError
from services.inventory import ledger, shipments
from services.organizations import readiness
from services.permissions import Action
from services.principal import Principal

PRODUCT_COLUMNS = [{'name': n, 'label': label, 'field': n, 'align': 'left', 'sortable': True} for n, label in [
    ('name', 'Product'), ('manufacturer', 'Manufacturer'), ('cvx_code', 'CVX'), ('mvx_code', 'MVX'), ('ndc', 'NDC'),
    ('series', 'Doses in series'), ('interval', 'Days between doses'), ('doses_per_vial', 'Doses per vial'),
    ('storage', 'Storage'), ('hours', 'Hours usable after puncture'), ('active', 'Active')]]
STORAGE_OPTIONS = {s.value: s.label for s in Storage}


def product_rows(products: list[ProductPublic]) -> list[dict]:
    return [{'id': p.id, 'name': p.name, 'manufacturer': p.manufacturer, 'cvx_code': p.cvx_code,
             'mvx_code': p.mvx_code, 'ndc': p.ndc,
             'series': p.doses_in_series, 'interval': p.days_between_doses or '', 'doses_per_vial': p.doses_per_vial,
             'storage': Storage(p.storage).label, 'hours': p.hours_usable_after_puncture,
             'active': 'Yes' if p.is_active else 'No'} for p in products]


@page('/admin/products', title='Vaccine products', action=Action.MANAGE_PRODUCTS)
def products_page(principal: Principal) -> None:
    table = ui.table(columns=PRODUCT_COLUMNS, rows=[], row_key='id').classes('w-full').mark('products-table')
    known: dict[int, ProductPublic] = {}

    def refresh() -> None:
        products = ledger.list_products(principal=acting())
        known.clear()
        known.update({p.id: p for p in products})
        table.rows = product_rows(products)
        table.update()
        editing.set_options({0: 'New product', **{p.id: f'{p.name} (CVX {p.cvx_code})' for p in products}}, value=0)
        load(0)  # a saved form starts over as a new product

    with ui.card().classes('w-full'):
        heading('Add or change a product')
        summary = ErrorSummary()
        editing = ui.select({0: 'New product'}, label='Product', value=0).classes('w-96').mark('product-choice')
        with ui.row().classes('gap-2'):
            name = summary.require(ui.input('Name').classes('w-80').mark('product-name'), "Enter the product's name.")
            manufacturer = summary.require(ui.input('Manufacturer').classes('w-64').mark('product-manufacturer'),
                                           'Enter the manufacturer.')
            cvx = summary.require(ui.input('CVX code').classes('w-28').mark('product-cvx'), 'Enter the CVX code.')
            mvx = ui.input('MVX code (manufacturer)').classes('w-48').mark('product-mvx')
            ndc = ui.input('NDC').classes('w-40').mark('product-ndc')
        with ui.row().classes('gap-2'):
            series = ui.number('Doses in series', value=2, min=1, max=10, precision=0).classes('w-36') \
                .mark('product-series')
            interval = ui.number('Days between doses', value=21, min=1, max=365, precision=0).classes('w-40') \
                .mark('product-interval')
            per_vial = ui.number('Doses per vial', value=10, min=1, max=100, precision=0).classes('w-36') \
                .mark('product-per-vial')
            storage = ui.select(STORAGE_OPTIONS, label='Storage', value='refrigerated').classes('w-64') \
                .mark('product-storage')
            hours = ui.number('Hours usable after puncture', value=6, min=0, max=720, precision=0).classes('w-52') \
                .mark('product-hours')
            active = ui.checkbox('Active', value=True).mark('product-active')

        def load(product_id: int) -> None:
            p = known.get(product_id)
            if p is None:
                for field in (name, manufacturer, cvx, mvx, ndc):
                    field.value = ''
                series.value, interval.value, per_vial.value, storage.value = 2, 21, 10, 'refrigerated'
                hours.value, active.value = 6, True
                return
            name.value, manufacturer.value, cvx.value, ndc.value = p.name, p.manufacturer, p.cvx_code, p.ndc
            mvx.value = p.mvx_code
            series.value, interval.value, per_vial.value = p.doses_in_series, p.days_between_doses, p.doses_per_vial
            storage.value, hours.value, active.value = p.storage, p.hours_usable_after_puncture, p.is_active

        editing.on_value_change(lambda e: load(e.value))

        fields = {'name': name, 'manufacturer': manufacturer, 'cvx_code': cvx, 'mvx_code': mvx, 'ndc': ndc,
                  'doses_in_series': series,
                  'days_between_doses': interval, 'doses_per_vial': per_vial, 'storage': storage,
                  'hours_usable_after_puncture': hours}

        def save() -> None:
            if summary.missing():
                return
            try:
                data = ProductCreate(
                    name=name.value or '', manufacturer=manufacturer.value or '', cvx_code=cvx.value or '',
                    mvx_code=(mvx.value or '').strip().upper(),
                    ndc=ndc.value or '', doses_in_series=int(series.value or 1),
                    days_between_doses=int(interval.value) if interval.value else None,
                    doses_per_vial=int(per_vial.value or 1), storage=storage.value,
                    hours_usable_after_puncture=int(hours.value or 0), is_active=bool(active.value))
                saved = ledger.save_product(principal=acting(), data=data, product_id=editing.value or None)
            except ServiceError as error:
                summary.refuse(str(error), about={'cvx': cvx, 'mvx': mvx, 'ndc': ndc, 'manufacturer': manufacturer,
                                                  'name': name})
                return
            except ValueError as error:  # the model's limits (lengths, ranges), each beside its field
                summary.missing(_problems(error, fields))
                return
            summary.hide()
            ui.notify(f'{saved.name} saved.', type='positive')
            refresh()

        ui.button('Save product', on_click=save).props('color=primary no-caps').mark('product-save')
    refresh()


@page('/admin/allocation', title='Allocation', action=Action.ALLOCATE_VACCINE)
def allocation_page(principal: Principal) -> None:
    ui.label('Allocate doses to provider locations that can store the product. Each allocation becomes an incoming '
             'shipment on the location\'s Shipments tab.').classes('text-sm')
    places = shipments.allocation_choices(principal=principal)
    products = ledger.list_products(principal=principal, active_only=True)
    by_id = {p.id: p for p in products}
    with ui.card().classes('w-full'):
        heading('Allocate doses')
        summary = ErrorSummary()
        with ui.row().classes('items-end gap-2'):
            location = ui.select({p['id']: f'{p["name"]} ({p["code"]}) · {p["organization"]}'
                                  + ('' if p['approved'] else ' · enrollment not approved') for p in places},
                                 label='Location').classes('w-[28rem]').mark('allocate-location')
            product = ui.select({p.id: f'{p.name} ({Storage(p.storage).label})' for p in products},
                                label='Product').classes('w-96').mark('allocate-product')
            doses = ui.number('Doses', min=1, precision=0).classes('w-32').mark('allocate-doses')
            summary.require(location, 'Choose a location.')
            summary.require(product, 'Choose a product.')
            summary.require(doses, 'Enter the number of doses.')
        storage_note = ui.label('').classes('text-sm').mark('allocate-storage-note')
        ready = readiness.readiness_of_locations(principal=principal)  # a location not ready is warned of, not refused
        ready_note = ui.label('').classes('text-sm text-orange-900 font-medium').props('role=status') \
            .mark('allocate-readiness-note')
        note = ui.input('Note (optional)').classes('w-96').mark('allocate-note')

        def describe() -> None:
            place = next((p for p in places if p['id'] == location.value), None)
            chosen = by_id.get(product.value)
            state = ready.get(location.value) if location.value is not None else None
            ready_note.set_text('' if state is None or state.is_ready else
                                f'Warning: this location is not ready ({state.label}). Missing: '
                                f'{"; ".join(state.missing)}. You can still allocate.')
            if place is None:
                storage_note.set_text('')
                return
            held = ', '.join(Storage(s).label for s in place['storage'] if s in STORAGE_OPTIONS) or 'none recorded'
            text = f'Storage at this location: {held}.'
            if chosen is not None:
                text += (f' {chosen.name} ships in vials of {chosen.doses_per_vial} doses.'
                         if chosen.storage in place['storage'] else f' It cannot store {chosen.name}.')
            storage_note.set_text(text)

        location.on_value_change(describe)
        product.on_value_change(describe)

        def allocate() -> None:
            whole = doses.value is None or doses.value == int(doses.value)
            if summary.missing([] if whole else [(doses, 'Enter a whole number of doses.')]):
                return
            try:
                shipment = shipments.allocate(principal=acting(), location_id=location.value, product_id=product.value,
                                              doses=int(doses.value), note=note.value or '')
            except ServiceError as error:
                summary.refuse(str(error), about={'dose': doses, 'store': product, 'product': product,
                                                  'location': location})
                return
            summary.hide()
            ui.notify(f'Allocated {shipment.doses_expected} doses of {shipment.product_name} to '
                      f'{shipment.location_name}: shipment #{shipment.id}.', type='positive')
            refresh()

        ui.button('Allocate', on_click=allocate).props('color=primary no-caps').mark('allocate-button')

    heading('Shipments')
    table = ui.table(columns=SHIPMENT_COLUMNS, rows=[], row_key='id', pagination=20).classes('w-full') \
        .mark('allocation-shipments')
    ship_summary = ErrorSummary()
    with ui.row().classes('items-end gap-2'):
        to_ship = ship_summary.require(ui.select({}, label='Mark as shipped').classes('w-96').mark('ship-choice'),
                                       'Choose the shipment that left the distributor.')
        tracking = ui.input('Tracking number').classes('w-64').mark('ship-tracking')

        def ship() -> None:
            if ship_summary.missing():
                return
            try:
                shipments.mark_shipped(principal=acting(), shipment_id=to_ship.value,
                                       tracking_number=tracking.value or '')
            except ServiceError as error:
                ship_summary.refuse(str(error), about={'tracking': tracking, 'shipment': to_ship})
                return
            ship_summary.hide()
            ui.notify('Shipment marked as shipped.', type='positive')
            refresh()

        ui.button('Mark shipped', on_click=ship).props('no-caps').mark('ship-button')

    def refresh() -> None:
        items = shipments.list_shipments(principal=acting())
        table.rows = shipment_rows(items)
        table.update()
        to_ship.set_options({s.id: f'#{s.id} · {s.location_code} · {s.product_name} · {s.doses_expected} doses'
                             for s in items if s.status == ShipmentStatus.ALLOCATED}, value=None)

    refresh()


def _problems(error: ValueError, fields: dict[str, ui.element]) -> list[tuple[ui.element | None, str]]:
    """A model's validation errors as (field, message) pairs for the error summary."""
    errors = getattr(error, 'errors', lambda: [])()
    if not errors:
        return [(None, str(error))]
    problems = []
    for e in errors:
        field = fields.get(str(e['loc'][0])) if e['loc'] else None
        label = str(field.props.get('label', '')).rstrip(' *') if field is not None else ''
        problems.append((field, f'{label or ".".join(str(x) for x in e["loc"])}: {e["msg"]}'))
    return problems
