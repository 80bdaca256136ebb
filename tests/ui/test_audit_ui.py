"""The audit log screen filters by person, user, action and day in the database, a page at a time (issue 12)."""
from __future__ import annotations

import asyncio

from nicegui import ui
from nicegui.testing import User

from services.core import audit
from tests.factories import ADMIN, MANAGER, PROVIDER, log_in, principal, set_value


def table_rows(user: User) -> list[dict]:
    return user.find(marker='audit-table').elements.pop().rows


async def settle(user: User) -> None:
    await asyncio.sleep(0.6)  # the filters' throttle


async def test_the_audit_log_filters_by_person_user_action_and_day(demo, user: User) -> None:
    manager, provider = principal(MANAGER), principal(PROVIDER)
    audit.record_now(action='view_vaccination_form', actor=manager, entity_type='recipient', entity_id=4242)
    audit.record_now(action='view_vaccination_form', actor=provider, entity_type='recipient', entity_id=77)
    audit.record_now(action='view_recipient_list', actor=provider, detail="search 'x', page 1: recipients 5,4242,9",
                     subjects=[5, 4242, 9])
    for i in range(60):
        audit.record_now(action='test_filler', actor=manager, detail=f'filler {i}')
    await log_in(user, ADMIN)
    await user.open('/audit')
    await user.should_see('Audit log')

    set_value(user, 'audit-person', '4242')
    await settle(user)
    assert {(r['actor_email'], r['action']) for r in table_rows(user)} == {
        (MANAGER, 'view_vaccination_form'), (PROVIDER, 'view_recipient_list')}

    set_value(user, 'audit-user', 'provider@')
    await settle(user)
    assert [r['action'] for r in table_rows(user)] == ['view_recipient_list']

    set_value(user, 'audit-person', '')
    set_value(user, 'audit-user', '')
    set_value(user, 'audit-action', 'test_filler')
    await settle(user)
    assert len(table_rows(user)) == 50 and table_rows(user)[0]['detail'] == 'filler 59'
    user.find(kind=ui.button, content='Next').click()
    await settle(user)
    assert [r['detail'] for r in table_rows(user)] == [f'filler {i}' for i in range(9, -1, -1)]

    set_value(user, 'audit-from', '2001-01-01')
    set_value(user, 'audit-to', '2001-01-02')
    await settle(user)
    await user.should_see('No audit events match these filters.')
