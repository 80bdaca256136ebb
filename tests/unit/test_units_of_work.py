"""Units of work: reads go through read-only units, which never wait for a writer and never write."""
from __future__ import annotations

import threading
import time

import pytest

from models import Organization
from services import dashboard
from services.accounts import auth
from services.clinic import checkin, scheduling
from services.core import outbox
from services.core.db import WroteInReadOnlyUnit, session_scope
from services.inventory import ledger, shipments
from services.organizations import employers
from services.portal import household_members, vaccine_groups
from tests.factories import ADMIN, EMPLOYER, MANAGER, RECIPIENT, count_rows, location_id, principal


def test_a_read_only_unit_refuses_to_write_and_keeps_nothing(demo) -> None:
    with pytest.raises(WroteInReadOnlyUnit), session_scope(read_only=True) as session:
        session.add(Organization(name='Written by a read', kind='provider'))
    assert count_rows(Organization, Organization.name == 'Written by a read') == 0
    with session_scope(read_only=True) as session:
        assert session.get(Organization, 1) is not None  # reading is what it is for


def test_lists_and_lookups_answer_while_a_writer_holds_the_lock(demo) -> None:
    """On SQLite a unit of work that writes holds the database's only write lock until it commits (a High Volume
    chunk, a busy desk). Screens' reads must not queue behind it: each answers at once, not after the writer."""
    admin, manager, employer, recipient = (principal(e) for e in (ADMIN, MANAGER, EMPLOYER, RECIPIENT))
    reads = {
        'header names': lambda: auth.describe(manager),
        "today's appointments": lambda: checkin.today_appointments(principal=manager),
        'open slots': lambda: scheduling.open_slots(limit=5),
        'clinic sessions': lambda: scheduling.list_clinic_sessions(principal=manager, location_id=location_id()),
        'stock': lambda: ledger.location_stock(principal=manager, location_id=location_id()),
        'products': lambda: ledger.list_products(principal=admin),
        'allocation choices': lambda: shipments.allocation_choices(principal=admin),
        'outbox': lambda: outbox.list_outbox(principal=admin),
        'dashboard': lambda: dashboard.admin_summary(principal=admin),
        'invitations': lambda: employers.invitations(principal=employer),
        'organizations': lambda: employers.organizations(principal=admin),
        'household': lambda: household_members.household(principal=recipient),
        'self-registration switch': vaccine_groups.self_registration_enabled,
    }
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with session_scope() as session:
            session.add(Organization(name='Busy writer', kind='provider'))
            session.flush()
            holding.set()
            release.wait(15)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(10)
        slow = {}
        for name, read in reads.items():
            started = time.perf_counter()
            read()
            if (took := time.perf_counter() - started) > 3:  # the writer holds on for 15 s
                slow[name] = round(took, 1)
        assert slow == {}
    finally:
        release.set()
        thread.join()
