"""The "Remove a recipient" case on the agent's case page (the removal panel): remove a person without doses,
mark inactive a person with one (Remove is not offered), decline; each answer resolves the case."""
from __future__ import annotations

from datetime import date

from nicegui.testing import User
from sqlmodel import col

from models import Recipient
from models.clinic import Administration
from models.recipient_records import InactiveRecipient
from services.clinic import administration, common, walkin
from services.clinic.administration import DoseDetails
from services.helpdesk import cases
from services.recipients import listing
from tests import factories as fx


def removal_case(first: str, *, dose: bool) -> tuple[int, int]:
    """A person loaded at Clinic Location1 (with a dose given at the desk, or not) and the case their location's
    Request removal opened. Returns (recipient id, case id)."""
    person = fx.recipient(first, 'Panel', born=date(1979, 4, 5))
    if dose:
        provider = fx.principal(fx.PROVIDER)
        visit = walkin.start_walk_in(principal=provider, recipient_id=person)
        administration.record_vaccination(principal=provider, appointment_id=visit.id, details=DoseDetails(
            lot_id=fx.stocked_lot(), screening={k: 'no' for k, _ in common.SCREENING_QUESTIONS}, consent=True))
    number = listing.request_removal(principal=fx.principal(fx.MANAGER), recipient_id=person,
                                     reason='Loaded by mistake, please remove')
    return person, cases.case_id_of(principal=fx.help_desk_agent(), number=number)


def state_of(case_id: int) -> str:
    return cases.case_view(principal=fx.help_desk_agent(), case_id=case_id).summary.state


async def test_the_agent_removes_a_person_without_doses_from_the_case(demo, user: User) -> None:  # noqa: ANN001
    person, case_id = removal_case('Rory', dose=False)
    await fx.log_in(user, fx.AGENT)
    await user.should_see(marker='queue-table', retries=50)  # the agent's home (the queue) has opened
    await user.open(f'/help-desk/cases/{case_id}')
    await user.should_see('No recorded dose.', retries=50)
    user.find(marker='removal-remove').click()
    user.find(marker='removal-confirm').click()
    await user.should_see('Say why (at least a few words)')  # no reason yet: nothing is deleted
    assert fx.count_rows(Recipient, col(Recipient.id) == person) == 1
    fx.set_value(user, 'removal-reason', 'Not a patient of this clinic')
    user.find(marker='removal-remove').click()
    user.find(marker='removal-confirm').click()
    await user.should_see('This record no longer exists', retries=100)
    assert fx.count_rows(Recipient, col(Recipient.id) == person) == 0
    assert state_of(case_id) == cases.State.RESOLVED


async def test_a_person_with_a_dose_is_marked_inactive_not_removed(demo, user: User) -> None:  # noqa: ANN001
    person, case_id = removal_case('Dana', dose=True)
    await fx.log_in(user, fx.AGENT)
    await user.should_see(marker='queue-table', retries=50)  # the agent's home (the queue) has opened
    await user.open(f'/help-desk/cases/{case_id}')
    await user.should_see('a record with doses is never deleted', retries=50)
    await user.should_not_see(marker='removal-remove')  # Remove is not offered
    fx.set_value(user, 'removal-reason', 'Has a dose on record: kept, inactive')
    user.find(marker='removal-inactive').click()
    await user.should_see('Marked inactive: Has a dose on record', retries=100)
    assert fx.count_rows(InactiveRecipient, col(InactiveRecipient.recipient_id) == person) == 1
    assert fx.count_rows(Recipient, col(Recipient.id) == person) == 1
    assert state_of(case_id) == cases.State.RESOLVED


async def test_the_agent_merges_a_duplicate_into_the_record_to_keep(demo, user: User) -> None:  # noqa: ANN001
    keep = fx.recipient('Daniela', 'Panel', born=date(1979, 4, 5))
    person, case_id = removal_case('Danielle', dose=True)  # the same person loaded twice, the first name spelled apart
    await fx.log_in(user, fx.AGENT)
    await user.should_see(marker='queue-table', retries=50)
    await user.open(f'/help-desk/cases/{case_id}')
    await user.should_see('Merge into another record of the person', retries=50)
    fx.set_value(user, 'removal-survivor', keep)
    fx.set_value(user, 'removal-reason', 'Loaded twice with a typo in the first name')
    user.find(marker='removal-merge').click()
    await user.should_see('This record no longer exists', retries=100)
    assert fx.count_rows(Recipient, col(Recipient.id) == person) == 0
    assert fx.count_rows(Administration, col(Administration.recipient_id) == keep) == 1
    assert state_of(case_id) == cases.State.RESOLVED
