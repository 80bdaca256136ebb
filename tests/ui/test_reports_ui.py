"""The Reports tab: a location manager's own figures, the state's overview of locations at risk, CSV download."""
from __future__ import annotations

from nicegui import ui
from nicegui.testing import User

from tests.conftest import sqlite_only
from tests.factories import ADMIN, MANAGER, PROVIDER, log_in


def _table(user: User, marker: str) -> list[dict]:
    return user.find(marker=marker).elements.pop().rows


async def test_reports_manager_sees_own_location_with_chart_and_table(demo, user: User) -> None:
    await log_in(user, MANAGER)
    await user.open('/reports')
    await user.should_see('Clinic Location1 (DEMO1)', retries=50)
    await user.should_see('Days of supply')
    rows = _table(user, 'report-table')
    assert len(rows) == 14
    assert sum(r['administered'] for r in rows) == 118 + 66  # the demo's 13 days of Pfizer and Moderna doses
    assert user.find(ui.echart).elements.pop().options['series'][1]['name'] == 'Administered'
    await user.should_see('At risk:')
    await user.should_not_see('All locations')
    user.find(marker='report-csv').click()
    response = await user.download.next()
    lines = response.content.decode('utf-8-sig').splitlines()
    assert lines[0].startswith('Date,Location,Location code,Doses received') and len(lines) == 15


async def test_reports_state_admin_sees_locations_at_risk(demo, user: User) -> None:
    await log_in(user, ADMIN)
    await user.open('/reports')
    await user.should_see('All locations', retries=50)
    await user.should_see('1 location(s) at risk')
    rows = _table(user, 'overview-table')
    assert [r['location'] for r in rows][0] == 'Clinic Location1 (DEMO1)' and rows[0]['at_risk'] == 'Yes'
    assert 'expire before they can be used' in rows[0]['why']
    user.find(marker='overview-csv').click()
    response = await user.download.next(timeout=5)
    assert 'Clinic Location1,DEMO1' in response.content.decode('utf-8-sig')


@sqlite_only
async def test_reports_provider_is_not_allowed(demo, user: User) -> None:
    await log_in(user, PROVIDER)
    await user.open('/reports')
    await user.should_see('Not allowed')
