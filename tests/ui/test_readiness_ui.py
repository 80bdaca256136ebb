"""The readiness checklist screens (NiceGUI's simulated user): the manager ticks, the state edits the items and
sees each location's readiness on the organizations screen, and allocation warns about a location not ready."""
from __future__ import annotations

from nicegui import ui
from nicegui.testing import User

from services.organizations import readiness
from tests.factories import ADMIN, MANAGER, location_id, log_in, principal, product_id


def checklist_row(item_label: str) -> readiness.CheckRow:
    return next(r for r in readiness.checklist(principal=principal(MANAGER)).rows if r.label == item_label)


async def test_readiness_manager_ticks_and_unticks_an_item(demo, user: User) -> None:  # noqa: ANN001
    await log_in(user, MANAGER)
    await user.open('/readiness')
    await user.should_see('Clinic Location1 (DEMO1): 4 of 6 ready')
    last = readiness.DEFAULT_ITEMS[-1]
    box = user.find(kind=ui.checkbox, content=last)
    assert box.elements.pop().value is False
    user.find(kind=ui.checkbox, content=last).click()
    await user.should_see('Clinic Location1 (DEMO1): 5 of 6 ready')
    await user.should_see('Ticked by Maria Manager')
    assert checklist_row(last).ticked
    user.find(kind=ui.checkbox, content=last).click()
    await user.should_see('Clinic Location1 (DEMO1): 4 of 6 ready')
    await user.should_see('Unticked by Maria Manager')
    assert not checklist_row(last).ticked


async def test_readiness_state_edits_items_and_sees_readiness_on_organizations(demo, user: User) -> None:  # noqa: ANN001
    await log_in(user, ADMIN)
    await user.open('/admin/readiness')
    user.find(marker='readiness-add').click()
    await user.should_see('Item: enter what the location must have in place.')
    user.find(marker='readiness-new').type('Sharps containers in every room')
    user.find(marker='readiness-add').click()
    await user.should_see('Item 7')
    first = readiness.items(principal=principal(ADMIN))[0]
    user.find(marker=f'readiness-retire-{first.id}').click()
    await user.should_see('Retired items')
    labels = [i.label for i in readiness.items(principal=principal(ADMIN), include_retired=False)]
    assert labels[-1] == 'Sharps containers in every room' and first.label not in labels

    await user.open('/admin/organizations')
    await user.should_see('Clinic Location1 (DEMO1): 3 of 6 ready')  # the retired item's tick no longer counts
    await user.should_see('Clinic Location2 (DEMO2): 0 of 6 ready')
    await user.should_see('Sharps containers in every room')  # among what each location is missing


async def test_readiness_allocation_warns_about_a_location_not_ready(demo, user: User) -> None:  # noqa: ANN001
    await log_in(user, ADMIN)
    await user.open('/admin/allocation')
    user.find(marker='allocate-location').elements.pop().value = location_id('DEMO2')
    await user.should_see('Warning: this location is not ready (0 of 6 ready)')
    user.find(marker='allocate-product').elements.pop().value = product_id('212')
    user.find(marker='allocate-doses').elements.pop().value = 50
    user.find(marker='allocate-button').click()  # a warning, not a refusal
    await user.should_see('Allocated 50 doses of Janssen COVID-19 Vaccine to Clinic Location2')
