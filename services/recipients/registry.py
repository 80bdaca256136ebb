"""Creating a recipient: the field rules, then one person, one record (the identity key: first name, last name and
date of birth). Every single-record entry path calls `create_recipient` inside its own unit of work: the desk's
point-of-care registration, portal sign-up and household. Bulk Registration checks its rows with the same rules
and the same duplicate look-up (`registered_keys`), in chunks."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from models import Recipient
from services.core.errors import ValidationFailed
from services.core.fast_sql import fetch_in
from services.recipients.fields import DUPLICATE_PROBLEM, Problem, check_recipient, problems_text
from services.recipients.identity import identity_key

IDENTITY_FIELDS = ('first_name', 'last_name', 'date_of_birth')


class RecipientRefused(ValidationFailed):
    """The values break field rules; the message lists every problem in the reader's language."""

    def __init__(self, problems: list[Problem], lang: str | None = None) -> None:
        super().__init__(problems_text(problems, lang))
        self.problems = problems


class DuplicateRecipient(RecipientRefused):
    """This person (same first name, last name and date of birth) is registered already, anywhere."""

    def __init__(self, lang: str | None = None) -> None:
        super().__init__([DUPLICATE_PROBLEM], lang)


def create_recipient(*, session: Session, values: Mapping[str, object], source: str,
                     required: Iterable[str] = IDENTITY_FIELDS, location_id: int | None = None,
                     organization_id: int | None = None, portal_account_id: int | None = None,
                     created_by_user_id: int | None = None, lang: str | None = None,
                     today: date | None = None) -> Recipient:
    """Check the values (as typed: text, or a date for the date of birth) and add the recipient to the caller's
    unit of work. Raises RecipientRefused (every problem at once) or DuplicateRecipient."""
    checked = check_recipient(values, required={*IDENTITY_FIELDS, *required}, today=today)
    if checked.problems:
        raise RecipientRefused(checked.problems, lang)
    clean = checked.values
    first, last, born = str(clean['first_name']), str(clean['last_name']), clean['date_of_birth']
    assert isinstance(born, date)
    key = identity_key(first, last, born)
    if registered_keys(session, [key]):
        raise DuplicateRecipient(lang)
    # The folded name keys are set on insert (services.recipients.identity).
    recipient = Recipient(**{name: value for name, value in clean.items() if value is not None}, identity_key=key,
                          location_id=location_id, organization_id=organization_id, source=source,
                          portal_account_id=portal_account_id, created_by_user_id=created_by_user_id)
    try:
        with session.begin_nested():  # the same person registered at this very moment elsewhere
            session.add(recipient)
    except IntegrityError:
        raise DuplicateRecipient(lang) from None
    return recipient


def registered_keys(session: Session, keys: list[str]) -> set[str]:
    """The identity keys among `keys` that belong to a recipient already (any location, any organization)."""
    return {key for (key,) in fetch_in(session.connection(),
                                       'SELECT identity_key FROM recipient WHERE identity_key IN ({marks})', keys)}
