"""The readiness checklist: a location manager ticks what is in place at the location (/readiness); the state
admin keeps the list of items (/admin/readiness)."""
from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from components.error_summary import ErrorSummary, required
from components.guard import acting
from components.page import page
from components.theme import heading
from services.core import localtime
from services.core.errors import ServiceError
from services.organizations import readiness
from services.permissions import Action
from services.principal import Principal


@page('/readiness', title='Readiness checklist', action=Action.TICK_READINESS)
def checklist_page(principal: Principal) -> None:
    ui.label('Tick each item once it is in place at your location. The state sees how many items each location '
             'has ready before it allocates vaccine; who ticked or unticked an item, and when, is kept.') \
        .classes('text-sm')

    @ui.refreshable
    def draw() -> None:
        try:
            found = readiness.checklist(principal=acting())
        except ServiceError as error:
            ui.label(str(error)).props('role=alert')
            return
        heading(f'{found.location_name} ({found.location_code}): {found.ready} of {len(found.rows)} ready') \
            .mark('readiness-summary')
        if not found.rows:
            ui.label('The state has not listed any readiness items yet.').mark('readiness-empty')
        with ui.column().classes('w-full gap-1'):
            for row in found.rows:
                with ui.row().classes('items-center gap-3 w-full').mark('readiness-item'):
                    ui.checkbox(row.label, value=row.ticked,
                                on_change=lambda e, r=row: tick(r, bool(e.value))).mark(f'readiness-{row.item_id}')
                    if row.changed_at is not None:
                        verb = 'Ticked' if row.ticked else 'Unticked'
                        ui.label(f'{verb} by {row.changed_by} · '
                                 f'{localtime.time_label(row.changed_at, found.time_zone)}') \
                            .classes('text-sm text-gray-700').mark('readiness-who')

        def tick(row: readiness.CheckRow, ticked: bool) -> None:
            try:
                readiness.set_ticked(principal=acting(), location_id=found.location_id, item_id=row.item_id,
                                     ticked=ticked)
            except ServiceError as error:
                ui.notify(str(error), type='negative')
            draw.refresh()

    draw()


@page('/admin/readiness', title='Readiness items', action=Action.MANAGE_SETTINGS)
def items_page(principal: Principal) -> None:
    ui.label('The items every vaccination location must have in place. Location managers tick them on their '
             'Readiness checklist; a retired item stops counting everywhere (its history stays).').classes('text-sm')
    summary = ErrorSummary()

    def guarded(action: Callable[[], object], field: ui.element | None = None) -> bool:
        summary.hide()
        try:
            action()
        except ServiceError as error:
            if field is not None:
                summary.show([(field, str(error))], mark_fields=True)
            else:
                ui.notify(str(error), type='negative')
            return False
        draw.refresh()
        return True

    @ui.refreshable
    def draw() -> None:
        listed = readiness.items(principal=acting())
        current = [item for item in listed if not item.retired]
        retired = [item for item in listed if item.retired]
        if not current:
            ui.label('No current items: every location counts as ready.').mark('readiness-items-empty')
        for number, item in enumerate(current, start=1):
            with ui.row().classes('items-end gap-2 w-full').mark('readiness-item-row'):
                label = required(ui.input(f'Item {number}', value=item.label)).classes('flex-grow min-w-[320px]') \
                    .mark(f'readiness-label-{item.id}')
                ui.button('Save', on_click=lambda i=item, f=label: guarded(
                    lambda: readiness.rename_item(principal=acting(), item_id=i.id, label=f.value or ''), f)) \
                    .props(f'no-caps aria-label="Save item {number}"').mark(f'readiness-save-{item.id}')
                ui.button(icon='arrow_upward', on_click=lambda i=item: guarded(
                    lambda: readiness.move_item(principal=acting(), item_id=i.id, step=-1))) \
                    .props(f'flat dense aria-label="Move item {number} up"').set_enabled(number > 1)
                ui.button(icon='arrow_downward', on_click=lambda i=item: guarded(
                    lambda: readiness.move_item(principal=acting(), item_id=i.id, step=1))) \
                    .props(f'flat dense aria-label="Move item {number} down"').set_enabled(number < len(current))
                ui.button('Retire', on_click=lambda i=item: guarded(
                    lambda: readiness.retire_item(principal=acting(), item_id=i.id))) \
                    .props(f'flat no-caps color=negative aria-label="Retire item {number}"') \
                    .mark(f'readiness-retire-{item.id}')
        with ui.row().classes('items-end gap-2 w-full'):
            new = required(ui.input('New item')).classes('flex-grow min-w-[320px]').mark('readiness-new')
            ui.button('Add item', on_click=lambda: guarded(
                lambda: readiness.add_item(principal=acting(), label=new.value or ''), new)) \
                .props('color=primary no-caps').mark('readiness-add')
        if retired:
            heading('Retired items')
            for item in retired:
                with ui.row().classes('items-center gap-2').mark('readiness-retired-row'):
                    ui.label(item.label)
                    ui.button('Restore', on_click=lambda i=item: guarded(
                        lambda: readiness.retire_item(principal=acting(), item_id=i.id, retired=False))) \
                        .props(f'flat no-caps aria-label="Restore {item.label}"')

    draw()


def readiness_line(place: readiness.Readiness) -> None:
    """One location's readiness on the state's organizations screen: "Clinic Location1 (DEMO1): 4 of 6 ready",
    and what is missing."""
    with ui.row().classes('items-center gap-2 text-sm').mark('location-readiness'):
        ui.icon('check_circle' if place.is_ready else 'pending', color='positive' if place.is_ready else 'warning') \
            .props('aria-hidden=true')
        ui.label(f'{place.location_name} ({place.location_code}): {place.label}')
        if place.missing:
            ui.label(f'Missing: {"; ".join(place.missing)}').classes('text-gray-700')
