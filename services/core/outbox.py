"""The Outbox screen's list: newest first, one page at a time, narrowed by recipient, subject, status and dates,
answering in milliseconds at a million emails (benchmarks/outbox_list.py).

How it stays fast: pages follow the id (newest first), never an OFFSET; a day range becomes an id range (ids grow
with `created_at`, which is set when the row is written), found by a binary search over the primary key; the
recipient and the subject match from their beginning, a range of their (column, id) index (migration
0014_outbox_list). A beginning that many emails share (more than BROAD of them) is read the other way round:
newest first along the primary key, keeping the matches, which finds a page of them after a few thousand rows
where sorting all the matches of the index range would read hundreds of thousands."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import Session, col, select

from models import OutboxAttachment, OutboxMessage, OutboxMessagePublic
from services.core import localtime, mail
from services.core.db import session_scope
from services.core.settings import get_settings
from services.permissions import Action, require
from services.principal import Principal

STATUSES = ('pending', 'sending', 'sent', 'failed')
PER_PAGE = 25
MAX_PER_PAGE = 100
BROAD = 1000  # more matches than this in an index range: walk the newest emails instead of sorting the range
_TOP = '\U0010ffff'  # sorts after every character: `prefix <= x < prefix + _TOP` is "starts with prefix"


@dataclass(frozen=True)
class OutboxPage:
    rows: list[OutboxMessagePublic]
    older: int | None  # the cursor of the next (older) page, None on the last one


def list_outbox(*, principal: Principal | None, recipient: str = '', subject: str = '', status: str = '',
                sent_from: date | None = None, sent_to: date | None = None, before_id: int | None = None,
                per_page: int = PER_PAGE) -> OutboxPage:
    """A page of the outbox, newest first. `recipient` matches the start of the address (case-insensitive, as
    addresses are stored in lower case), `subject` the start of the subject (as typed, or with its first letter
    capitalized), `status` exactly; `sent_from` / `sent_to` are days in the state's time zone (inclusive) on
    which the email was written; `before_id` is the cursor a previous page returned as `older`."""
    require(principal, Action.VIEW_OUTBOX)
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    recipient, subject = recipient.strip().lower(), subject.strip()
    with session_scope(read_only=True) as session:
        where: list[ColumnElement[bool]] = []
        if status:
            where.append(col(OutboxMessage.status) == status)
        low, high = _id_range(session, sent_from, sent_to)
        if low is not None:
            where.append(col(OutboxMessage.id) >= low)
        if high is not None:
            where.append(col(OutboxMessage.id) < high)
        if before_id is not None:
            where.append(col(OutboxMessage.id) < before_id)
        prefixes = []
        if recipient:
            prefixes.append(_Prefix(col(OutboxMessage.to_addr), [recipient]))
        if subject:
            prefixes.append(_Prefix(col(OutboxMessage.subject), sorted({subject, subject[:1].upper() + subject[1:]})))
        narrow = next((p for p in prefixes if p.matches_at_most(session, BROAD)), None)
        for prefix in prefixes:
            where.append(prefix.indexed() if prefix is narrow else prefix.scanned())
        query = select(OutboxMessage).where(*where).order_by(col(OutboxMessage.id).desc()).limit(per_page + 1)
        messages = list(session.exec(query))
        older = messages[per_page - 1].id if len(messages) > per_page else None
        messages = messages[:per_page]
        names: dict[int, list[str]] = {}
        if messages:
            for message_id, filename in session.exec(
                    select(OutboxAttachment.message_id, OutboxAttachment.filename)
                    .where(col(OutboxAttachment.message_id).in_([m.id for m in messages]))):
                names.setdefault(message_id, []).append(filename)
        # Without SMTP the outbox is the only way an email reaches anyone (the demo): its links show until it is
        # sent (services/core/mail.body_as_sent). Sent or given-up messages keep no link at all.
        shown = (lambda m: m.body_text) if get_settings().smtp_configured else mail.body_as_sent
        return OutboxPage(rows=[OutboxMessagePublic(**{**m.model_dump(), 'body_text': shown(m)},
                                                    attachment_names=names.get(m.id or 0, []))
                                for m in messages], older=older)


@dataclass(frozen=True)
class _Prefix:
    column: ColumnElement[str]
    starts: list[str]

    def indexed(self) -> ColumnElement[bool]:
        """Ranges of the column's index."""
        return or_(*(and_(self.column >= start, self.column < start + _TOP) for start in self.starts))

    def scanned(self) -> ColumnElement[bool]:
        """The same test on each row read, so that no database walks the column's index for it."""
        return or_(*(func.substr(self.column, 1, len(start)) == start for start in self.starts))

    def matches_at_most(self, session: Session, limit: int) -> bool:
        """Counting stops at limit + 1 entries of the index range: a millisecond however broad the match."""
        capped = select(OutboxMessage.id).where(self.indexed()).limit(limit + 1).subquery()
        return session.exec(select(func.count()).select_from(capped)).one() <= limit


def _id_range(session: Session, sent_from: date | None, sent_to: date | None) -> tuple[int | None, int | None]:
    """The ids written from the start of `sent_from` to the end of `sent_to` (state time zone)."""
    low = _first_id_at(session, localtime.day_span(sent_from)[0]) if sent_from else None
    high = _first_id_at(session, localtime.day_span(sent_to)[1]) if sent_to else None
    return low, high


def _first_id_at(session: Session, moment: datetime) -> int:
    """An id bound: the emails with ids at or above it were written at or after `moment`. A binary search over the
    primary key, about twenty look-ups at a million rows, where an index on created_at would cost every email of
    a bulk upload another B-tree insert."""
    low, high = session.exec(select(func.min(OutboxMessage.id), func.max(OutboxMessage.id))).one()
    if low is None or high is None:
        return 0
    high += 1
    while low < high:
        middle = (low + high) // 2
        # the first email at or after `middle` (ids may have gaps); one exists, as middle <= the largest id
        found_id, written = session.exec(select(OutboxMessage.id, OutboxMessage.created_at)
                                         .where(col(OutboxMessage.id) >= middle)
                                         .order_by(col(OutboxMessage.id)).limit(1)).one()
        if localtime.as_utc(written) < moment:
            low = (found_id or middle) + 1
        else:
            high = middle  # no id between middle and found_id exists: the bound may sit at either
    return low
