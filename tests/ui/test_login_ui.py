"""Logging in by role through the simulated browser (NiceGUI's `user` fixture)."""
from __future__ import annotations

import json

import pytest
from nicegui import app, ui
from nicegui.testing import User

from tests.conftest import sqlite_only
from tests.factories import MANAGER, RECIPIENT, log_in

NAV_BY_ROLE = {
    'manager@demo.cvms.example.org': ['Home', 'Recipient Check-In', "Today's Appointments", 'Appointment Walk-In'],
    'provider@demo.cvms.example.org': ['Home', 'Recipient Check-In', "Today's Appointments", 'Appointment Walk-In'],
    'admin@demo.cvms.example.org': ['Home', 'Organizations', 'Recipients'],
    'employer@demo.cvms.example.org': ['Home', 'Invited'],
    'recipient@demo.cvms.example.org': ['Your household', 'Grace Wilms'],
    'agent@demo.cvms.example.org': ['Help Desk', 'Provider Onboarding (0)'],  # the agent's home is the queue
}


@pytest.mark.parametrize('email', list(NAV_BY_ROLE))
async def test_each_demo_role_lands_on_its_dashboard(demo, user: User, email: str) -> None:
    await log_in(user, email)
    for text in NAV_BY_ROLE[email]:
        await user.should_see(text)


@sqlite_only
async def test_wrong_password_is_refused_with_a_clear_message(demo, user: User) -> None:
    await log_in(user, 'manager@demo.cvms.example.org', 'not the password at all', expect_success=False)
    await user.should_see('Incorrect email or password.', retries=100)
    await user.should_not_see("Today's Appointments")


@sqlite_only
async def test_the_session_token_lives_only_in_its_cookie_never_in_the_browser_storage(demo, user: User) -> None:
    """NiceGUI's storage (files, or Redis with several instances) holds no token that grants access (issue 12)."""
    await log_in(user, MANAGER)
    token = user.http_client.cookies.get('cvms_session')
    assert token
    with user:
        stored = json.dumps(dict(app.storage.user)) + json.dumps(dict(app.storage.browser))
    assert token not in stored and 'token' not in stored


@sqlite_only
async def test_pages_need_a_login(demo, user: User) -> None:
    await user.open('/')
    await user.should_see('Log in')


# One page decorator (components/page.py) lets people in to staff and portal pages alike: who, where, what they see.
ENTRY = [
    (None, '/inventory', 'Log in'),
    (None, '/portal/record', 'Log in'),
    (None, '/portal/sign-up', 'Create your COVID-19 Vaccine Portal account'),  # a public portal page
    (MANAGER, '/inventory', 'Adjust inventory'),
    (MANAGER, '/portal/record', "Today's Appointments"),  # staff on a portal address: their own home page
    (RECIPIENT, '/portal/record', 'Vaccination record'),
    (RECIPIENT, '/inventory', 'Your role does not give access to this page.'),
]


@sqlite_only
@pytest.mark.parametrize(('email', 'path', 'seen'), ENTRY)
async def test_staff_and_portal_pages_let_in_the_same_way(demo, user: User, email: str | None, path: str,
                                                          seen: str) -> None:
    if email:
        await log_in(user, email)
    await user.open(path)
    await user.should_see(seen)


HEADER_BY_ROLE = {
    'manager@demo.cvms.example.org': ['Home', 'Recipient', 'Appointments', 'Bulk Registration', 'Vaccine Inventory',
                                      'Shipments', 'Reports'],
    'provider@demo.cvms.example.org': ['Home', 'Recipient', 'Appointments', 'Vaccine Inventory', 'Shipments'],
    'admin@demo.cvms.example.org': ['Home', 'Recipient', 'Vaccine Inventory', 'Shipments', 'Reports', 'Help Desk'],
    'employer@demo.cvms.example.org': ['Home', 'Bulk Registration', 'Invitations'],
    'recipient@demo.cvms.example.org': [],  # recipients get the portal's own frame
    'agent@demo.cvms.example.org': ['Home', 'Help Desk'],
}


@sqlite_only
@pytest.mark.parametrize('email', list(HEADER_BY_ROLE))
async def test_each_role_sees_exactly_its_navigation(demo, user: User, email: str) -> None:
    await log_in(user, email)
    header_links = [link.text for link in user.find(kind=ui.link).elements if 'cvms-nav-link' in link.classes]
    assert sorted(header_links) == sorted(HEADER_BY_ROLE[email])  # the simulated page's elements come unordered
