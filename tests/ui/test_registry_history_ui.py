"""The registry look-up at the desk (simulator over MLLP): Check-In shows doses given elsewhere and the next dose due
(Z42); Walk-In shows several candidates (Z31) or nobody (Z33); a silent registry says so and the desk goes on."""
from __future__ import annotations

from datetime import date

from nicegui.testing import User

from tests import factories as fx


async def _walk_in_search(user: User, name: str, born: str) -> None:
    user.find(marker='walk-in-name').type(name)
    user.find(marker='walk-in-dob').type(born).trigger('keydown.enter')


async def test_check_in_shows_doses_given_elsewhere_and_the_next_dose_due(demo, registry, user: User) -> None:
    product = fx.product(name='Test History Vaccine', interval=28)
    fx.stocked_lot(product, doses=5)
    fx.today_session([product])
    person = fx.recipient('Hana', 'History', born=date(1960, 4, 5))
    number = fx.appointment(product, person).case_number
    await fx.log_in(user, fx.PROVIDER)
    user.find(marker='confirmation-number').type(number).trigger('keydown.enter')
    await user.should_see('Hana History', retries=100)
    user.find(marker=f'registry-ask-{person}').click()
    await user.should_see('Doses given elsewhere', retries=100)
    await user.should_see('03/01/2025 · COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose · ELSEWHERE CLINIC')
    await user.should_see('Next dose of COVID-19: due 11/15/2025 (not before 11/01/2025)')
    user.find(marker='check-in-confirm').click()  # the desk carries on as before
    await user.should_see('Record vaccination', retries=100)


async def test_walk_in_shows_candidates_nobody_or_a_registry_out_of_reach(demo, registry, user: User) -> None:
    registry.by_family_name.update({'Candidate': 'Z31', 'Nobody': 'Z33', 'Silent': 'timeout'})
    candidate = fx.recipient('Cara', 'Candidate', born=date(1990, 1, 2))
    nobody = fx.recipient('Nora', 'Nobody', born=date(1991, 1, 2))
    silent = fx.recipient('Sam', 'Silent', born=date(1992, 1, 2))
    fx.stocked_lot(fx.product(), doses=5)
    await fx.log_in(user, fx.PROVIDER)
    await _walk_in_search(user, 'Candidate', '01/02/1990')
    await user.should_see('Cara Candidate', retries=100)
    user.find(marker=f'registry-ask-{candidate}').click()
    await user.should_see('Several people in the registry could be this person', retries=100)
    await user.should_see('Cara Ann Candidate · 01/02/1990 · 9 Elm Rd, Durham, NC')
    user.find(marker='registry-pick-2').click()  # the person confirms their address: asked again by that id
    await user.should_see('Doses given elsewhere', retries=100)
    assert registry.received[-1].split('\r')[1].split('|')[3].endswith('~IIS-1002^^^NCIR^SR')

    user.find(marker='walk-in-name').clear()
    user.find(marker='walk-in-dob').clear()
    await _walk_in_search(user, 'Nobody', '01/02/1991')
    await user.should_see('Nora Nobody', retries=100)
    user.find(marker=f'registry-ask-{nobody}').click()
    await user.should_see('The registry has no record of this person.', retries=100)

    user.find(marker='walk-in-name').clear()
    user.find(marker='walk-in-dob').clear()
    await _walk_in_search(user, 'Silent', '01/02/1992')
    await user.should_see('Sam Silent', retries=100)
    user.find(marker=f'registry-ask-{silent}').click()
    await user.should_see('The registry did not answer within 1 seconds. The desk works without it.', retries=100)
    user.find(marker=f'walk-in-{silent}').click()
    await user.should_see('Record vaccination', retries=100)


async def test_no_registry_no_button(demo, user: User) -> None:
    person = fx.recipient('Ann', 'Walker', born=date(1980, 5, 17))
    await fx.log_in(user, fx.PROVIDER)
    await _walk_in_search(user, 'walk', '05/17/1980')
    await user.should_see('Ann Walker', retries=100)
    await user.should_not_see('Registry history')
    await user.should_not_see(marker=f'registry-ask-{person}')
