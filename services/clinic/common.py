"""What every desk module shares: the staff member's location, the screening questionnaire, change events."""
from __future__ import annotations

import json

from sqlmodel import Session

from models import Location
from services.clinic import events
from services.core.errors import NotFound, ServiceError
from services.principal import Principal

# The COVID-19 vaccination screening questionnaire of the paper registration form (answers: yes / no).
SCREENING_QUESTIONS = [
    ('feeling_sick', 'Are you feeling sick today?'),
    ('severe_allergy', 'Have you ever had a severe allergic reaction (e.g. anaphylaxis) to a vaccine, an injectable '
                       'medication or a component of the COVID-19 vaccine?'),
    ('other_vaccine_14_days', 'Have you received any other vaccine in the last 14 days?'),
    ('covid_90_days', 'Have you had COVID-19 or received antibody treatment for it in the last 90 days?'),
    ('bleeding_disorder', 'Do you have a bleeding disorder or take a blood thinner?'),
    ('immunocompromised', 'Do you have a weakened immune system or take medicine that weakens it?'),
    ('pregnant', 'Are you pregnant or breastfeeding?'),
]

# ---------------------------------------------------------------- helpers

def _location_of(session: Session, principal: Principal) -> Location:
    if principal.location_id is None:
        raise ServiceError('Your account is not attached to a location; the desk works for location staff.')
    location = session.get(Location, principal.location_id)
    if location is None:
        raise NotFound('Your location does not exist.')
    return location


def _screening_json(answers: dict[str, str] | None) -> str | None:
    if not answers:
        return None
    known = {key for key, _ in SCREENING_QUESTIONS}
    clean = {k: v for k, v in answers.items() if k in known and v in ('yes', 'no')}
    return json.dumps(clean, sort_keys=True)


def unanswered_screening(answers: dict[str, str]) -> list[str]:
    """The one rule for a complete screening: every question answered Yes or No. Returns the keys left, in order."""
    return [key for key, _ in SCREENING_QUESTIONS if answers.get(key) not in ('yes', 'no')]


def screening_answers(raw: str | None) -> dict[str, str]:
    return json.loads(raw) if raw else {}


def _changed(location_id: int | None) -> None:
    events.publish(location_id)

