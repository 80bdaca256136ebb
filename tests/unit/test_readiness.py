"""The readiness checklist (services/organizations/readiness.py): the state's items, a location's ticks with who
and when, readiness counted over the current items only, and every change audited."""
from __future__ import annotations

import pytest
from sqlmodel import select

from models import AuditEvent
from services.core.db import session_scope
from services.core.errors import NotAllowed, ValidationFailed
from services.organizations import readiness
from tests import factories as fx


def events(action: str) -> list[AuditEvent]:
    with session_scope(read_only=True) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)
                                 .order_by(AuditEvent.id)).all())


def test_demo_locations_start_from_the_default_list(demo) -> None:  # noqa: ANN001
    admin = fx.principal(fx.ADMIN)
    assert [item.label for item in readiness.items(principal=admin)] == readiness.DEFAULT_ITEMS
    found = readiness.readiness_of_locations(principal=admin)
    one, two = found[fx.location_id('DEMO1')], found[fx.location_id('DEMO2')]
    assert (one.label, one.is_ready, one.missing) == ('4 of 6 ready', False, readiness.DEFAULT_ITEMS[4:])
    assert (two.label, two.location_name) == ('0 of 6 ready', 'Clinic Location2')


def test_a_manager_ticks_and_unticks_with_who_and_when_kept_and_audited(demo) -> None:  # noqa: ANN001
    manager = fx.principal(fx.MANAGER)
    here = fx.location_id('DEMO1')
    last = readiness.checklist(principal=manager).rows[-1]
    assert (last.ticked, last.changed_at) == (False, None)
    ticked = readiness.set_ticked(principal=manager, location_id=here, item_id=last.item_id, ticked=True)
    assert (ticked.ticked, ticked.changed_by) == (True, 'Maria Manager') and ticked.changed_at is not None
    assert readiness.checklist(principal=manager).ready == 5
    readiness.set_ticked(principal=manager, location_id=here, item_id=last.item_id, ticked=False)
    readiness.set_ticked(principal=manager, location_id=here, item_id=last.item_id, ticked=False)  # no change
    row = readiness.checklist(principal=manager).rows[-1]
    assert (row.ticked, row.changed_by) == (False, 'Maria Manager')
    assert [e.detail for e in events('readiness_ticked')] == [last.label]
    assert [(e.detail, e.actor_email, e.entity_id) for e in events('readiness_unticked')] == \
        [(last.label, fx.MANAGER, str(here))]


def test_a_manager_cannot_tick_for_another_location_nor_edit_the_list(demo) -> None:  # noqa: ANN001
    manager = fx.principal(fx.MANAGER)
    item = readiness.checklist(principal=manager).rows[0].item_id
    with pytest.raises(NotAllowed):
        readiness.set_ticked(principal=manager, location_id=fx.location_id('DEMO2'), item_id=item, ticked=True)
    with pytest.raises(NotAllowed):
        readiness.checklist(principal=manager, location_id=fx.location_id('DEMO2'))
    with pytest.raises(NotAllowed):
        readiness.add_item(principal=manager, label='Anything')
    with pytest.raises(NotAllowed):
        readiness.readiness_of_locations(principal=manager)
    assert readiness.readiness_of_locations(principal=fx.principal(fx.ADMIN))[fx.location_id('DEMO2')].ready == 0


def test_the_state_adds_renames_orders_and_retires_items(demo) -> None:  # noqa: ANN001
    admin, manager = fx.principal(fx.ADMIN), fx.principal(fx.MANAGER)
    here = fx.location_id('DEMO1')
    with pytest.raises(ValidationFailed, match='enter what the location must have'):
        readiness.add_item(principal=admin, label='   ')
    added = readiness.add_item(principal=admin, label='  Sharps  containers on hand ')
    assert added.label == 'Sharps containers on hand'
    assert readiness.readiness_of_locations(principal=admin)[here].label == '4 of 7 ready'
    readiness.rename_item(principal=admin, item_id=added.id, label='Sharps containers in every room')
    order = readiness.move_item(principal=admin, item_id=added.id, step=-1)
    assert [i.label for i in order][-2:] == ['Sharps containers in every room', readiness.DEFAULT_ITEMS[-1]]
    first = readiness.checklist(principal=manager).rows[0]
    assert first.ticked
    readiness.retire_item(principal=admin, item_id=first.item_id)
    assert readiness.readiness_of_locations(principal=admin)[here].label == '3 of 6 ready'
    assert first.item_id not in {row.item_id for row in readiness.checklist(principal=manager).rows}
    with pytest.raises(ValidationFailed, match='no longer on the state'):
        readiness.set_ticked(principal=manager, location_id=here, item_id=first.item_id, ticked=False)
    restored = readiness.retire_item(principal=admin, item_id=first.item_id, retired=False)
    assert not restored.retired
    assert readiness.readiness_of_locations(principal=admin)[here].label == '4 of 7 ready'  # its tick stayed
    assert [i.label for i in readiness.items(principal=admin)][-1] == first.label  # back at the end
    assert {e.action for e in events('readiness_item_added') + events('readiness_item_renamed')
            + events('readiness_item_moved') + events('readiness_item_retired')
            + events('readiness_item_restored')} == {'readiness_item_added', 'readiness_item_renamed',
                                                      'readiness_item_moved', 'readiness_item_retired',
                                                      'readiness_item_restored'}
