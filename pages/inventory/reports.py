"""Reports tab: per location doses received / administered / wasted by day, on hand, wastage rate and days of
supply, as charts and tables with a formula-safe CSV export; the state's view lists the locations at risk."""
from __future__ import annotations

from nicegui import run, ui

from components.guard import acting
from components.page import page
from components.theme import heading
from services.inventory import reports
from services.inventory.reports import LocationReport, LocationSummary
from services.permissions import Action, can
from services.principal import Principal

DAY_COLUMNS = [{'name': n, 'label': label, 'field': n, 'align': 'left', 'sortable': True} for n, label in [
    ('day', 'Date'), ('received', 'Received'), ('administered', 'Administered'), ('wasted', 'Wasted'),
    ('other', 'Transfers out / corrections'), ('on_hand_end', 'On hand at end of day')]]
OVERVIEW_COLUMNS = [{'name': n, 'label': label, 'field': n, 'align': 'left', 'sortable': True} for n, label in [
    ('location', 'Location'), ('on_hand', 'On hand'), ('usable', 'Usable'), ('rate', 'Avg. daily administered'),
    ('days_of_supply', 'Days of supply'), ('expiring_unused', 'Doses expiring unused'), ('wastage', 'Wastage %'),
    ('at_risk', 'At risk'), ('why', 'Why')]]


def _number(value: float | None, digits: int = 1) -> str:
    return '—' if value is None else f'{value:.{digits}f}'


def overview_rows(summaries: list[LocationSummary]) -> list[dict]:
    return [{'location_id': s.location_id, 'location': f'{s.name} ({s.code})', 'on_hand': s.on_hand,
             'usable': s.usable_on_hand, 'rate': _number(s.average_daily_administered),
             'days_of_supply': _number(s.days_of_supply), 'expiring_unused': s.expiring_unused,
             'wastage': _number(None if s.wastage_rate is None else s.wastage_rate * 100),
             'at_risk': 'Yes' if s.at_risk else '', 'why': '; '.join(s.risk_reasons)} for s in summaries]


def day_rows(report: LocationReport) -> list[dict]:
    return [{'day': f'{d.day:%m/%d/%Y}', 'received': d.received, 'administered': d.administered, 'wasted': d.wasted,
             'other': d.other, 'on_hand_end': d.on_hand_end} for d in report.days]


def chart_options(report: LocationReport) -> dict:
    days = [f'{d.day:%m/%d}' for d in report.days]
    return {
        'tooltip': {'trigger': 'axis'},
        'legend': {'data': ['Received', 'Administered', 'Wasted', 'On hand']},
        'xAxis': {'type': 'category', 'data': days},
        'yAxis': [{'type': 'value', 'name': 'Doses per day'}, {'type': 'value', 'name': 'On hand'}],
        'series': [
            {'name': 'Received', 'type': 'bar', 'data': [d.received for d in report.days]},
            {'name': 'Administered', 'type': 'bar', 'data': [d.administered for d in report.days]},
            {'name': 'Wasted', 'type': 'bar', 'data': [d.wasted for d in report.days]},
            {'name': 'On hand', 'type': 'line', 'yAxisIndex': 1, 'data': [d.on_hand_end for d in report.days]},
        ],
    }


@page('/reports', title='Reports', action=Action.VIEW_REPORTS)
async def reports_page(principal: Principal) -> None:
    choices = reports.report_locations(principal=principal)
    if not choices:
        ui.label('Your account is not attached to a location.')
        return
    if can(principal, Action.VIEW_ALL_LOCATIONS):
        await state_view(principal)
    state = {'location_id': principal.location_id or choices[0][0], 'days': 14}

    async def report() -> reports.LocationReport:
        return await run.io_bound(reports.location_report, principal=acting(), location_id=state['location_id'],
                                  days=state['days'])

    @ui.refreshable
    def detail(shown: reports.LocationReport) -> None:
        with ui.column().classes('w-full gap-4'):
            draw_location(shown)

    async def choose(key: str, value: int) -> None:
        state[key] = value
        await detail.refresh(await report())

    with ui.row().classes('items-end gap-4'):
        if len(choices) > 1:
            ui.select(dict(choices), label='Location', value=state['location_id'],
                      on_change=lambda e: choose('location_id', e.value)).classes('w-96').mark('report-location')
        ui.select({7: 'Last 7 days', 14: 'Last 14 days', 30: 'Last 30 days', 90: 'Last 90 days'}, label='Period',
                  value=14, on_change=lambda e: choose('days', e.value)).classes('w-48').mark('report-period')
    detail(await report())


async def state_view(principal: Principal) -> None:
    summaries = await run.io_bound(reports.state_overview, principal=principal)
    at_risk = [s for s in summaries if s.at_risk]
    with ui.card().classes('w-full'):
        heading('All locations')
        if at_risk:
            ui.label(f'{len(at_risk)} location(s) at risk: under {reports.SHORT_SUPPLY_DAYS} days of supply, or '
                     'holding doses that expire before they can be used at the current rate.') \
                .classes('text-red-800').mark('at-risk-summary')
            with ui.column().classes('gap-0'):
                for s in at_risk:
                    ui.label(f'{s.name} ({s.code}): {"; ".join(s.risk_reasons)}').mark('at-risk-location')
        else:
            ui.label('No location is at risk.').mark('at-risk-summary')
        ui.table(columns=OVERVIEW_COLUMNS, rows=overview_rows(summaries), row_key='location_id', pagination=25) \
            .classes('w-full').mark('overview-table')

        async def download() -> None:
            latest = await run.io_bound(reports.state_overview, principal=acting())
            ui.download.content(reports.state_overview_csv(latest, principal=acting()), 'inventory-all-locations.csv',
                                'text/csv')

        ui.button('Download CSV', icon='download', on_click=download).props('flat no-caps').mark('overview-csv')


def draw_location(report: LocationReport) -> None:
    s = report.summary
    heading(f'{s.name} ({s.code}) · {report.start:%m/%d/%Y} to {report.end:%m/%d/%Y}')
    figures = [
        ('Doses on hand', f'{s.on_hand:,}'), ('Usable (not expired)', f'{s.usable_on_hand:,}'),
        ('Received', f'{s.received:,}'), ('Administered', f'{s.administered:,}'), ('Wasted', f'{s.wasted:,}'),
        ('Wastage rate', '—' if s.wastage_rate is None else f'{s.wastage_rate * 100:.1f}%'),
        ('Avg. daily administered (last 7 days)', _number(s.average_daily_administered)),
        ('Days of supply', _number(s.days_of_supply)),
    ]
    with ui.row().classes('w-full gap-4'):
        for label, value in figures:
            with ui.card().classes('min-w-[160px]').mark(f'figure-{label}'):
                ui.label(value).classes('text-2xl font-bold')
                ui.label(label).classes('text-sm')
    if s.at_risk:
        with ui.card().classes('w-full bg-red-50'):
            ui.label('At risk: ' + '; '.join(s.risk_reasons)).classes('text-red-800').mark('location-at-risk')
            for lot in s.lots_at_risk:
                ui.label(f'{lot.product_name} lot {lot.lot_number}: {lot.expiring_unused} of {lot.on_hand} doses '
                         f'would still be on hand when it expires on {lot.expiration_date:%m/%d/%Y}')
    if s.expired_on_hand:
        ui.label(f'{s.expired_on_hand} expired doses are still on hand: record them as wasted (expired) on the '
                 'Vaccine Inventory tab.').classes('text-orange-800')
    ui.echart(chart_options(report)).classes('w-full h-80').mark('report-chart')
    ui.table(columns=DAY_COLUMNS, rows=day_rows(report), row_key='day', pagination=31).classes('w-full') \
        .mark('report-table')
    ui.button('Download CSV', icon='download',
              on_click=lambda: ui.download.content(reports.location_report_csv(report, principal=acting()),
                                                   f'inventory-{s.code}-{report.end:%Y%m%d}.csv', 'text/csv')) \
        .props('flat no-caps').mark('report-csv')
