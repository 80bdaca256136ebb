"""Recipient Bulk Upload: reading the file, the rules of every record, and loading them in bulk.

One pipeline for the Low Volume tab, the High Volume background job and the `import-recipients` command:
stream the rows (services.bulk.files: CSV in UTF-8, UTF-16 or Windows-1252, or .xlsx, within hard limits) →
stop at the row limit → check each record →
look duplicates up by their stored identity key in chunks → insert with SQLAlchemy Core (recipients, portal
accounts, password tokens, welcome emails) in one transaction per chunk.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

from sqlmodel import Session

from models import Recipient, RecipientSource, utcnow
from services.accounts.auth import normalize_email
from services.bulk import files
from services.bulk.files import FileRejected, sniff
from services.core.fast_sql import allocate_ids, insert_recipients
from services.portal.accounts import NewRecipient, accounts_for_emails, queue_welcome_emails
from services.recipients import fields
from services.recipients.fields import NAME_MAX
from services.recipients.identity import fold, identity_key
from services.recipients.registry import registered_keys

LOW_VOLUME_MAX = 100
TEMPLATE_HEADER = ['First name', 'Last name', 'Date of birth', 'Email']
FIELDS = ('first_name', 'last_name', 'date_of_birth', 'email')
COLUMN_TITLES = dict(zip(FIELDS, TEMPLATE_HEADER, strict=True))
HEADER_ALIASES = {'firstname': 'first_name', 'lastname': 'last_name', 'dateofbirth': 'date_of_birth',
                  'dob': 'date_of_birth', 'email': 'email', 'emailaddress': 'email'}
DUPLICATE = fields.DUPLICATE_PROBLEM.text()
RECIPIENT_COLUMNS = ('id', 'first_name', 'last_name', 'date_of_birth', 'email', 'identity_key', 'first_name_key',
                     'last_name_key', 'portal_account_id')


@dataclass
class FileLayout:
    """What the header row says, and how the file is read."""
    kind: str  # csv | xlsx
    encoding: str
    header: list[str]
    columns: dict[str, int]  # field -> position in the row
    notices: list[str]
    total: int = 0  # records (blank rows not counted)


@dataclass(slots=True)
class CheckedRow:
    """One record of the file after the rules: its original values and, if it failed, every reason."""
    line: int
    values: list[str]
    first_name: str
    last_name: str
    date_of_birth_text: str
    email: str
    date_of_birth: date | None = None
    key: str | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.errors

    @property
    def error(self) -> str:
        return '; '.join(f'Line {self.line}: {problem}' for problem in self.errors)


@dataclass(frozen=True)
class Target:
    """Where loaded recipients go: a location's list, or an employer's invitees."""
    location_id: int | None
    organization_id: int | None
    source: str = RecipientSource.BULK_UPLOAD


# ---------------------------------------------------------------- reading


def _raw_rows(source: bytes | Path, kind: str, encoding: str) -> Iterator[list[str]]:
    """Every row of the file as text cells, header first, streaming, within the limits of services.bulk.files."""
    return files.rows(source, kind, encoding)


def _header_key(name: str) -> str:
    return name.replace('\ufeff', '').replace(' ', '').replace('_', '').strip().casefold()


def read_layout(header: list[str], kind: str, encoding: str) -> FileLayout:
    columns: dict[str, int] = {}
    notices: list[str] = []
    for position, name in enumerate(header):
        key = _header_key(name)
        fieldname = HEADER_ALIASES.get(key)
        if fieldname and fieldname not in columns:
            columns[fieldname] = position
        elif key == 'error':
            notices.append('The Error column was ignored.')
        elif key:
            notices.append(f'The column "{name.strip()}" is not part of the template and was ignored.')
    missing = [COLUMN_TITLES[f] for f in FIELDS if f not in columns]
    if missing:
        names = ', '.join(f'"{m}"' for m in missing)
        raise FileRejected(f'The file is missing the required column{"s" if len(missing) > 1 else ""} {names}. '
                           'The first line must be the header: First name, Last name, Date of birth, Email. '
                           'Nothing was loaded.')
    return FileLayout(kind=kind, encoding=encoding, header=[h.replace('\ufeff', '') for h in header],
                      columns=columns, notices=notices)


def _is_blank(row: list[str]) -> bool:
    return all(not cell.strip() for cell in row)


def scan(source: bytes | Path, *, max_rows: int, too_many: str) -> FileLayout:
    """Check the header and count the records, so a file is refused as a whole before anything is loaded."""
    kind, encoding = sniff(source)
    rows = _raw_rows(source, kind, encoding)
    header = next(rows, None)
    if header is None or _is_blank(header):
        raise FileRejected('The file has no header row. The first line must be: First name, Last name, '
                           'Date of birth, Email.')
    layout = read_layout(header, kind, encoding)
    total = 0
    for row in rows:
        if not _is_blank(row):
            total += 1
            if total > max_rows:
                raise FileRejected(too_many)
    if total == 0:
        raise FileRejected('The file has a header row but no records. Add one line per recipient below the header.')
    layout.total = total
    return layout


def records(source: bytes | Path, layout: FileLayout, *, after_line: int = 1) -> Iterator[tuple[int, list[str]]]:
    """(spreadsheet line, cells) of each non-blank record after `after_line` (the header is line 1)."""
    for line, row in enumerate(_raw_rows(source, layout.kind, layout.encoding), start=1):
        if line > after_line and not _is_blank(row):
            yield line, row


# ---------------------------------------------------------------- the rules of one record


def check_row(line: int, values: list[str], columns: dict[str, int], today: date) -> CheckedRow:
    """Every rule of one record except duplicates (those need the database and the rows before it)."""
    def cell(name: str) -> str:
        position = columns[name]
        return values[position].strip() if position < len(values) else ''

    row = CheckedRow(line=line, values=values, first_name=fields.clean_text(cell('first_name')),
                     last_name=fields.clean_text(cell('last_name')), date_of_birth_text=cell('date_of_birth'),
                     email=cell('email'))
    fill_checks(row, today)
    return row


def fill_checks(row: CheckedRow, today: date) -> None:
    """The recipient module's field rules (services.recipients.fields), called one by one: the same rules and
    messages as every other entry path, without building a record per row."""
    given = (row.first_name, row.last_name, row.date_of_birth_text, row.email)
    errors = row.errors
    errors.clear()
    if not all(given):
        errors.append(fields.missing_problem(f for f, value in zip(FIELDS, given, strict=True) if not value).text())
    names_ok = True
    for fieldname, value in (('first_name', row.first_name), ('last_name', row.last_name)):
        if value and (problem := fields.name_problem(fieldname, value)):
            errors.append(problem.text())
            names_ok = False
    row.date_of_birth = None
    if row.date_of_birth_text:
        row.date_of_birth, problem = fields.parse_date_of_birth(row.date_of_birth_text, today)
        if problem:
            errors.append(problem.text())
    if row.email and (problem := fields.email_address_problem(row.email)):
        errors.append(problem.text())
    row.key = None
    if names_ok and row.first_name and row.last_name and row.date_of_birth is not None:
        key = identity_key(row.first_name, row.last_name, row.date_of_birth)
        if problem := fields.identity_key_problem(row.first_name, key):
            errors.append(problem.text())
        else:
            row.key = key


# ---------------------------------------------------------------- loading


def mark_duplicates(session: Session, rows: list[CheckedRow], seen: set[str]) -> None:
    """Add the duplicate reason to rows whose person exists already or appeared in an earlier ready row.
    `seen` carries the identity keys of ready rows across the chunks of one file. Rows marked by an earlier,
    rolled-back attempt are marked again from scratch."""
    in_db = registered_keys(session, [r.key for r in rows if r.key])
    for row in rows:
        if row.key is None:
            continue
        if row.errors and row.errors[-1] == DUPLICATE:
            row.errors.pop()
        if row.key in in_db or row.key in seen:
            row.errors.append(DUPLICATE)
        elif row.ready:
            seen.add(row.key)


def insert_ready(session: Session, rows: list[CheckedRow], target: Target, *, created_by_user_id: int | None) -> int:
    """Insert the ready rows (Core, one statement per table) with their portal accounts and welcome emails.
    A concurrent upload of the same person makes the unique identity key fail the whole unit of work,
    which the caller retries (the retry then sees the person as a duplicate)."""
    ready = [r for r in rows if r.ready]
    if not ready:
        return 0
    accounts, created_users = accounts_for_emails(
        session, [(r.email, f'{r.first_name} {r.last_name}') for r in ready])
    conn = session.connection()
    ids = allocate_ids(conn, Recipient.__table__, len(ready))
    rows = [(i, r.first_name, r.last_name, r.date_of_birth, r.email, r.key, *_name_keys(r),
             accounts.get(normalize_email(r.email))) for i, r in zip(ids, ready, strict=True)]
    # In identity-key order (first name first): the unique key, first_name_key and (location, first name, ...)
    # indexes then take the chunk as one sequential pass instead of random page visits; ids keep the file's order.
    rows.sort(key=_identity_of)
    insert_recipients(conn, Recipient.__table__, RECIPIENT_COLUMNS, rows, constants={
        'location_id': target.location_id, 'organization_id': target.organization_id, 'source': target.source,
        'created_by_user_id': created_by_user_id, 'created_at': utcnow()})
    people = [NewRecipient(recipient_id=i, first_name=r.first_name, last_name=r.last_name, email=r.email)
              for i, r in zip(ids, ready, strict=True)]
    queue_welcome_emails(session, people, accounts, created_users)
    return len(ready)


_fold_name = lru_cache(maxsize=65536)(fold)  # last names repeat across a file


def _name_keys(row: CheckedRow) -> tuple[str, str]:
    """(first_name_key, last_name_key): the identity key is fold(first) + '|' + fold(last) + '|' + the ISO date
    (10 characters), so the folded first name is the key's head once the folded last name is known."""
    last = _fold_name(row.last_name)
    key = row.key or ''
    return key[:len(key) - len(last) - 12][:NAME_MAX], last[:NAME_MAX]


def _identity_of(row: tuple) -> str:
    return row[5]


def error_report(header: list[str], failed: list[tuple[list[str], str]]) -> bytes:
    """BulkError.csv: the uploaded columns under their own names, then Error; formula-safe; opens in Excel."""
    from services.core.csv_safe import to_csv_bytes

    keep = [i for i, name in enumerate(header) if _header_key(name) != 'error']
    width = len(header)

    def row(values: list[str], error: str) -> list[str]:
        padded = values + [''] * (width - len(values))
        return [padded[i] for i in keep] + [error]

    return to_csv_bytes([header[i] for i in keep] + ['Error'], (row(v, e) for v, e in failed))
