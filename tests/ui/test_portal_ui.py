"""The recipient portal in the simulated browser: home, registration with Pause, household, Spanish."""
from __future__ import annotations

from nicegui import ui
from nicegui.testing import User

from tests.helpers import RECIPIENT, log_in


async def test_portal_home_shows_status_and_household(demo, user: User) -> None:
    await log_in(user, RECIPIENT)
    await user.should_see('Vaccine Program Status')
    await user.should_see('Not Enrolled')
    await user.should_see('Grace Wilms')
    await user.should_see('Your household')


CONTACT = {'address_line1': '12 Oak Street', 'city': 'Raleigh', 'county': 'Wake', 'zip_code': '27603',
           'phone': '919-555-0100', 'sex': 'female', 'race': 'white', 'ethnicity': 'not_hispanic',
           'preferred_language': 'en'}


def set_value(user: User, marker: str, value: object) -> None:
    user.find(marker=marker).elements.pop().set_value(value)


async def fill_contact(user: User) -> None:
    for name, value in CONTACT.items():
        set_value(user, f'contact-{name}', value)


async def click(user: User, label: str) -> None:
    user.find(kind=ui.button, content=label).click()


async def test_portal_registration_pause_and_resume(demo, user: User) -> None:
    await log_in(user, RECIPIENT)
    await user.open('/portal/registration')
    await user.should_see('Vaccine Registration for: Grace Wilms')
    user.find(marker='registration-next-0').click()
    await user.should_see('Street address')
    await fill_contact(user)
    user.find(marker='registration-next-1').click()
    await user.should_see('Are you 65 years of age or older?', retries=50)
    set_value(user, 'question-age_65', 'yes')
    user.find(marker='registration-pause-2').click()
    await user.should_see('You paused your registration', retries=50)
    # Back later: the portal asks to review what was kept, then continues at the same step.
    await user.open('/portal/registration')
    await user.should_see('Welcome back. Review what you entered and continue.')
    await user.should_see('Street address: 12 Oak Street')
    await user.should_see('County: Wake')
    await user.should_see('Are you 65 years of age or older? Yes')
    await click(user, 'Continue')
    await user.should_see('Answer a few questions to find your vaccine group.', retries=50)
    user.find(marker='registration-next-2').click()
    await user.should_see('Are you feeling sick today?', retries=50)
    set_value(user, 'question-sick_today', 'no')
    user.find(marker='registration-next-3').click()
    await user.should_see('Your registration is complete', retries=50)
    await user.should_see('registration does not mean that you are currently eligible', retries=5)
    await user.should_see('Group 2: Older adults (65 years and older)')
    await user.open('/portal')
    await user.should_see('Enrolled')
