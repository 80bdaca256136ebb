"""Report figures against a ledger whose totals were worked out by hand, and the safety of the CSV exports."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta

import pytest

from models.inventory import LedgerKind
from services.core import localtime
from services.core.csv_safe import safe_cell, to_csv
from services.core.db import session_scope
from services.core.errors import NotAllowed
from services.inventory import ledger, reports
from services.permissions import Action, can
from tests.factories import ADMIN, MANAGER, PROVIDER, location_id, principal, product, stocked_lot

TODAY = date(2021, 2, 15)


def _at(day: date) -> datetime:
    """Noon at the demo locations, which follow the state's time zone."""
    return localtime.local_moment(day, time(12))


def _post(where: int, lot_id: int, change: int, kind: LedgerKind, days_ago: int, reverses: int | None = None) -> int:
    with session_scope() as session:
        return ledger.post(session, actor=None, location_id=where, lot_id=lot_id, change=change, kind=kind,
                              at=_at(TODAY - timedelta(days=days_ago)), reverses_entry_id=reverses).id


@pytest.fixture
def demo2_history(demo) -> int:
    """DEMO2, by hand:
    day -10: received lot A 100 (expires in 30 days) and lot B 50 (expires in 5 days)
    administered from A: -6: 10, -5: 12 (and 2 wasted), -3: 8, -2: 10 with one reversed, -1: 16, today: 5
    => received 150, administered 10+12+8+9+16+5 = 60, wasted 2, wastage 2/62
    => last 7 full days (-7..-1): 55 administered, 55/7 a day; on hand A 38 + B 50 = 88 usable, 88/(55/7) days
    => B can use floor(55/7*6) = 47 before it expires: 3 doses expire unused; A 38 is used in time."""
    vaccine = product(storage='refrigerated', name='Hand vaccine')
    where = location_id('DEMO2')
    lot_a = stocked_lot(vaccine, doses=0, lot_number='A', expires=TODAY + timedelta(days=30), code='DEMO2')
    lot_b = stocked_lot(vaccine, doses=0, lot_number='B', expires=TODAY + timedelta(days=5), code='DEMO2')
    _post(where, lot_a, 100, LedgerKind.RECEIPT, 10)
    _post(where, lot_b, 50, LedgerKind.RECEIPT, 10)
    for days_ago, doses in ((6, 10), (5, 12), (3, 8), (2, 10), (1, 16), (0, 5)):
        for _ in range(doses):
            last = _post(where, lot_a, -1, LedgerKind.ADMINISTRATION, days_ago)
        if days_ago == 2:
            _post(where, lot_a, 1, LedgerKind.REVERSAL, 2, reverses=last)
    _post(where, lot_a, -2, LedgerKind.WASTE, 5)
    return where


def test_reports_location_figures_match_the_hand_computed_ledger(demo2_history) -> None:
    report = reports.location_report(principal=principal(ADMIN), location_id=demo2_history, days=14, today=TODAY)
    s = report.summary
    assert (s.received, s.administered, s.wasted) == (150, 60, 2)
    assert (s.on_hand, s.usable_on_hand, s.expired_on_hand) == (88, 88, 0)
    assert s.administered_last_7_days == 55
    assert s.wastage_rate == pytest.approx(2 / 62)
    assert s.days_of_supply == pytest.approx(88 / (55 / 7))
    assert s.expiring_unused == 3 and [r.lot_number for r in s.lots_at_risk] == ['B']
    assert s.at_risk and 'expire before they can be used' in s.risk_reasons[0]
    by_day = {d.day: d for d in report.days}
    assert len(report.days) == 14 and report.days[0].day == TODAY - timedelta(days=13)
    assert (by_day[TODAY - timedelta(days=10)].received, by_day[TODAY - timedelta(days=10)].on_hand_end) == (150, 150)
    assert (by_day[TODAY - timedelta(days=5)].administered, by_day[TODAY - timedelta(days=5)].wasted) == (12, 2)
    assert by_day[TODAY - timedelta(days=2)].administered == 9
    assert by_day[TODAY - timedelta(days=11)].on_hand_end == 0
    assert by_day[TODAY].on_hand_end == 88


def test_reports_state_overview_lists_locations_at_risk(demo2_history) -> None:
    overview = reports.state_overview(principal=principal(ADMIN), today=TODAY)
    demo2 = next(s for s in overview if s.code == 'DEMO2')
    assert demo2.at_risk and demo2.expiring_unused == 3
    assert overview[0].at_risk  # at-risk locations come first
    assert {s.code for s in overview} == {'DEMO1', 'DEMO2'}


def test_reports_short_supply_is_under_three_days(demo) -> None:
    vaccine = product(storage='refrigerated')
    where = location_id('DEMO2')
    lot_id = stocked_lot(vaccine, doses=0, expires=TODAY + timedelta(days=90), code='DEMO2')
    _post(where, lot_id, 80, LedgerKind.RECEIPT, 8)
    for days_ago in range(1, 8):
        _post(where, lot_id, -10, LedgerKind.ADMINISTRATION, days_ago)
    s = reports.location_report(principal=principal(ADMIN), location_id=where, today=TODAY).summary
    assert s.usable_on_hand == 10 and s.days_of_supply == pytest.approx(1.0)
    assert s.short_of_supply and s.at_risk and s.expiring_unused == 0
    assert s.risk_reasons == ['1.0 days of supply (under 3)']


def test_reports_permissions(demo) -> None:
    manager, provider = principal(MANAGER), principal(PROVIDER)
    assert not can(provider, Action.VIEW_REPORTS)
    with pytest.raises(NotAllowed):
        reports.location_report(principal=provider, location_id=location_id('DEMO1'))
    with pytest.raises(NotAllowed):
        reports.location_report(principal=manager, location_id=location_id('DEMO2'))
    with pytest.raises(NotAllowed):
        reports.state_overview(principal=manager)
    assert [label for _, label in reports.report_locations(principal=manager)] == ['Clinic Location1 (DEMO1)']
    assert reports.location_report(principal=manager, location_id=location_id('DEMO1')).summary.code == 'DEMO1'


def test_reports_demo_data_show_demo1_at_risk(demo) -> None:
    overview = {s.code: s for s in reports.state_overview(principal=principal(ADMIN))}
    demo1 = overview['DEMO1']
    assert demo1.expired_on_hand == 10 and demo1.expiring_unused > 0 and demo1.at_risk
    assert not overview['DEMO2'].at_risk and overview['DEMO2'].on_hand == 0


@pytest.mark.parametrize('value', ['=1+1', '+SUM(A1)', '-2+3', '@cmd', '\tx', '\rx', -5])
def test_reports_csv_cells_never_start_a_formula(value) -> None:
    assert safe_cell(value) == "'" + str(value)
    assert safe_cell('Clinic = 1') == 'Clinic = 1' and safe_cell(12) == '12' and safe_cell(None) == ''


def test_reports_csv_export_of_a_hostile_location_name_is_safe(demo2_history) -> None:
    with session_scope() as session:
        from models import Location
        location = session.get(Location, demo2_history)
        location.name = '=HYPERLINK("http://evil.example","x")'
        session.add(location)
    report = reports.location_report(principal=principal(ADMIN), location_id=demo2_history, today=TODAY)
    for data in (reports.location_report_csv(report), reports.state_overview_csv(
            reports.state_overview(principal=principal(ADMIN), today=TODAY))):
        rows = list(csv.reader(io.StringIO(data.decode('utf-8-sig'))))
        cells = [cell for row in rows for cell in row]
        assert not [c for c in cells if c[:1] in ('=', '+', '-', '@', '\t', '\r')]
        assert "'" + location.name in cells
    rows = list(csv.reader(io.StringIO(reports.location_report_csv(report).decode('utf-8-sig'))))
    assert rows[0][:3] == ['Date', 'Location', 'Location code']
    assert rows[-1][0] == TODAY.isoformat() and rows[-1][-1] == '88'
    assert to_csv(['a'], [['-1']]) == "a\r\n'-1\r\n"
