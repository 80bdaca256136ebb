"""Which recipients lists and searches show: everyone but the records the help desk marked inactive (removed and
merged-away records no longer exist). The one condition every list of people, appointments and doses adds, beside
its row scope (services.permissions says who may see a record; this says whether lists still show it)."""
from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlmodel import col, func, select

from models import Recipient
from models.recipient_records import InactiveRecipient


def listed(recipient_id=None) -> ColumnElement[bool]:  # noqa: ANN001 - a model column holding a recipient id
    """The recipient (by default the recipient table's row; else the record whose `recipient_id` column is given)
    is not marked inactive. A NOT IN over the small inactive table: read once per query on SQLite and PostgreSQL."""
    column = col(Recipient.id) if recipient_id is None else col(recipient_id)
    return column.not_in(select(InactiveRecipient.recipient_id))


def inactive_count(session, *, location_id: int | None) -> int:  # noqa: ANN001 - a Session
    """How many inactive records a location holds (every location's with None): the trigger-kept totals of
    `recipientcount` still count them."""
    query = select(func.count()).select_from(InactiveRecipient)
    if location_id:
        query = query.where(col(InactiveRecipient.location_id) == location_id)
    return int(session.exec(query).one())
