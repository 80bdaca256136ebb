"""Steps several UI tests share."""
from __future__ import annotations

from nicegui import ui
from nicegui.testing import User

from services.demo import DEMO_PASSWORD

MANAGER = 'manager@demo.cvms.example.org'
PROVIDER = 'provider@demo.cvms.example.org'
ADMIN = 'admin@demo.cvms.example.org'
EMPLOYER = 'employer@demo.cvms.example.org'
RECIPIENT = 'recipient@demo.cvms.example.org'


async def log_in(user: User, email: str, password: str = DEMO_PASSWORD, *, expect_success: bool = True) -> None:
    """Fill the log-in form like a person; waits for the dashboard (hashing runs off the event loop)."""
    await user.open('/login')
    user.find('Email').type(email)
    user.find('Password').type(password)
    user.find(kind=ui.button, content='Log in').click()
    if expect_success:
        await user.should_see('Log out', retries=100)
