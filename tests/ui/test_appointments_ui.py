"""The Appointments page, the back-entry screens and the printable forms through the simulated browser."""
from __future__ import annotations

import asyncio
from datetime import date, timedelta

from nicegui import ui
from nicegui.testing import User
from sqlmodel import select

from models import OutboxAttachment
from services.clinic import walkin
from services.core import localtime
from services.core.db import session_scope
from tests import factories as fx
from tests.conftest import sqlite_only
from tests.factories import MANAGER, PROVIDER, log_in


async def test_appointments_manager_opens_a_session_and_books(demo, user: User) -> None:
    product = fx.product(name='Session Vaccine')
    fx.stocked_lot(product, doses=20)
    person = fx.recipient('Ann', 'Booker', born=date(1970, 2, 3), email='ann.booker@example.org')
    await log_in(user, MANAGER)
    await user.open('/appointments')
    day = date.today() + timedelta(days=2)
    user.find(marker='session-date').clear().type(f'{day:%m/%d/%Y}')
    with user:
        user.find(marker='session-products').elements.pop().value = [product]
    user.find(marker='session-create').click()
    await user.should_see('Clinic session created: 12 slots.', retries=100)
    await user.should_see('Session Vaccine · booked 0 of 48')
    await user.open('/appointments')  # the booking form offers the new slots
    user.find(marker='book-name').type('Booker')
    user.find(marker='book-dob').type('02/03/1970')
    user.find(marker='book-search').click()
    await user.should_see('Ann Booker', retries=100)
    user.find(marker='book-confirm').click()
    await user.should_see('confirmation number', retries=100)
    with user:
        rows = user.find(marker='upcoming-table').elements.pop().rows
    booked = [r for r in rows if r['details'].startswith('Ann Booker')]
    assert [r['details'] for r in booked] == ['Ann Booker Dose 1 Scheduled']
    assert walkin.search_walk_in(principal=fx.principal(MANAGER), name='Booker', date_of_birth=date(1970, 2, 3))[0] \
        .open_case_number == booked[0]['case_number']
    assert person


@sqlite_only
async def test_appointments_page_is_refused_to_employers(demo, user: User) -> None:
    await log_in(user, 'employer@demo.cvms.example.org')
    await user.open('/appointments')
    await user.should_see('Not allowed')


async def test_desk_back_entry_csv_upload_reports_failed_lines(demo, user: User) -> None:
    product = fx.product(name='Paper Vaccine', cvx='T9P01')
    lot = fx.stocked_lot(product, doses=10, lot_number='PAPER-1')
    fx.recipient('Grace', 'Paper', born=date(1961, 3, 9))
    await log_in(user, PROVIDER)
    await user.open('/desk/back-entry')
    today = localtime.local_today(fx.location())
    csv_text = ('First name,Last name,Date of birth,Date given,Time given,Product,Lot number,Dose number,Site,Route,'
                'Dose volume (mL),Reason,Override reason\n'
                f'Grace,Paper,03/09/1961,{today:%m/%d/%Y},00:15,T9P01,PAPER-1,1,Left deltoid,IM,0.5,Outage,\n'
                f'Nobody,Known,01/01/1990,{today:%m/%d/%Y},00:20,T9P01,PAPER-1,1,Left deltoid,IM,0.5,Outage,\n'
                f'=cmd,Paper,03/09/1961,{today:%m/%d/%Y},00:25,T9P01,NOPE,1,Left deltoid,IM,0.5,Outage,\n')
    with user:
        upload = user.find(ui.upload).elements.pop()
    await upload.handle_uploads([ui.upload.SmallFileUpload('paper.csv', 'text/csv', csv_text.encode())])
    await user.should_see('Doses recorded: 1. Lines that failed: 2.', retries=100)
    assert fx.on_hand(lot) == 9
    with session_scope() as session:
        attachment = session.exec(select(OutboxAttachment).where(OutboxAttachment.filename == 'BackEntryError.csv')
                                  ).one()
    error_file = attachment.data.decode('utf-8-sig')
    assert 'Line 3: No registered recipient is named Nobody Known' in error_file
    assert 'Line 4:' in error_file and "'=cmd" in error_file  # formula-safe, as in Bulk Registration


async def test_desk_back_entry_refusal_describes_the_file_input(demo, user: User) -> None:
    """Why a file was refused stays in one message the upload area's file input is described by (assets/a11y.js
    carries the link from the uploader to its input; the accessibility sweep checks it in Chromium)."""
    await log_in(user, PROVIDER)
    await user.open('/desk/back-entry')
    with user:
        upload = user.find(ui.upload).elements.pop()
        problem = user.find(marker='back-entry-problem').elements.pop()
        assert upload.props['data-cvms-aria-describedby'] == f'c{problem.id}'
    await upload.handle_uploads([ui.upload.SmallFileUpload('paper.csv', 'text/csv', b'not,a,template\n')])
    for _ in range(100):
        if problem.text:
            break
        await asyncio.sleep(0.05)
    assert problem.text and problem.props['role'] == 'alert'
    with user:  # the same element, still the one described
        assert user.find(marker='back-entry-problem').elements.pop() is problem


async def test_desk_printable_forms_mirror_the_screens(demo, user: User) -> None:
    await log_in(user, PROVIDER)
    await user.open('/forms/registration')
    await user.should_see('COVID-19 Vaccination Questionnaire')
    await user.open('/forms/administration')
    await user.should_see('Print')
    await user.open('/forms/inventory-levels')
    await user.should_see('Print')
