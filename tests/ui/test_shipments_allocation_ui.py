"""The state admin's product list and allocation screens (NiceGUI's simulated user)."""
from __future__ import annotations

from nicegui.testing import User

from tests.conftest import sqlite_only
from tests.factories import ADMIN, MANAGER, location_id, log_in, product_id


async def test_shipments_allocation_checks_storage_and_creates_a_shipment(demo, user: User) -> None:
    await log_in(user, ADMIN)
    await user.open('/admin/allocation')
    user.find(marker='allocate-location').elements.pop().value = location_id('DEMO2')
    user.find(marker='allocate-product').elements.pop().value = product_id('208')
    await user.should_see('It cannot store Pfizer-BioNTech COVID-19 Vaccine.')
    user.find(marker='allocate-doses').elements.pop().value = 600
    user.find(marker='allocate-button').click()
    await user.should_see('Clinic Location2 cannot store Pfizer-BioNTech COVID-19 Vaccine')
    user.find(marker='allocate-product').elements.pop().value = product_id('212')
    user.find(marker='allocate-doses').elements.pop().value = 50
    user.find(marker='allocate-button').click()
    await user.should_see('Allocated 50 doses of Janssen COVID-19 Vaccine to Clinic Location2')
    rows = user.find(marker='allocation-shipments').elements.pop().rows
    assert (rows[0]['location'], rows[0]['doses_expected'], rows[0]['status']) == \
        ('Clinic Location2 (DEMO2)', 50, 'Allocated')
    user.find(marker='ship-choice').elements.pop().value = rows[0]['id']
    user.find(marker='ship-tracking').type('1ZTRACK')
    user.find(marker='ship-button').click()
    await user.should_see('Shipment marked as shipped.')
    rows = user.find(marker='allocation-shipments').elements.pop().rows
    assert (rows[0]['status'], rows[0]['tracking_number']) == ('Shipped', '1ZTRACK')


async def test_shipments_products_admin_lists_the_2021_vaccines_and_adds_one(demo, user: User) -> None:
    await log_in(user, ADMIN)
    await user.open('/admin/products')
    rows = {r['cvx_code']: r for r in user.find(marker='products-table').elements.pop().rows}
    assert (rows['208']['series'], rows['208']['interval'], rows['208']['doses_per_vial']) == (2, 21, 6)
    assert (rows['207']['interval'], rows['207']['doses_per_vial'], rows['207']['storage']) == \
        (28, 10, 'Frozen (-25 to -15 °C)')
    assert (rows['212']['series'], rows['212']['hours'], rows['212']['storage']) == (1, 2, 'Refrigerated (2-8 °C)')
    user.find(marker='product-name').type('Novavax COVID-19 Vaccine')
    user.find(marker='product-manufacturer').type('Novavax, Inc.')
    user.find(marker='product-cvx').type('211')
    user.find(marker='product-mvx').type('n1x')
    user.find(marker='product-save').click()
    await user.should_see('MVX code: the CDC manufacturer code, 2-3 letters')
    user.find(marker='product-mvx').clear().type('nvx')
    user.find(marker='product-save').click()
    await user.should_see('Novavax COVID-19 Vaccine saved.')
    saved = {r['cvx_code']: r for r in user.find(marker='products-table').elements.pop().rows}
    assert saved['211']['mvx_code'] == 'NVX' and saved['208']['mvx_code'] == 'PFR'
    user.find(marker='product-name').type('Copy')
    user.find(marker='product-manufacturer').type('X')
    user.find(marker='product-cvx').type('211')
    user.find(marker='product-save').click()
    await user.should_see('CVX code 211 already belongs to Novavax COVID-19 Vaccine.')


@sqlite_only
async def test_shipments_manager_cannot_open_allocation(demo, user: User) -> None:
    await log_in(user, MANAGER)
    await user.open('/admin/allocation')
    await user.should_see('Not allowed')
    await user.open('/admin/products')
    await user.should_see('Not allowed')
