"""Dates and times as people read them: in the location's time zone, or the state's on state-wide screens.

The database keeps aware UTC (`models.utcnow`); nobody reads UTC. A location's zone is its own `time_zone` (an IANA
name such as America/Chicago), or the state's (the setting CVMS_STATE_TIME_ZONE) when it has none. Where a time
could be misread (lists across locations, shipments, the audit log and the outbox, doses recorded), its label names
the zone: "Dec 09, 25, 04:20 PM EST".

`where` below is a location (anything with a `time_zone`), a zone, or a zone name; None or '' is the state's zone.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from models import utcnow
from services.core.settings import get_settings

TIME_FORMAT = '%b %d, %y, %I:%M %p'  # the guide's "Mar 09, 21, 09:58 AM"
CLOCK_FORMAT = '%I:%M %p'  # a time on a screen that already names the day
STAMP_FORMAT = '%Y-%m-%d %H:%M:%S'  # logs: to the second, and sorting as text sorts by time


class HasTimeZone(Protocol):
    time_zone: str


Where = HasTimeZone | ZoneInfo | str | None


def time_label(at: datetime, where: Where = None, *, named: bool = False) -> str:
    """'Dec 09, 25, 04:20 PM' at the place (with ' EST' when `named`)."""
    return _label(as_local(at, where), TIME_FORMAT, named)


def clock_label(at: datetime, where: Where = None, *, named: bool = False) -> str:
    """'04:20 PM' at the place (with ' EST' when `named`), for lists of one day."""
    return _label(as_local(at, where), CLOCK_FORMAT, named)


def stamp_label(at: datetime, where: Where = None) -> str:
    """'2025-12-09 16:20:05 EST' at the place, for logs (the audit log)."""
    return _label(as_local(at, where), STAMP_FORMAT, True)


def as_local(at: datetime, where: Where = None) -> datetime:
    """A stored moment as the wall-clock time at the place."""
    return as_utc(at).astimezone(zone_of(where))


def local_date(at: datetime, where: Where = None) -> date:
    """The calendar day at the place when `at` happened."""
    return as_local(at, where).date()


def local_now(where: Where = None) -> datetime:
    return utcnow().astimezone(zone_of(where))


def local_today(where: Where = None) -> date:
    return local_now(where).date()


def local_moment(day: date, clock: time, where: Where = None) -> datetime:
    """The moment a wall clock at the place shows `clock` on `day` (what people type), as aware UTC."""
    return datetime.combine(day, clock, tzinfo=zone_of(where)).astimezone(UTC)


def day_span(day: date, where: Where = None) -> tuple[datetime, datetime]:
    """The first moment of the day at the place and of the next one, as aware UTC (23 or 25 hours on DST days)."""
    return local_moment(day, time(0), where), local_moment(day + timedelta(days=1), time(0), where)


def zone_of(where: Where = None) -> ZoneInfo:
    """The zone of a location (its own, else the state's), or the zone named."""
    if isinstance(where, ZoneInfo):
        return where
    name = where if where is None or isinstance(where, str) else where.time_zone
    return ZoneInfo(name) if name else state_zone()


def zone_name(where: Where = None) -> str:
    """The IANA name of the zone of `where`, for shapes handed to pages ('America/Chicago')."""
    return zone_of(where).key


def state_zone() -> ZoneInfo:
    return ZoneInfo(get_settings().state_time_zone)


def zone_problem(name: str) -> str | None:
    """Why `name` cannot be a location's time zone, or None ('' is fine: the location follows the state)."""
    if not name:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f'"{name}" is not a time zone name; write it like America/Chicago.'
    return None


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes for aware columns in some paths (raw SQL); those are UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _label(local: datetime, pattern: str, named: bool) -> str:
    return local.strftime(f'{pattern} %Z' if named else pattern)
