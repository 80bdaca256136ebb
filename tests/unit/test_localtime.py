"""Times as people read them: the location's zone, else the state's (one setting), named where it could mislead."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from sqlmodel import select

from models import Location, LocationCreate, Organization, OutboxMessage
from services.accounts.staff import create_location
from services.clinic import scheduling
from services.core import localtime
from services.core.db import session_scope
from services.core.errors import ValidationFailed
from services.core.settings import Settings, reset_settings
from tests import factories as fx

DECEMBER_EVENING = datetime(2025, 12, 9, 21, 20, tzinfo=UTC)  # 4:20 PM in New York, 3:20 PM in Chicago


@pytest.fixture
def state_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    def set_zone(name: str) -> None:
        monkeypatch.setenv('CVMS_STATE_TIME_ZONE', name)
        reset_settings()
    yield set_zone
    monkeypatch.delenv('CVMS_STATE_TIME_ZONE', raising=False)
    reset_settings()


def test_a_location_without_a_zone_shows_the_state_time() -> None:
    clinic = Location(name='Clinic', code='C1', organization_id=1)
    assert clinic.time_zone == ''
    assert localtime.time_label(DECEMBER_EVENING, clinic) == 'Dec 09, 25, 04:20 PM'
    assert localtime.clock_label(DECEMBER_EVENING, clinic, named=True) == '04:20 PM EST'
    assert localtime.time_label(DECEMBER_EVENING, named=True) == 'Dec 09, 25, 04:20 PM EST'  # state-wide screens


def test_a_location_with_its_own_zone_shows_its_own_time() -> None:
    clinic = Location(name='Clinic', code='C2', organization_id=1, time_zone='America/Chicago')
    assert localtime.time_label(DECEMBER_EVENING, clinic, named=True) == 'Dec 09, 25, 03:20 PM CST'
    assert localtime.clock_label(datetime(2025, 7, 9, 21, 20, tzinfo=UTC), clinic, named=True) == '04:20 PM CDT'


def test_the_setting_changes_the_default_zone(state_zone: Callable[[str], None]) -> None:
    follows_state = Location(name='Clinic', code='C3', organization_id=1)
    own_zone = Location(name='Clinic', code='C4', organization_id=1, time_zone='America/New_York')
    state_zone('America/Chicago')
    assert localtime.zone_name(follows_state) == 'America/Chicago'
    assert localtime.time_label(DECEMBER_EVENING, follows_state) == 'Dec 09, 25, 03:20 PM'
    assert localtime.time_label(DECEMBER_EVENING, named=True) == 'Dec 09, 25, 03:20 PM CST'
    assert localtime.time_label(DECEMBER_EVENING, own_zone, named=True) == 'Dec 09, 25, 04:20 PM EST'


def test_the_setting_refuses_an_unknown_zone() -> None:
    with pytest.raises(ValidationError, match='not a time zone name'):
        Settings(state_time_zone='Eastern')


def test_the_local_day_is_the_day_at_the_location() -> None:
    late = datetime(2025, 12, 10, 3, 30, tzinfo=UTC)  # still Dec 9 in New York
    assert localtime.local_date(late, 'America/New_York') == date(2025, 12, 9)
    assert localtime.local_moment(date(2025, 12, 9), time(16, 20), 'America/New_York') == DECEMBER_EVENING


def test_a_day_with_a_clock_change_has_its_own_length() -> None:
    start, end = localtime.day_span(date(2025, 3, 9), 'America/New_York')  # clocks go forward at 2 AM
    assert (start, (end - start).total_seconds() / 3600) == (datetime(2025, 3, 9, 5, tzinfo=UTC), 23)


def test_a_new_location_follows_the_state_unless_given_a_zone(db: str, state_zone: Callable[[str], None]) -> None:
    with session_scope() as session:
        organization = Organization(name='Health Org')
        session.add(organization)
        session.flush()
        create_location(session, LocationCreate(name='East', code='EAST', organization_id=organization.id or 0))
        create_location(session, LocationCreate(name='West', code='WEST', organization_id=organization.id or 0,
                                                time_zone='America/Denver'))
        with pytest.raises(ValidationFailed, match='Time zone'):
            create_location(session, LocationCreate(name='Nowhere', code='NOWHERE',
                                                    organization_id=organization.id or 0, time_zone='Mars/Olympus'))
    state_zone('America/Chicago')
    with session_scope(read_only=True) as session:
        zones = {loc.code: localtime.zone_name(loc) for loc in session.exec(select(Location))}
    assert zones == {'EAST': 'America/Chicago', 'WEST': 'America/Denver'}


def test_an_appointment_email_names_the_zone_of_its_time(demo) -> None:
    product = fx.product()
    fx.stocked_lot(product, doses=10)
    day = fx.clinic_session([product], start=time(9), end=time(10)).session_date
    person = fx.recipient(email='zone@example.org')
    scheduling.book_appointment(principal=fx.principal(fx.MANAGER), recipient_id=person, slot_id=fx.first_slot(product))
    with session_scope(read_only=True) as session:
        body = session.exec(select(OutboxMessage.body_text).where(OutboxMessage.to_addr == 'zone@example.org')).one()
    zone = datetime.combine(day, time(9), ZoneInfo('America/New_York')).strftime('%Z')
    assert f'When: {day:%b %d, %y}, 09:00 AM {zone}\n' in body
