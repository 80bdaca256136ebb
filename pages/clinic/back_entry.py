"""Enter doses recorded on paper during an outage: one at a time (mirroring the paper administration form) or
as a CSV/.xlsx file through the Bulk Registration import engine, with a downloadable error file."""
from __future__ import annotations

from nicegui import run, ui

from components.error_summary import ErrorSummary, required
from components.guard import acting
from components.page import page
from components.uploads import described_by, spooled
from pages.clinic.desk import _when, lot_label
from services.bulk.pipeline import FileRejected
from services.clinic import administration, back_entry, walkin
from services.clinic.administration import DoseDetails, OverrideNeeded
from services.core import localtime
from services.core.errors import ServiceError
from services.permissions import Action
from services.principal import Principal
from services.recipients.dates import parse_date


@page('/desk/back-entry', title='Enter doses recorded on paper', action=Action.RECORD_VACCINATION)
def back_entry_page(principal: Principal) -> None:
    with ui.tabs() as tabs:
        single = ui.tab('One at a time')
        upload_tab = ui.tab('Upload a file')
    with ui.tab_panels(tabs, value=single).classes('w-full'):
        with ui.tab_panel(single):
            _one_at_a_time(principal)
        with ui.tab_panel(upload_tab):
            _upload()


def _one_at_a_time(principal: Principal) -> None:
    ui.label('Find the person (registered already: enter the paper registration form first at the desk), then '
             'copy the line of the paper administration form.').classes('text-sm')
    chosen: dict[str, int | None] = {'recipient_id': None}
    named: dict[int, tuple | None] = {}  # a person registered elsewhere is reached as named in the search
    summary = ErrorSummary()
    with ui.row().classes('items-end gap-3'):
        name = summary.require(ui.input('Name').mark('paper-name'),
                               'Enter at least the first letters of the last name.')
        born = summary.require(ui.input('Date of birth (MM/DD/YYYY)').mark('paper-dob'),
                               'Enter the date of birth (MM/DD/YYYY).')
        find = ui.button('Search').mark('paper-search')

    @ui.refreshable
    def found(hits: list[walkin.WalkInHit] | None) -> None:
        """The people the search found to choose from (the first is chosen)."""
        with ui.column().classes('gap-1'):
            if hits is None:
                return
            if not hits:
                ui.label('No one found. Register the person from the desk (Walk-In) first.')
            options = {h.recipient_id: f'{h.name} · {h.date_of_birth:%m/%d/%Y}'
                       + (' · registered at another location' if h.elsewhere else '') for h in hits}
            named.clear()
            named.update({h.recipient_id: h.named for h in hits})
            if options:
                ui.radio(options, value=next(iter(options)),
                         on_change=lambda e: chosen.update(recipient_id=e.value)).mark('paper-person')
                chosen['recipient_id'] = next(iter(options))

    found(None)

    async def search() -> None:
        chosen['recipient_id'] = None
        await found.refresh(None)
        principal_now = acting()
        if summary.missing():
            return
        try:
            born_on = parse_date(born.value, label='date of birth')
        except ServiceError as error:
            summary.refuse(str(error), born)
            return
        try:
            hits = await run.io_bound(lambda: walkin.search_walk_in(principal=principal_now, name=name.value or '',
                                                                    date_of_birth=born_on))
        except ServiceError as error:
            summary.refuse(str(error), name)
            return
        summary.hide()
        await found.refresh(hits)

    find.on_click(search)
    lots = administration.lots_on_hand(principal=principal)
    with ui.row().classes('w-full gap-3 items-end'):
        lot = required(ui.select({s.lot_id: lot_label(s) for s in lots}, label='Product and lot').classes('w-96')
                       .mark('paper-lot'))
        today = localtime.local_today(administration.location_time_zone(principal=principal))
        day = required(ui.input('Date given (MM/DD/YYYY)', value=f'{today:%m/%d/%Y}').mark('paper-day'))
        at = required(ui.input('Time given (HH:MM)').mark('paper-time'))
        dose = ui.input('Dose number (from the form)').classes('w-40').mark('paper-dose')
    with ui.row().classes('w-full gap-3 items-end'):
        site = ui.select(administration.SITES, value=administration.SITES[0], label='Site').classes('w-44')
        route = ui.select(administration.ROUTES, value=administration.ROUTES[0], label='Route').classes('w-48')
        volume = ui.number('Dose volume (mL)', value=0.5, step=0.05, format='%.2f').classes('w-36')
        reason = ui.input('Reason', value='Recorded on paper during an outage').classes('w-80')
        override = ui.input('Override reason (only if asked)').classes('w-72').mark('paper-override')
    result = ui.label('').props('role=status').mark('paper-result')
    about = {'override': override, 'backdate': reason, 'reason': reason, 'dose number': dose, 'time': at,
             'date': day, 'volume': volume, 'site': site, 'route': route, 'lot': lot}

    async def save() -> None:
        principal_now = acting()
        result.set_text('')
        problems = [] if chosen['recipient_id'] is not None else [(name, 'Search for the person and choose them '
                                                                        'first.')]
        problems += [(field, message) for field, message in (
            (lot, 'Choose the product and lot.'), (day, 'Enter the date given (MM/DD/YYYY).'),
            (at, 'Enter the time given (HH:MM).')) if not field.value]
        if summary.show(problems, mark_fields=True):
            return
        try:
            details = DoseDetails(lot_id=lot.value, site=site.value, route=route.value,
                                  dose_volume_ml=float(volume.value or 0),
                                  administered_at=_when(day.value, at.value,
                                                        administration.location_time_zone(principal=principal_now)),
                                  backdate_reason=reason.value or '', override_reason=override.value or '',
                                  expected_dose_number=_number(dose.value))
            recorded = await run.io_bound(lambda: administration.record_paper_administration(
                principal=principal_now, recipient_id=chosen['recipient_id'], details=details,
                named=named.get(chosen['recipient_id'] or 0)))
        except OverrideNeeded as needed:
            summary.refuse(' '.join(needed.problems) + ' Give an override reason to record it anyway.', override)
            return
        except ServiceError as error:
            summary.refuse(str(error), about=about)
            return
        summary.hide()
        result.set_text(f'Recorded dose {recorded.dose_number} of {recorded.product_name} (lot {recorded.lot_number}).')
        at.value, override.value, dose.value = '', '', ''

    ui.button('Save dose', on_click=save).props('color=positive').mark('paper-save')


def _number(text: str | None) -> int | None:
    return int(text) if (text or '').strip().isdigit() else None


def _upload() -> None:
    ui.label('One line per dose, with the columns of the template (the paper administration form). Each line is '
             'recorded on its own; lines that fail come back in an error file with an Error column, as in Bulk '
             'Registration.').classes('text-sm')
    ui.button('Download the template', on_click=lambda: ui.download.content(back_entry.template_csv(),
                                                                             'back-entry-template.csv')).props('flat')

    # why the last file was refused: one element that stays, so the file input stays described by it
    problem = ui.label('').classes('text-red-800').props('role=alert').mark('back-entry-problem')

    @ui.refreshable
    def summary(outcome: back_entry.BackEntryOutcome | None) -> None:
        """What the last file did: the counts, notices and error file."""
        with ui.column().mark('back-entry-summary'):
            if outcome is None:
                return
            ui.label(f'Doses recorded: {outcome.loaded}. Lines that failed: {outcome.failed}.') \
                .classes('font-medium').mark('back-entry-counts')
            for notice in outcome.notices:
                ui.label(notice).classes('text-sm')
            if outcome.error_file:
                async def download() -> None:
                    data = await run.io_bound(back_entry.error_file_download, principal=acting(), outcome=outcome)
                    ui.download.content(data, 'BackEntryError.csv', 'text/csv')

                ui.button('Download the error file', on_click=download).props('outline').mark('back-entry-errors')
                ui.label('The error file was also emailed to you.').classes('text-sm')

    summary(None)

    async def received(event) -> None:  # noqa: ANN001
        principal = acting()
        problem.set_text('')
        await summary.refresh(None)
        try:
            path = await spooled(event, back_entry.MAX_FILE_BYTES)
            try:
                outcome = await run.io_bound(lambda: back_entry.load_file(principal=principal, data=path,
                                                                          file_name=event.file.name))
            finally:
                path.unlink(missing_ok=True)
        except (FileRejected, ServiceError) as error:
            problem.set_text(str(error))
            return
        await summary.refresh(outcome)

    upload = ui.upload(label='Upload or drop a CSV / .xlsx file', auto_upload=True, on_upload=received,
                       max_file_size=back_entry.MAX_FILE_BYTES).props('accept=.csv,.xlsx') \
        .classes('w-full max-w-xl').mark('back-entry-upload')
    described_by(upload, problem)
