"""The loaded-recipients list (Bulk Registration and Recipient tabs) and removal requests.

Search matches names as typed, accents and case aside, in any split of first and last name
(services.recipients.search), through the indexed folded name keys (range conditions on (location, name, other
name) indexes, so they answer at a million recipients); pages come sorted on an indexed column; the total comes
from the trigger-kept counts in `recipientcount`."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, not_, or_, union_all
from sqlmodel import col, select

from models import Location, Recipient, Role
from models.bulk import RecipientCount
from services.core import audit
from services.core.db import session_scope
from services.core.errors import ValidationFailed
from services.permissions import Action, Kind, can, fetch, require, scope, works_at
from services.principal import Principal
from services.recipients.search import name_branches
from services.recipients.visibility import inactive_count, listed

# Sort keys, each ending in id so pages are stable; the (location, ...) indexes hold them in this order (people by
# last then first name, as a list of people reads), so a page is an ordered index scan on SQLite and PostgreSQL.
SORTS = {'first_name': (Recipient.first_name_key, Recipient.last_name_key, Recipient.id),
         'last_name': (Recipient.last_name_key, Recipient.first_name_key, Recipient.id),
         'date_of_birth': (Recipient.date_of_birth, Recipient.id), 'email': (Recipient.email, Recipient.id)}
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class RecipientRow:
    id: int
    first_name: str
    last_name: str
    date_of_birth: str  # as the guide shows it: Jan 1, 1990
    email: str
    location: str


# A search's matches are counted up to this many; a broad search ("s") would otherwise count a large part of a
# million-row list on every keystroke. Past it, the page says "more than" and asks for a narrower search.
MATCH_COUNT_CAP = 1000


@dataclass(frozen=True)
class RecipientPage:
    total: int  # everyone in this list
    matching: int  # everyone the search matches, at most MATCH_COUNT_CAP + 1
    rows: list[RecipientRow]
    more_than: bool = False  # the search matches more than MATCH_COUNT_CAP: `matching` is a lower bound


def _scope(principal: Principal, query, location_id: int | None):  # noqa: ANN001, ANN202
    """The people this principal may see (permissions: location staff their location's, employers their invitees,
    state admins everyone), at one location when a state admin asks for one; never records marked inactive."""
    query = scope(query, principal=principal, kind=Kind.RECIPIENT).where(listed())
    return query.where(col(Recipient.location_id) == location_id) if location_id and principal.is_admin else query


def _disjoint(branches: list) -> list:
    """Each branch excluding the ones before it, so no one is counted or listed twice."""
    return [and_(b, not_(or_(*branches[:i]))) if i else b for i, b in enumerate(branches)]


def _total(session, principal: Principal, location_id: int | None) -> int:  # noqa: ANN001
    """Everyone in this person's list. A location's list (or the whole state's) adds up the trigger-kept counts per
    location (a few rows, not a count of a million); an employer's invitees are counted."""
    where = location_id if principal.is_admin else principal.location_id
    if not (principal.is_admin or works_at(principal, where)):
        return int(session.exec(select(func.count()).select_from(
            _scope(principal, select(Recipient.id), location_id).subquery())).one())
    query = select(func.coalesce(func.sum(RecipientCount.n), 0))
    if where:
        query = query.where(RecipientCount.location_id == where)
    return int(session.exec(query).one()) - inactive_count(session, location_id=where)


def _require_list(principal: Principal) -> None:
    if not (can(principal, Action.VIEW_RECIPIENTS) or can(principal, Action.BULK_UPLOAD)):
        require(principal, Action.VIEW_RECIPIENTS)


def list_recipients(*, principal: Principal, search: str = '', sort: str = 'last_name', descending: bool = False,
                    page: int = 1, per_page: int = 25, location_id: int | None = None) -> RecipientPage:
    _require_list(principal)
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, page)
    order = SORTS.get(sort, SORTS['last_name'])
    with session_scope(read_only=True) as session:
        if location_id is not None:
            fetch(session, Location, location_id, principal=principal, action=str(Action.VIEW_RECIPIENTS))
        total = _total(session, principal, location_id)
        branches = name_branches(search)
        if not branches:
            matching = total
            ids = _top_ids(session, principal, location_id, None, order, descending, page, per_page)
        else:
            # One index range per branch, each branch excluding the ones before it (so no one counts twice):
            # counts and the top rows of each come from the (location, name, name) indexes alone; a plain OR
            # made SQLite fetch and sort every matching row (1.3 s for "grace wilms" at a million).
            disjoint = _disjoint(branches)
            steered = _disjoint(name_branches(search, steer=True))  # the same people, read from the narrow range
            counts = []
            for branch in steered:  # each count stops at the cap: an index range of at most cap + 1 entries
                capped = _scope(principal, select(Recipient.id), location_id).where(branch) \
                    .limit(MATCH_COUNT_CAP + 1).subquery()
                counts.append(session.exec(select(func.count()).select_from(capped)).one())
            matching = min(sum(counts), MATCH_COUNT_CAP + 1)
            ids = None
            if sort == 'email' and matching > MATCH_COUNT_CAP:
                ids = _first_in_email_order(session, principal, location_id, search, descending, page, per_page)
            if ids is None:
                ids = _top_ids(session, principal, location_id, list(zip(disjoint, steered, counts, strict=True)),
                               order, descending, page, per_page)
        rows = session.exec(select(Recipient, Location.name)
                            .outerjoin(Location, col(Location.id) == col(Recipient.location_id))
                            .where(col(Recipient.id).in_(ids or [-1]))).all()
        position = {i: n for n, i in enumerate(ids)}
        rows = sorted(rows, key=lambda pair: position[pair[0].id])
        # Without a search `matching` is the exact total: nothing is capped, so nothing to warn about.
        more_than = bool(branches) and matching > MATCH_COUNT_CAP
        result = RecipientPage(total=total, matching=matching, more_than=more_than, rows=[
            RecipientRow(id=r.id or 0, first_name=r.first_name, last_name=r.last_name,
                         date_of_birth=f'{r.date_of_birth:%b} {r.date_of_birth.day}, {r.date_of_birth.year}',
                         email=r.email or '', location=name or '') for r, name in rows])
    # Who saw whom: the search and the people shown (their ids), one row per page viewed.
    audit.record_now(action='view_recipient_list', actor=principal, entity_type='location', entity_id=location_id,
                     detail=f'search {search.strip()[:100]!r}, page {page}: recipients '
                            + ','.join(str(r.id) for r in result.rows), subjects=[r.id for r in result.rows])
    return result


# How many people, in email order, a broad search sorted by email reads before it sorts its matches instead.
EMAIL_WALK = 5000


def _first_in_email_order(session, principal: Principal, location_id: int | None, text: str,  # noqa: ANN001
                          descending: bool, page: int, per_page: int) -> list[int] | None:
    """The page of a broad search sorted by email when the matches among the first EMAIL_WALK people in email
    order fill it: being the first in that order, they are the page. SQLite otherwise fetches and sorts every
    match (100 ms for "smi" at a million); a search whose matches sit late in email order (emails follow first
    names) gets None and is sorted."""
    columns = [col(Recipient.email), col(Recipient.id)]
    walked = _scope(principal, select(Recipient.id, Recipient.email, Recipient.first_name_key,
                                      Recipient.last_name_key), location_id) \
        .order_by(*[c.desc() for c in columns] if descending else columns).limit(EMAIL_WALK).subquery()
    keys = [walked.c.email, walked.c.id]
    wanted = (page - 1) * per_page + per_page
    ids = list(session.execute(
        select(walked.c.id).where(or_(*name_branches(text, first=walked.c.first_name_key,
                                                       last=walked.c.last_name_key)))
        .order_by(*[k.desc() for k in keys] if descending else keys).limit(wanted)).scalars())
    return ids[-per_page:] if len(ids) == wanted else None


def _top_ids(session, principal: Principal, location_id: int | None, branches: list[tuple] | None,  # noqa: ANN001
             order,  # noqa: ANN001
             descending: bool, page: int, per_page: int) -> list[int]:
    """Ids of the requested page, in order. With a search, `branches` holds (condition, the same steered to its
    narrow range, its count up to the cap + 1); each branch gives its own first page*per_page rows and the page is
    cut from their union. A branch with no match is left out; one with few matches gives them all, unordered, from
    its narrow range: asked for them in order, SQLite walks the sort column's index and filters (the whole list when
    the range is on the other name: 80 ms for "smi" at a million). One with many walks the sort column's index from
    its range (unsteered: with that range kept off the index, "mary ann smith" by last name took 90 ms).
    A broad search sorted by email or date of birth sorts its matches (about 120-270 ms at a million): walking the
    email index and filtering instead took seconds, as emails follow names."""
    def ordering(columns):  # noqa: ANN001, ANN202
        return [c.desc() for c in columns] if descending else list(columns)

    offset = (page - 1) * per_page
    keys = [col(c) for c in order]
    if not branches:
        query = _scope(principal, select(Recipient.id), location_id).order_by(*ordering(keys))
        return list(session.exec(query.offset(offset).limit(per_page)))
    labels = [f'k{i}' for i in range(len(keys) - 1)]  # the last key is id
    picked = [col(Recipient.id).label('id'), *[k.label(n) for k, n in zip(keys[:-1], labels, strict=True)]]
    parts = []
    for branch, steered, count in branches:
        if count == 0:
            continue
        if count > MATCH_COUNT_CAP:  # many matches: an ordered index scan finds the first ones quickly
            part = _scope(principal, select(*picked), location_id).where(branch) \
                .order_by(*ordering(keys)).limit(offset + per_page)
        else:  # the limit keeps it a subquery of its own (not flattened into the ordered union)
            part = _scope(principal, select(*picked), location_id).where(steered).limit(MATCH_COUNT_CAP + 1)
        parts.append(part.subquery())
    if not parts:
        return []
    hits = union_all(*[select(part.c.id, *[part.c[n] for n in labels]) for part in parts]).subquery()
    query = select(hits.c.id).order_by(*ordering([*[hits.c[n] for n in labels], hits.c.id])).offset(offset) \
        .limit(per_page)
    return list(session.execute(query).scalars())


def request_removal(*, principal: Principal, recipient_id: int, reason: str) -> str:
    """Loaded recipients cannot be deleted: this opens a "Remove a recipient" case for the state help desk
    (services.helpdesk.cases), whose agent removes the record or declines. Returns the case's number."""
    from services.helpdesk.cases import open_removal_case  # local import: the help desk builds on this module

    require(principal, Action.REQUEST_RECIPIENT_REMOVAL) if principal.role != Role.EMPLOYER \
        else require(principal, Action.BULK_UPLOAD)
    reason = reason.strip()
    if len(reason) < 5:
        raise ValidationFailed('Say why this recipient should be removed (at least a few words).')
    with session_scope() as session:
        recipient = fetch(session, Recipient, recipient_id, principal=principal, action='request_recipient_removal')
        case = open_removal_case(session, principal=principal, recipient=recipient, reason=reason[:2000],
                                 recipient_name=f'{recipient.first_name} {recipient.last_name}')
        audit.record(session, action='recipient_removal_requested', actor=principal, entity_type='recipient',
                     entity_id=recipient_id, detail=f'case={case.number}: {reason[:500]}')
        return case.number
