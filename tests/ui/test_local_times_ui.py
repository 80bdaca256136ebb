"""Screens show times where they happened: the location's time zone (the state's on state-wide screens), named
where it could be misread; never the server's (UTC on a server)."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from nicegui import ui
from nicegui.testing import User
from sqlmodel import select

from models import AuditEvent, Location, OutboxMessage
from models.inventory import Shipment, ShipmentStatus
from services.clinic import administration
from services.clinic.administration import DoseDetails
from services.core.db import session_scope
from services.core.settings import reset_settings
from services.inventory import shipments
from services.inventory.shipments import ReceivedLot
from tests import factories as fx
from tests.factories import ADMIN, MANAGER, log_in

DECEMBER_EVENING = datetime(2025, 12, 9, 21, 20, tzinfo=UTC)  # 4:20 PM in New York, 3:20 PM in Chicago
SEEN_AS = '%b %d, %y, %I:%M %p %Z'  # the guide's style, with the zone


def _in_chicago(code: str) -> None:
    with session_scope() as session:
        location = session.exec(select(Location).where(Location.code == code)).one()
        location.time_zone = 'America/Chicago'
        session.add(location)


def _paper_dose(code: str, at: datetime) -> None:
    """A dose written on paper at `at` and entered at the location by its manager."""
    lot = fx.stocked_lot(doses=5, code=code)
    administration.record_paper_administration(principal=fx.manager_of(code), recipient_id=fx.recipient('Dora',
                                                                                                        code=code),
                                               details=DoseDetails(lot_id=lot, administered_at=at))


def _receive_shipment(code: str) -> int:
    """Receive the demo's open shipment of the location, as its manager does; returns its id."""
    with session_scope() as session:
        shipment_id = session.exec(select(Shipment.id).where(Shipment.location_id == fx.location_id(code))
                                   .where(Shipment.status != ShipmentStatus.DELIVERED)).first()
        allocated = session.get(Shipment, shipment_id).status == ShipmentStatus.ALLOCATED
    if allocated:  # only a shipped shipment can be received
        shipments.mark_shipped(principal=fx.principal(fx.ADMIN), shipment_id=shipment_id)
    shipments.receive(principal=fx.manager_of(code), shipment_id=shipment_id, condition='good',
                      temperature_excursion=False,
                      lots=[ReceivedLot(lot_number=f'TZ-{code}', quantity=10, expiration_date=date(2030, 1, 1))])
    return shipment_id


def _delivered_at(shipment_id: int, zone: str) -> str:
    with session_scope() as session:
        return session.get(Shipment, shipment_id).delivered_at.astimezone(ZoneInfo(zone)).strftime(SEEN_AS)


def _rows(user: User, marker: str) -> list[dict]:
    return user.find(marker=marker).elements.pop().rows


async def test_doses_recorded_shows_the_time_at_the_location(demo, user: User) -> None:
    _paper_dose('DEMO1', DECEMBER_EVENING)
    await log_in(user, MANAGER)
    await user.open('/desk/doses?day=12/09/2025')
    await user.should_see('04:20 PM EST', retries=50)
    await user.should_not_see('09:20 PM')


async def test_doses_recorded_at_a_location_in_another_zone_shows_its_own_time(demo, user: User) -> None:
    _in_chicago('DEMO2')
    _paper_dose('DEMO2', DECEMBER_EVENING)
    await log_in(user, 'manager.demo2@demo.cvms.example.org', 'Another-Demo-Password-2021')
    await user.open('/desk/doses?day=12/09/2025')
    await user.should_see('03:20 PM CST', retries=50)


async def test_a_shipment_shows_one_receipt_time_on_the_shipments_and_inventory_screens(demo, user: User) -> None:
    shipment_id = _receive_shipment('DEMO1')
    received = _delivered_at(shipment_id, 'America/New_York')
    await log_in(user, MANAGER)
    await user.open('/shipments')
    await user.should_see('Receive a shipment')
    assert next(r['delivered'] for r in _rows(user, 'shipments-table') if r['id'] == shipment_id) == received
    await user.open('/inventory')
    await user.should_see('Inventory history')
    assert next(r['at'] for r in _rows(user, 'history-table')
                if r['reference'] == f'shipment:{shipment_id}') == received


async def test_the_state_sees_each_shipment_in_its_location_zone(demo, user: User) -> None:
    _in_chicago('DEMO2')
    east, west = _receive_shipment('DEMO1'), _receive_shipment('DEMO2')
    await log_in(user, ADMIN)
    await user.open('/admin/allocation')
    await user.should_see('Mark shipped')
    delivered = {r['id']: r['delivered'] for r in _rows(user, 'allocation-shipments')}
    assert delivered[east] == _delivered_at(east, 'America/New_York')
    assert delivered[west] == _delivered_at(west, 'America/Chicago')
    assert delivered[west][-3:] in ('CST', 'CDT') and delivered[east][-3:] in ('EST', 'EDT')


@pytest.fixture
def state_zone(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """CVMS_STATE_TIME_ZONE as the test's parameter ('' = the default)."""
    if request.param:
        monkeypatch.setenv('CVMS_STATE_TIME_ZONE', request.param)
    reset_settings()
    yield request.param
    monkeypatch.delenv('CVMS_STATE_TIME_ZONE', raising=False)
    reset_settings()


@pytest.mark.parametrize('state_zone, seen', [('', ('2025-12-09 16:20:00 EST', '04:20 PM EST')),
                                              ('America/Chicago', ('2025-12-09 15:20:00 CST', '03:20 PM CST'))],
                         indirect=['state_zone'])
async def test_the_audit_log_and_outbox_show_the_state_time(demo, state_zone: str, seen: tuple[str, str],
                                                            user: User) -> None:
    with session_scope() as session:
        session.add(AuditEvent(action='time_zone_check', detail='one evening in December', at=DECEMBER_EVENING))
        session.add(OutboxMessage(to_addr='tz@example.org', subject='Evening message', body_text='.',
                                  created_at=DECEMBER_EVENING))
    await log_in(user, ADMIN)
    await user.open('/audit')
    await user.should_see('Audit log')
    rows = user.find(ui.table).elements.pop().rows
    assert next(r['at'] for r in rows if r['action'] == 'time_zone_check') == seen[0]
    await user.open('/outbox')
    await user.should_see(f'Dec 09, 25, {seen[1]} · tz@example.org · Evening message', retries=50)
