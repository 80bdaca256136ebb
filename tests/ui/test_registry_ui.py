"""The Registry view after real exchanges with the registry simulator (MLLP): a location manager sees the counts by
status, a rejected dose with the registry's reason in plain words, a dose waiting for a registry out of reach, and
resends the rejected one once the record is right; the state admin sees each location's backlog and rejection rate."""
from __future__ import annotations

import asyncio

from nicegui import ui
from nicegui.testing import User
from sqlmodel import col, select

from models.registry import RegistryMessage
from services.core.db import session_scope
from services.registry import sending
from tests import factories as fx
from tests.conftest import sqlite_only


def _counts(user: User) -> dict[str, str]:
    counts = {}
    for status in ('queued', 'accepted', 'accepted_with_warnings', 'rejected', 'retrying'):
        card = user.find(marker=f'registry-count-{status}').elements.pop()
        label, number = [child for child in card.default_slot.children if isinstance(child, ui.label)]
        counts[label.text] = number.text
    return counts


async def test_a_location_manager_sees_rejections_and_resends(demo, registry, user: User) -> None:
    registry.by_family_name.update({'Rejected': 'AR', 'Warned': 'AE', 'Silent': 'timeout'})
    refused = fx.walk_in_dose('Rita', 'Rejected')
    fx.walk_in_dose('Wanda', 'Warned')
    fx.walk_in_dose('Sam', 'Silent')
    fx.walk_in_dose('Ada', 'Accepted')
    await _answered()
    await fx.log_in(user, fx.MANAGER)
    await user.open('/registry')
    await user.should_see('Dose messages of Clinic Location1', retries=50)
    await user.should_see('Sent to the registry over MLLP')
    counts = _counts(user)
    assert (counts['Accepted'], counts['Accepted with warnings'], counts['Rejected'], counts['Retrying']) == (
        '1', '1', '1', '1')
    await user.should_see('Rita Rejected')
    await user.should_see('Error in the date of birth (PID-7): Required field missing. Patient birth date is required')
    await user.should_see('Sam Silent')
    await user.should_see('The registry did not answer within 1 seconds.')
    assert user.find(marker='registry-correct').elements.pop().props['href'].startswith('/desk/doses?day=')

    registry.by_family_name.pop('Rejected')  # the registry takes it now (the record was put right meanwhile)
    [message] = [m for m in _messages() if m.administration_id == refused]
    user.find(marker=f'registry-resend-{message.id}').click()
    await user.should_see('is queued for the registry again', retries=50)
    await user.should_see('No rejected doses.')
    await _answered()
    again = [m for m in _messages() if m.administration_id == refused]
    assert [m.status for m in again] == ['rejected', 'accepted'] and again[0].resent_as_id == again[1].id
    assert again[0].control_id != again[1].control_id


async def test_the_state_admin_sees_each_locations_backlog_and_rejection_rate(demo, registry, user: User) -> None:
    registry.by_family_name['Rejected'] = 'AR'
    fx.walk_in_dose('Rita', 'Rejected')
    fx.walk_in_dose('Ada', 'Accepted')
    fx.walk_in_dose('Al', 'Accepted')
    await _answered()
    registry.stop()
    fx.walk_in_dose('Wes', 'Waiting', code='DEMO2')
    await fx.log_in(user, fx.ADMIN)
    await user.open('/registry')
    await user.should_see('Every location', retries=50)
    rows = {r['location']: r for r in user.find(marker='registry-backlog').elements.pop().rows}
    assert (rows['Clinic Location1 (DEMO1)']['rejected'], rows['Clinic Location1 (DEMO1)']['rate']) == (1, '33.3%')
    assert (rows['Clinic Location2 (DEMO2)']['waiting'], rows['Clinic Location2 (DEMO2)']['rate']) == (1, '—')
    await user.open(f'/registry?location={fx.location_id()}')
    await user.should_see('Dose messages of Clinic Location1', retries=50)
    await user.should_see('Rita Rejected')
    await user.should_not_see('Resend')  # the state admin reads; the location corrects and resends


async def test_doses_recorded_show_each_doses_registry_status(demo, registry, user: User) -> None:
    registry.by_family_name.update({'Rejected': 'AR', 'Warned': 'AE'})
    fx.walk_in_dose('Rita', 'Rejected')
    fx.walk_in_dose('Wanda', 'Warned')
    await _answered()
    registry.stop()
    fx.walk_in_dose('Quentin', 'Queued')
    await fx.log_in(user, fx.MANAGER)
    await user.open('/desk/doses')
    await user.should_see('Rita Rejected', retries=50)
    with user:
        labels = [e.text for e in user.find(marker='dose-registry-status').elements]
    # Quentin's: queued, or retrying if a worker of the app already tried the registry, now out of reach
    assert len(labels) == 3
    for answered in ('Registry: Accepted with warnings', 'Registry: Rejected'):
        labels.remove(answered)
    assert labels[0] in ('Registry: Queued', 'Registry: Retrying')


@sqlite_only
async def test_a_provider_has_no_registry_view(demo, user: User) -> None:
    await fx.log_in(user, fx.PROVIDER)
    await user.open('/registry')
    await user.should_see('Not allowed')


async def _answered() -> None:
    """Send until no message is queued. The app's own sending loop may hold some meanwhile (never both), and a
    round stops at a registry that did not answer (the rest go in the next round)."""
    for _ in range(100):
        await asyncio.to_thread(sending.send_due)
        if all(m.status != 'queued' for m in _messages()):
            return
        await asyncio.sleep(0.1)
    raise AssertionError('messages still queued')


def _messages() -> list[RegistryMessage]:
    with session_scope(read_only=True) as session:
        return list(session.exec(select(RegistryMessage).order_by(col(RegistryMessage.id))))
