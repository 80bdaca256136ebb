"""The help desk's changes to recipient records (services/recipients/removal.py): removal of a person without doses
(with their pending emails, unused links and lone portal login), never of a person with doses; marking inactive;
merging two records of one person; and every list and search leaving such records out."""
from __future__ import annotations

import json
from datetime import date

import pytest
from sqlmodel import col, select

from models import AuditEvent, OutboxMessage, PasswordToken, PortalAccount, Recipient, User
from models.clinic import Administration, Appointment, ClinicSlot
from models.recipient_records import RecipientMerge
from services import dashboard
from services.clinic import administration, checkin, common, scheduling, walkin
from services.clinic.administration import DoseDetails
from services.core.db import session_scope
from services.core.errors import NotAllowed, ServiceError, ValidationFailed
from services.helpdesk import cases
from services.organizations import employers
from services.portal import household_members
from services.recipients import listing, removal
from tests import factories as fx

BORN = date(1984, 6, 7)
ALL_NO = {key: 'no' for key, _ in common.SCREENING_QUESTIONS}


def _count(model, *where) -> int:  # noqa: ANN001
    return fx.count_rows(model, *where)


def _audit(action: str) -> list[AuditEvent]:
    with session_scope(read_only=True) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def _dose_for(recipient_id: int) -> int:
    """A dose recorded for the person at Clinic Location1's desk (a walk-in). Returns the administration id."""
    provider = fx.principal(fx.PROVIDER)
    visit = walkin.start_walk_in(principal=provider, recipient_id=recipient_id)
    return administration.record_vaccination(
        principal=provider, appointment_id=visit.id,
        details=DoseDetails(lot_id=fx.stocked_lot(), screening=ALL_NO, consent=True)).administration_id


def _bookable(name: str) -> int:
    """A product with stock at Clinic Location1 and a clinic session offering it; returns the product id."""
    product = fx.product(name=name)
    fx.stocked_lot(product, doses=10)
    fx.clinic_session([product])
    return product


def test_a_person_without_doses_is_deleted_with_their_emails_links_appointment_and_lone_login(demo) -> None:  # noqa: ANN001
    admin = fx.principal(fx.ADMIN)
    rita = fx.invite('Rita', 'Removal', BORN, 'rita@example.org')  # welcome email + set-password link pending
    booked = fx.appointment(_bookable('Removal Vaccine'), rita)
    with session_scope(read_only=True) as session:
        slot_before = session.get(ClinicSlot, booked_slot := session.get(Appointment, booked.id).slot_id).booked
        user_id = session.exec(select(PortalAccount.user_id).where(PortalAccount.email == 'rita@example.org')).one()
    assert _count(OutboxMessage, col(OutboxMessage.dedupe_key) == f'welcome:recipient:{rita}') == 1
    assert _count(PasswordToken, col(PasswordToken.user_id) == user_id) == 1

    preview = removal.removal_preview(principal=admin, recipient_id=rita)
    assert preview.may_delete and preview.login_closes and preview.pending_emails == 1
    assert [a.case_number for a in preview.appointments] == [booked.case_number]

    with pytest.raises(ValidationFailed):
        removal.remove_recipient(principal=admin, recipient_id=rita, reason='')
    outcome = removal.remove_recipient(principal=admin, recipient_id=rita, reason='Loaded twice by the clinic',
                                       case_id=42)
    assert outcome.login_closed and outcome.emails_dropped == 1 and outcome.links_dropped == 1
    assert _count(Recipient, col(Recipient.id) == rita) == 0
    assert _count(Appointment, col(Appointment.id) == booked.id) == 0
    assert _count(OutboxMessage, col(OutboxMessage.to_addr) == 'rita@example.org') == 0
    assert _count(PasswordToken, col(PasswordToken.user_id) == user_id) == 0
    assert _count(PortalAccount, col(PortalAccount.email) == 'rita@example.org') == 0
    assert _count(User, col(User.email) == 'rita@example.org') == 0
    with session_scope(read_only=True) as session:
        assert session.get(ClinicSlot, booked_slot).booked == slot_before - 1  # the place is free again
    [event] = _audit('recipient_removed')
    assert event.entity_id == str(rita) and 'Loaded twice by the clinic' in event.detail and 'case 42' in event.detail
    assert 'Rita Removal' in event.detail and event.actor_email == fx.ADMIN
    # the address can be loaded again: a new login and a new welcome email
    again = fx.invite('Rita', 'Removal', BORN, 'rita@example.org')
    assert _count(OutboxMessage, col(OutboxMessage.dedupe_key) == f'welcome:recipient:{again}') == 1


def test_the_household_login_stays_while_someone_remains(demo) -> None:  # noqa: ANN001
    admin = fx.principal(fx.ADMIN)
    first = fx.invite('Hugo', 'Household', BORN, 'home@example.org')  # welcome email with the link
    second = fx.invite('Hana', 'Household', date(2010, 1, 2), 'home@example.org')  # household email
    preview = removal.removal_preview(principal=admin, recipient_id=first)
    assert preview.household_others == ['Hana Household'] and not preview.login_closes
    outcome = removal.remove_recipient(principal=admin, recipient_id=first, reason='Not a patient of ours')
    assert not outcome.login_closed
    # the welcome email carries the household's set-password link: kept for Hana
    assert _count(OutboxMessage, col(OutboxMessage.dedupe_key) == f'welcome:recipient:{first}') == 1
    assert _count(PortalAccount, col(PortalAccount.email) == 'home@example.org') == 1
    outcome = removal.remove_recipient(principal=admin, recipient_id=second, reason='Not a patient of ours')
    assert outcome.login_closed
    assert _count(OutboxMessage, col(OutboxMessage.to_addr) == 'home@example.org') == 0
    assert _count(User, col(User.email) == 'home@example.org') == 0


def test_a_removal_for_a_person_with_doses_cannot_delete_them(demo) -> None:  # noqa: ANN001
    admin = fx.principal(fx.ADMIN)
    dora = fx.recipient('Dora', 'Dosed', born=BORN)
    dose = _dose_for(dora)
    preview = removal.removal_preview(principal=admin, recipient_id=dora)
    assert not preview.may_delete and 'never deleted' in preview.why_not_delete
    assert [d.administration_id for d in preview.doses] == [dose]
    with pytest.raises(ServiceError) as refused:
        removal.remove_recipient(principal=admin, recipient_id=dora, reason='Asked to be removed', case_id=7)
    assert 'Dora Dosed has 1 recorded dose' in str(refused.value) and 'Mark it inactive' in str(refused.value)
    assert _count(Recipient, col(Recipient.id) == dora) == 1
    assert _count(Administration, col(Administration.recipient_id) == dora) == 1
    assert _audit('recipient_removed') == []


def test_a_removal_case_for_a_person_with_doses_cannot_delete_them(demo) -> None:  # noqa: ANN001
    """The whole path: the location's Request removal opens a "Remove a recipient" case; the agent working it
    cannot delete a person with a dose, and marks the record inactive instead, on the case."""
    agent = fx.help_desk_agent()
    dora = fx.recipient('Dora', 'Casework', born=BORN)
    _dose_for(dora)
    number = listing.request_removal(principal=fx.principal(fx.MANAGER), recipient_id=dora,
                                     reason='Loaded twice, please remove')
    case_id = cases.case_id_of(principal=agent, number=number)
    view = cases.case_view(principal=agent, case_id=case_id)
    assert view.summary.request_type == cases.RequestType.REMOVE_RECIPIENT and view.recipient_id == dora
    preview = removal.removal_preview(principal=agent, recipient_id=view.recipient_id)
    assert not preview.may_delete and len(preview.doses) == 1
    with pytest.raises(ServiceError, match='never deleted'):
        removal.remove_recipient(principal=agent, recipient_id=dora, reason='As the provider asked', case_id=case_id)
    assert _count(Recipient, col(Recipient.id) == dora) == 1
    removal.mark_inactive(principal=agent, recipient_id=dora, reason='Has a dose: kept, inactive', case_id=case_id)
    [event] = _audit('recipient_marked_inactive')
    assert f'case {case_id}' in event.detail and event.actor_email == fx.AGENT
    assert not any(r.id == dora for r in listing.list_recipients(principal=fx.principal(fx.MANAGER),
                                                                 search='Dora Casework').rows)


def test_only_the_help_desk_and_state_admins_change_records(demo) -> None:  # noqa: ANN001
    person = fx.recipient('Nora', 'Notyours', born=BORN)
    for email in (fx.MANAGER, fx.PROVIDER, fx.EMPLOYER, fx.RECIPIENT):
        who = fx.principal(email)
        for call in (lambda: removal.removal_preview(principal=who, recipient_id=person),
                     lambda: removal.remove_recipient(principal=who, recipient_id=person, reason='Just because'),
                     lambda: removal.mark_inactive(principal=who, recipient_id=person, reason='Just because')):
            with pytest.raises(NotAllowed):
                call()
    assert _count(Recipient, col(Recipient.id) == person) == 1


def test_a_merge_moves_doses_appointments_and_login_to_the_survivor_and_is_explained(demo) -> None:  # noqa: ANN001
    admin = fx.principal(fx.ADMIN)
    survivor = fx.recipient('Katherine', 'Merger', born=BORN)
    source = fx.invite('Katherin', 'Merger', BORN, 'kate@example.org')  # a typo, loaded by another file
    dose = _dose_for(source)
    next_visit = fx.appointment(_bookable('Second Vaccine'), source)
    with pytest.raises(ServiceError, match='do not look like the same person'):
        removal.merge_recipients(principal=admin, source_id=source, reason='Same person',
                                 survivor_id=fx.recipient('Someone', 'Else', born=BORN))
    with pytest.raises(ValidationFailed):
        removal.merge_recipients(principal=admin, source_id=source, survivor_id=source, reason='Same person')
    preview = removal.removal_preview(principal=admin, recipient_id=source)
    assert survivor in [c.recipient_id for c in preview.merge_candidates]

    outcome = removal.merge_recipients(principal=admin, source_id=source, survivor_id=survivor,
                                       reason='Loaded twice, name misspelled', case_id=9)
    assert _count(Recipient, col(Recipient.id) == source) == 0
    assert _count(Administration, col(Administration.recipient_id) == survivor) == 1
    with session_scope(read_only=True) as session:
        assert session.get(Appointment, next_visit.id).recipient_id == survivor
        kept = session.get(Recipient, survivor)
        assert kept.portal_account_id is not None  # the person's login now holds the survivor
        account = session.get(PortalAccount, kept.portal_account_id)
        assert account.email == 'kate@example.org'
        merge = session.get(RecipientMerge, outcome.merge_id)
        assert json.loads(merge.source_json)['first_name'] == 'Katherin' and merge.case_id == 9
    assert dose in outcome.moved['administrations'] and next_visit.id in outcome.moved['appointments']
    [fact] = removal.merge_history(principal=admin, recipient_id=survivor)
    assert fact.source_name == 'Katherin Merger' and fact.reason == 'Loaded twice, name misspelled'
    assert 'same date of birth' in fact.same_person
    [event] = _audit('recipient_merged')
    assert event.entity_id == str(survivor) and f'merge {outcome.merge_id}' in event.detail
    # the person's portal sees one record with both visits
    assert [m.first_name for m in household_members.household(principal=fx.principal('kate@example.org'))] \
        == ['Katherine']


def test_same_person_accepts_a_typo_in_the_date_of_birth_only_with_the_same_names() -> None:
    def person(first: str, last: str, born: date) -> Recipient:
        return Recipient(first_name=first, last_name=last, date_of_birth=born, identity_key='-')
    assert 'typo' in removal.same_person(person('Ana', 'Cruz', date(1990, 3, 4)), person('Ana', 'Cruz',
                                                                                         date(1990, 4, 3)))
    assert removal.same_person(person('Ana', 'Cruz', date(1990, 3, 4)), person('Cruz', 'Ana', date(1990, 3, 4)))
    with pytest.raises(ServiceError):
        removal.same_person(person('Ana', 'Cruz', date(1990, 3, 4)), person('Ana', 'Cruz', date(1991, 4, 5)))
    with pytest.raises(ServiceError):
        removal.same_person(person('Ana', 'Cruz', date(1990, 3, 4)), person('Bob', 'Stone', date(1990, 3, 4)))


# ---------------------------------------------------------------- gone from every list and search

def _everywhere(first: str, last: str, born: date, household_email: str) -> dict[str, bool]:
    """Whether the person shows in each list and search of the system."""
    name = f'{first} {last}'

    def has(rows) -> bool:  # noqa: ANN001
        return any((r.first_name, r.last_name) == (first, last) for r in rows)

    admin, manager, provider = fx.principal(fx.ADMIN), fx.principal(fx.MANAGER), fx.principal(fx.PROVIDER)
    shows = {
        'recipients list (location)': has(listing.list_recipients(principal=manager, per_page=100).rows),
        'recipients search (location)': has(listing.list_recipients(principal=manager, search=name).rows),
        'recipients search (state)': has(listing.list_recipients(principal=admin, search=last).rows),
        'walk-in search': any(h.name == name for h in walkin.search_walk_in(principal=provider, name=last,
                                                                            date_of_birth=born)),
        'walk-in exact match': any(h.name == name for h in walkin.search_walk_in(principal=fx.manager_of('DEMO2'),
                                                                                 name=name, date_of_birth=born)),
        'walk-in duplicate search': any(p.name == name for p in walkin.similar_people(
            principal=provider, name=name, date_of_birth=born)),
        'appointments': any(a.recipient_name == name for a in scheduling.upcoming_appointments(
            principal=manager, location_id=fx.location_id())),
        "today's appointments": any(a.recipient_name == name for a in checkin.today_appointments(
            principal=provider)),
        'portal household': has(household_members.household(principal=fx.principal(household_email))),
        'dashboard household': has(dashboard.household(principal=fx.principal(household_email))),
    }
    return shows


@pytest.mark.parametrize('how', ['removed', 'inactive', 'merged away'])
def test_a_removed_recipient_is_gone_from_every_list_and_search(demo, how: str) -> None:  # noqa: ANN001
    admin = fx.principal(fx.ADMIN)
    product = fx.product(name='Listed Vaccine')
    fx.stocked_lot(product, doses=10)
    fx.today_session([product])
    first, last = 'Lena', 'Listed'
    person = fx.invite(first, last, BORN, 'lena@example.org')
    fx.invite('Lars', 'Listed', date(2012, 2, 3), 'lena@example.org')  # the household stays with Lars
    before = listing.list_recipients(principal=fx.principal(fx.MANAGER)).total
    scheduling.book_appointment(principal=fx.principal(fx.MANAGER), recipient_id=person,
                                slot_id=fx.first_slot(product), notify=False)
    assert all(_everywhere(first, last, BORN, 'lena@example.org').values()), \
        _everywhere(first, last, BORN, 'lena@example.org')

    if how == 'removed':
        removal.remove_recipient(principal=admin, recipient_id=person, reason='Loaded by mistake')
    elif how == 'inactive':
        _dose_for(person)
        removal.mark_inactive(principal=admin, recipient_id=person, reason='Moved out of state')
    else:
        survivor = fx.recipient('Lena', 'Listed-Other', born=BORN, code='DEMO2')
        removal.merge_recipients(principal=admin, source_id=person, survivor_id=survivor, reason='Same person')

    shows = _everywhere(first, last, BORN, 'lena@example.org')
    assert not any(shows.values()), {k: v for k, v in shows.items() if v}
    assert listing.list_recipients(principal=fx.principal(fx.MANAGER)).total == before - 1
    # the household's other person is still listed everywhere they were
    household = household_members.household(principal=fx.principal('lena@example.org'))
    assert [m.name for m in household] == (['Lars Listed', 'Lena Listed-Other'] if how == 'merged away'
                                           else ['Lars Listed'])  # a survivor without a login takes the person's
    if how == 'inactive':  # the record and its dose are kept
        assert _count(Recipient, col(Recipient.id) == person) == 1
        assert removal.removal_preview(principal=admin, recipient_id=person).inactive
        with pytest.raises(ServiceError, match='already marked inactive'):
            removal.mark_inactive(principal=admin, recipient_id=person, reason='Moved out of state')


def test_an_employers_invitation_list_leaves_out_inactive_records(demo) -> None:  # noqa: ANN001
    employer = fx.principal(fx.EMPLOYER)
    ivy, ike = fx.invited_by_employer([('Ivy', 'Invited', date(1990, 1, 1), 'ivy@example.org'),
                                       ('Ike', 'Invited', date(1990, 1, 2), 'ike@example.org')])
    removal.mark_inactive(principal=fx.principal(fx.ADMIN), recipient_id=ivy, reason='Left the company')
    assert {row.name for row in employers.invitations(principal=employer).rows} == {'Ike Invited'}
    assert {r.first_name for r in listing.list_recipients(principal=employer).rows} == {'Ike'}
    assert ike
