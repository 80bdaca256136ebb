"""The readiness checklist of vaccination locations (training page, Step 2): the state keeps the list of items,
each location's manager ticks what is in place, and the state sees how ready each location is (the organizations
screen; allocation warns about a location that is not ready, without refusing)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from models import Location, User, utcnow
from models.readiness import ReadinessCheck, ReadinessItem
from services.core import audit
from services.core.db import session_scope
from services.core.errors import NotFound, ValidationFailed
from services.permissions import Action, Kind, fetch, require, scope
from services.principal import Principal

# The list a new state starts with (the migration 0026_readiness seeds a frozen copy; the demo seeds this one).
DEFAULT_ITEMS = [
    'Storage units monitored with a continuous temperature data logger',
    'Staff trained on vaccine storage, handling and administration',
    'Emergency plan for storage failures and power outages',
    'Primary and backup vaccine coordinators named',
    'Doses reported to the state registry within 24 hours',
    'Adverse event (VAERS) reporting procedure in place',
]
LABEL_MAX = 200


@dataclass(frozen=True)
class Item:
    id: int
    label: str
    sort_order: int
    retired: bool


@dataclass(frozen=True)
class CheckRow:
    item_id: int
    label: str
    ticked: bool
    changed_by: str  # name (or email) of who last ticked or unticked it; '' when never
    changed_at: datetime | None


@dataclass(frozen=True)
class Checklist:
    location_id: int
    location_name: str
    location_code: str
    time_zone: str
    rows: list[CheckRow]

    @property
    def ready(self) -> int:
        return sum(1 for row in self.rows if row.ticked)


@dataclass(frozen=True)
class Readiness:
    """How far one location is: `ready` of `total` current items ticked; `missing` names the others."""
    location_id: int
    location_name: str
    location_code: str
    organization_id: int
    ready: int
    total: int
    missing: list[str]

    @property
    def is_ready(self) -> bool:
        return self.ready == self.total

    @property
    def label(self) -> str:
        return f'{self.ready} of {self.total} ready'


# ---------------------------------------------------------------- the state's list

def items(*, principal: Principal, include_retired: bool = True) -> list[Item]:
    """The state's items in their order (retired ones last), for the screen that edits them."""
    require(principal, Action.MANAGE_SETTINGS)
    with session_scope(read_only=True) as session:
        rows = session.exec(select(ReadinessItem).order_by(col(ReadinessItem.retired_at).is_not(None),
                                                           col(ReadinessItem.sort_order), col(ReadinessItem.id))).all()
        return [_item(row) for row in rows if include_retired or row.retired_at is None]


def add_item(*, principal: Principal, label: str) -> Item:
    require(principal, Action.MANAGE_SETTINGS)
    label = _clean_label(label)
    with session_scope() as session:
        last = session.exec(select(func.max(ReadinessItem.sort_order))).one()
        item = ReadinessItem(label=label, sort_order=(last or 0) + 1)
        session.add(item)
        session.flush()
        audit.record(session, action='readiness_item_added', actor=principal, entity_type='readiness_item',
                     entity_id=item.id, detail=label)
        return _item(item)


def rename_item(*, principal: Principal, item_id: int, label: str) -> Item:
    require(principal, Action.MANAGE_SETTINGS, entity=f'readiness_item:{item_id}')
    label = _clean_label(label)
    with session_scope() as session:
        item = _item_row(session, item_id)
        before, item.label = item.label, label
        session.add(item)
        audit.record(session, action='readiness_item_renamed', actor=principal, entity_type='readiness_item',
                     entity_id=item_id, detail=f'{before} → {label}')
        return _item(item)


def retire_item(*, principal: Principal, item_id: int, retired: bool = True) -> Item:
    """Retire an item (it stops counting for every location; the ticks stay) or bring it back."""
    require(principal, Action.MANAGE_SETTINGS, entity=f'readiness_item:{item_id}')
    with session_scope() as session:
        item = _item_row(session, item_id)
        if (item.retired_at is not None) != retired:
            item.retired_at = utcnow() if retired else None
            if not retired:  # back at the end of the current list
                last = session.exec(select(func.max(ReadinessItem.sort_order))
                                    .where(col(ReadinessItem.retired_at).is_(None))).one()
                item.sort_order = (last or 0) + 1
            session.add(item)
            audit.record(session, action='readiness_item_retired' if retired else 'readiness_item_restored',
                         actor=principal, entity_type='readiness_item', entity_id=item_id, detail=item.label)
        return _item(item)


def move_item(*, principal: Principal, item_id: int, step: int) -> list[Item]:
    """Move a current item up (step -1) or down (+1) the list; returns the current list in its new order."""
    require(principal, Action.MANAGE_SETTINGS, entity=f'readiness_item:{item_id}')
    with session_scope() as session:
        item = _item_row(session, item_id)
        current = list(session.exec(select(ReadinessItem).where(col(ReadinessItem.retired_at).is_(None))
                                    .order_by(col(ReadinessItem.sort_order), col(ReadinessItem.id))).all())
        if item not in current:
            raise ValidationFailed('A retired item has no place in the list: restore it first.')
        here = current.index(item)
        there = max(0, min(len(current) - 1, here + step))
        current.insert(there, current.pop(here))
        for number, row in enumerate(current, start=1):  # renumbered: equal or gapped orders never confuse a move
            row.sort_order = number
            session.add(row)
        if there != here:
            audit.record(session, action='readiness_item_moved', actor=principal, entity_type='readiness_item',
                         entity_id=item_id, detail=f'{item.label}: position {here + 1} → {there + 1}')
        return [_item(row) for row in current]


# ---------------------------------------------------------------- a location's checklist

def checklist(*, principal: Principal, location_id: int | None = None) -> Checklist:
    """The current items and where the location stands on each (the principal's own location by default)."""
    require(principal, Action.TICK_READINESS)
    with session_scope(read_only=True) as session:
        location = fetch(session, Location, location_id or principal.location_id, principal=principal,
                         action=str(Action.TICK_READINESS))
        checks = {c.item_id: c for c in session.exec(select(ReadinessCheck)
                                                    .where(ReadinessCheck.location_id == location.id))}
        who = _names(session, {c.changed_by_user_id for c in checks.values() if c.changed_by_user_id})
        rows = []
        for item in _current_items(session):
            check = checks.get(item.id or 0)
            rows.append(CheckRow(item_id=item.id or 0, label=item.label, ticked=bool(check and check.ticked),
                                 changed_by=who.get(check.changed_by_user_id or 0, '') if check else '',
                                 changed_at=check.changed_at if check else None))
        return Checklist(location_id=location.id or 0, location_name=location.name, location_code=location.code,
                         time_zone=location.time_zone, rows=rows)


def set_ticked(*, principal: Principal, location_id: int, item_id: int, ticked: bool) -> CheckRow:
    """Tick (or untick) one item for the location; who and when are kept on the item, and every change is
    audited, so an untick leaves its trace."""
    require(principal, Action.TICK_READINESS)
    with session_scope() as session:
        location = fetch(session, Location, location_id, principal=principal, action=str(Action.TICK_READINESS))
        item = _item_row(session, item_id)
        if item.retired_at is not None:
            raise ValidationFailed(f'"{item.label}" is no longer on the state\'s list.')
        check = session.exec(select(ReadinessCheck).where(ReadinessCheck.location_id == location_id)
                             .where(ReadinessCheck.item_id == item_id).with_for_update()).first()
        if check is None:
            check = ReadinessCheck(location_id=location_id, item_id=item_id)
        elif check.ticked == ticked:  # a second tab's click: nothing changes, nothing to audit
            return _check_row(session, item, check)
        check.ticked, check.changed_by_user_id, check.changed_at = ticked, principal.user_id, utcnow()
        session.add(check)
        session.flush()
        audit.record(session, action='readiness_ticked' if ticked else 'readiness_unticked', actor=principal,
                     entity_type='location', entity_id=location.id, detail=item.label)
        return _check_row(session, item, check)


# ---------------------------------------------------------------- readiness seen by the state

def readiness_of_locations(*, principal: Principal, location_ids: list[int] | None = None) -> dict[int, Readiness]:
    """{location id: Readiness} for the locations the principal sees (the state: all, or those asked)."""
    require(principal, Action.VIEW_ALL_LOCATIONS)
    with session_scope(read_only=True) as session:
        query = scope(select(Location), principal=principal, kind=Kind.LOCATION).order_by(col(Location.name))
        if location_ids is not None:
            query = query.where(col(Location.id).in_(location_ids))
        locations = session.exec(query).all()
        wanted = [location.id or 0 for location in locations]
        current = _current_items(session)
        ticked: dict[int, set[int]] = {}
        if wanted:
            for loc_id, item_id in session.exec(select(ReadinessCheck.location_id, ReadinessCheck.item_id)
                                                .where(col(ReadinessCheck.location_id).in_(wanted))
                                                .where(col(ReadinessCheck.ticked).is_(True))).all():
                ticked.setdefault(loc_id, set()).add(item_id)
        result = {}
        for location in locations:
            done = ticked.get(location.id or 0, set())
            missing = [item.label for item in current if item.id not in done]
            result[location.id or 0] = Readiness(
                location_id=location.id or 0, location_name=location.name, location_code=location.code,
                organization_id=location.organization_id, ready=len(current) - len(missing), total=len(current),
                missing=missing)
        return result


def seed_default_items(session: Session) -> None:
    """The default list, when the state has none yet (the demo; a migrated database has it already)."""
    if session.exec(select(ReadinessItem.id).limit(1)).first() is None:
        session.add_all([ReadinessItem(label=label, sort_order=number)
                         for number, label in enumerate(DEFAULT_ITEMS, start=1)])
        session.flush()


# ---------------------------------------------------------------- helpers

def _clean_label(label: str) -> str:
    label = ' '.join((label or '').split())
    if not label:
        raise ValidationFailed('Item: enter what the location must have in place.')
    if len(label) > LABEL_MAX:
        raise ValidationFailed(f'Item: keep it under {LABEL_MAX} characters.')
    return label


def _item_row(session: Session, item_id: int) -> ReadinessItem:
    item = session.get(ReadinessItem, item_id)
    if item is None:
        raise NotFound('This checklist item does not exist.')
    return item


def _item(row: ReadinessItem) -> Item:
    return Item(id=row.id or 0, label=row.label, sort_order=row.sort_order, retired=row.retired_at is not None)


def _current_items(session: Session) -> list[ReadinessItem]:
    return list(session.exec(select(ReadinessItem).where(col(ReadinessItem.retired_at).is_(None))
                             .order_by(col(ReadinessItem.sort_order), col(ReadinessItem.id))).all())


def _names(session: Session, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    return {u.id or 0: u.full_name or u.email for u in session.exec(select(User).where(col(User.id).in_(user_ids)))}


def _check_row(session: Session, item: ReadinessItem, check: ReadinessCheck) -> CheckRow:
    who = _names(session, {check.changed_by_user_id} if check.changed_by_user_id else set())
    return CheckRow(item_id=item.id or 0, label=item.label, ticked=check.ticked,
                    changed_by=who.get(check.changed_by_user_id or 0, ''), changed_at=check.changed_at)


def seed_demo(session: Session) -> None:
    """The default list, and Clinic Location1's manager has ticked the first four items (so "4 of 6 ready")."""
    seed_default_items(session)
    location = session.exec(select(Location).where(Location.code == 'DEMO1')).first()
    manager = session.exec(select(User).where(User.location_id == (location.id if location else None))
                           .where(User.role == 'location_manager')).first()
    if location is None or manager is None:
        return
    for item in _current_items(session)[:4]:
        session.add(ReadinessCheck(location_id=location.id or 0, item_id=item.id or 0, ticked=True,
                                   changed_by_user_id=manager.id))
