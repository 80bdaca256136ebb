"""The Outbox screen's list: newest first, one page at a time, narrowed by recipient, subject, status and dates,
answering in milliseconds at a million emails (benchmarks/outbox_list.py).

How it stays fast: pages follow the id (newest first), never an OFFSET; a day range becomes an id range (ids grow
with `created_at`, which is set when the row is written), found by a search over the primary key; the recipient
and the subject match from their beginning, a range of their (column, id) index (migration 0018_outbox_list),
read for ids only. A beginning with fewer emails than a page is read from its index range at once; any other is
looked for among the newest WINDOW emails first, where a page of common matches is found at once, and what they
held decides between walking on along the primary key and reading the index ranges (`_page_ids`)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, bindparam, func, or_
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
WINDOW = 5_000  # how many of the newest emails are read first for a beginning shared by more emails than a page
WALK = 100_000  # how many more a walk along the primary key may read when the newest held matches, but too few
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
        ids = _page_ids(session, where, status, prefixes, per_page + 1, before=min(
            (bound for bound in (before_id, high) if bound is not None), default=None))
        messages = sorted(session.exec(select(OutboxMessage).where(col(OutboxMessage.id).in_(ids or [-1]))),
                          key=lambda m: -(m.id or 0))
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


def _page_ids(session: Session, where: list[ColumnElement[bool]], status: str, prefixes: list[_Prefix],
              limit: int, before: int | None) -> list[int]:
    """The ids of a page. Only ids are read until the page is known: an index range then needs no table row.

    Two plans, and a cost choice between them. Walking the primary key down from `before` costs the rows walked until
    a page of matches is found; reading the index ranges and sorting what they hold costs the matches (on PostgreSQL
    a table visit each, unless the table was vacuumed). Left to itself, PostgreSQL walked, guessing the matches spread
    evenly: 400-550 ms for a beginning whose 9,000 emails are all older than the newest 800,000. So:
    - a beginning with fewer emails than a page: its index range (found by counting at most a page of entries), the
      rest tested on those few rows: SQLite, which keeps no statistics, took an equal status for the narrower index
      and read every sent email (500-600 ms for a full address + sent);
    - otherwise the newest WINDOW emails first, where a page of common matches is found at once;
    - too few there, but some: as dense further on, WALK more rows would fill the page? Then they are walked (bounded,
      so a wrong guess costs at most WALK rows);
    - none there, or too sparse (the matches bunched among older emails, or the filters together rare): the index
      ranges, where PostgreSQL combines the beginnings' and the status's indexes and visits only the emails that
      pass them all (a broad recipient + "Reset" + failed: a few hundred visits, not the recipient's 80,000)."""
    status_is = [col(OutboxMessage.status) == status] if status else []
    status_tested = [col(OutboxMessage.status).concat('') == status] if status else []  # no index serves it

    def top(conditions: list[ColumnElement[bool]], *, by_index: bool = False, count: int = limit) -> list[int]:
        # by_index: the matches are read from the indexes and only then sorted. `id + 0` is the same order that no
        # index provides, so no database walks the primary key for it.
        order = (col(OutboxMessage.id) + 0).desc() if by_index else col(OutboxMessage.id).desc()
        query = select(OutboxMessage.id).where(*where, *conditions).order_by(order)
        return list(session.exec(query.limit(count)))

    if not prefixes:
        return top(status_is)
    narrow = next((p for p in prefixes if p.matches_at_most(session, limit)), None)
    if narrow is not None:
        return top([narrow.indexed(), *(p.scanned() for p in prefixes if p is not narrow), *status_tested],
                   by_index=True)
    if before is None:
        before = (session.exec(select(func.max(OutboxMessage.id))).one() or 0) + 1
    scanned = [p.scanned() for p in prefixes]  # tested on each row walked: no database reads an index range for them
    ids = top([col(OutboxMessage.id) >= before - WINDOW, *scanned, *status_is])
    found = len(ids)
    if found and found < limit and (limit - found) * WINDOW <= found * WALK:
        ids += top([col(OutboxMessage.id) >= before - WINDOW - WALK, col(OutboxMessage.id) < before - WINDOW,
                    *scanned, *status_is], count=limit - found)
    return ids if len(ids) >= limit else top([*(p.indexed() for p in prefixes), *status_is], by_index=True)


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
        """Counting stops at limit + 1 entries of the index range (or rows read): a millisecond however broad."""
        capped = select(OutboxMessage.id).where(self.indexed()).limit(limit + 1).subquery()
        return session.exec(select(func.count()).select_from(capped)).one() <= limit


def _id_range(session: Session, sent_from: date | None, sent_to: date | None) -> tuple[int | None, int | None]:
    """The ids written from the start of `sent_from` to the end of `sent_to` (state time zone)."""
    low = _first_id_at(session, localtime.day_span(sent_from)[0]) if sent_from else None
    high = _first_id_at(session, localtime.day_span(sent_to)[1]) if sent_to else None
    return low, high


def _first_id_at(session: Session, moment: datetime) -> int:
    """An id bound: the emails with ids at or above it were written at or after `moment`. Ids grow with the
    time they were written, nearly evenly, so an interpolation search finds it in a few primary-key look-ups
    (bisection takes over if it does not narrow), where an index on created_at would cost every email of a bulk
    upload another B-tree insert."""
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    connection = session.connection()  # Core: each look-up a fraction of a millisecond
    # the first email at or after an id (ids may have gaps) and when it was written
    probe = select(table.c.id, table.c.created_at).where(table.c.id >= bindparam('at')).order_by(table.c.id).limit(1)
    first = connection.execute(probe, {'at': 0}).first()
    last = connection.execute(select(table.c.id, table.c.created_at).order_by(table.c.id.desc()).limit(1)).first()
    if first is None or last is None:
        return 0
    low, high = first[0], last[0] + 1  # the bound is in [low, high]
    low_at, high_at = localtime.as_utc(first[1]), localtime.as_utc(last[1])
    if low_at >= moment:
        return low
    if high_at < moment:
        return high
    for step in range(64):
        if low >= high:
            break
        middle = (low + high) // 2
        if step < 8 and high_at > low_at:
            share = (moment - low_at) / (high_at - low_at)
            middle = min(high - 1, max(low, low + int(share * (high - low))))
        found_id, written = connection.execute(probe, {'at': middle}).one()  # one exists: middle <= the largest id
        written = localtime.as_utc(written)
        if written < moment:
            low, low_at = found_id + 1, written
        else:
            high, high_at = middle, written  # no id between middle and found_id exists: the bound may sit at either
    return low
