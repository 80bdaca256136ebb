"""Steps several UI tests share."""
from __future__ import annotations

from nicegui import ui
from nicegui.testing import User
from sqlalchemy import func
from sqlmodel import select

from models import User as UserRow
from services.accounts.auth import principal_for
from services.core.db import session_scope
from services.demo import DEMO_PASSWORD
from services.principal import Principal

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


def principal_of(email: str) -> Principal:
    """The principal of an existing account, as services receive it from a page."""
    with session_scope() as session:
        return principal_for(session, session.exec(select(UserRow).where(UserRow.email == email)).one())


def count_rows(model, *where) -> int:  # noqa: ANN001
    """How many rows of `model` match every condition in `where`."""
    with session_scope() as session:
        query = select(func.count()).select_from(model)
        for condition in where:
            query = query.where(condition)
        return session.exec(query).one()
