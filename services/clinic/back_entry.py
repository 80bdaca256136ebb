"""Back-entry of doses written on the paper "CVMS Recipient Administration" form during an outage, as a CSV
(or .xlsx) upload. It reads files with the Bulk Registration engine (services.bulk.files: encoding sniffing,
CSV/.xlsx rows, whole-file refusals, the formula-safe BulkError-style error file) and records each line with
the same service as the one-at-a-time screen (services.clinic.record_paper_administration), one transaction per
line, so a bad line never blocks the good ones."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from itertools import islice
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from models import Location, Recipient
from models.inventory import Lot, Product
from services.bulk.pipeline import FileLayout, FileRejected, error_report, records, sniff
from services.clinic.administration import ROUTES, SITES, DoseDetails, OverrideNeeded, record_paper_administration
from services.core import audit, mail
from services.core.db import session_scope
from services.core.errors import ServiceError
from services.core.localtime import local_moment, zone_of
from services.permissions import Action, Kind, require, scope
from services.principal import Principal
from services.recipients.dates import parse_date
from services.recipients.fields import name_problem, parse_date_of_birth, problems_text
from services.recipients.identity import identity_key

MAX_ROWS = 5000
MAX_FILE_BYTES = 5_000_000
TEMPLATE_HEADER = ['First name', 'Last name', 'Date of birth', 'Date given', 'Time given', 'Product', 'Lot number',
                   'Dose number', 'Site', 'Route', 'Dose volume (mL)', 'Reason', 'Override reason']
_KEYS = {'firstname': 'first', 'lastname': 'last', 'dateofbirth': 'dob', 'dob': 'dob', 'dategiven': 'date',
         'timegiven': 'time', 'product': 'product', 'cvx': 'product', 'lotnumber': 'lot', 'lot': 'lot',
         'dosenumber': 'dose', 'site': 'site', 'route': 'route', 'dosevolume(ml)': 'volume', 'dosevolume': 'volume',
         'volume': 'volume', 'reason': 'reason', 'overridereason': 'override'}
REQUIRED = ('first', 'last', 'dob', 'date', 'time', 'product', 'lot', 'site', 'route', 'volume')


@dataclass(frozen=True)
class BackEntryOutcome:
    loaded: int
    failed: int
    error_file: bytes | None  # the uploaded columns plus Error, for the failed lines only
    notices: list[str]


def template_csv() -> bytes:
    from services.core.csv_safe import to_csv_bytes
    return to_csv_bytes(TEMPLATE_HEADER, [['Grace', 'Wilms', '03/09/1961', '03/09/2021', '09:58', '207', 'MOD-001',
                                           '1', SITES[0], ROUTES[0], '0.5', 'Network outage', '']])


def _columns(header: list[str]) -> tuple[dict[str, int], list[str]]:
    columns: dict[str, int] = {}
    notices = []
    for position, name in enumerate(header):
        key = _KEYS.get(name.replace('\ufeff', '').replace(' ', '').replace('_', '').strip().casefold())
        if key and key not in columns:
            columns[key] = position
        elif name.strip() and name.strip().casefold() != 'error':
            notices.append(f'The column "{name.strip()}" is not part of the template and was ignored.')
    missing = [TEMPLATE_HEADER[i] for i, k in enumerate(('first', 'last', 'dob', 'date', 'time', 'product', 'lot',
                                                           'dose', 'site', 'route', 'volume'))
               if k in REQUIRED and k not in columns]
    if missing:
        raise FileRejected(f'The file is missing the column(s) {", ".join(missing)}. Use the back-entry template; '
                           'nothing was loaded.')
    return columns, notices


def load_file(*, principal: Principal, data: bytes | Path, file_name: str = 'upload.csv',
              email_errors: bool = True) -> BackEntryOutcome:
    """Record every line of a back-entry file at the user's location. Refuses the whole file for a bad header or
    too many lines; otherwise returns how many doses were recorded and an error file for the rest."""
    require(principal, Action.RECORD_VACCINATION, location_id=principal.location_id, check_location=True)
    kind, encoding = sniff(data)
    rows = records(data, FileLayout(kind=kind, encoding=encoding, header=[], columns={}, notices=[]), after_line=0)
    first = next(rows, None)
    if first is None:
        raise FileRejected('The file is empty.')
    header = first[1]
    columns, notices = _columns(header)
    body = list(islice(rows, MAX_ROWS + 1))  # stops reading at the limit
    if not body:
        raise FileRejected('The file has a header row but no doses.')
    if len(body) > MAX_ROWS:
        raise FileRejected(f'The file has more than {MAX_ROWS:,} lines; at most {MAX_ROWS:,} can be entered at once. '
                           'Split it into smaller files. Nothing was recorded.')
    with session_scope(read_only=True) as session:
        zone = zone_of(session.get(Location, principal.location_id))
    loaded, failed = 0, []
    for line, values in body:
        try:
            _load_line(principal, values, columns, zone)
            loaded += 1
        except ServiceError as error:
            failed.append((values, f'Line {line}: {error}'))
    error_file = error_report(header, failed) if failed else None
    if error_file and email_errors:
        with session_scope() as session:
            mail.enqueue(session, to=principal.email,
                         subject=f'Back-entry of paper doses: {len(failed)} line(s) need correcting',
                         body_text=(f'File: {file_name}\nDoses recorded: {loaded}\nLines that failed: {len(failed)}\n\n'
                                    'The attached file lists the failed lines with the reason in the Error column. '
                                    'Correct them, delete the Error column, and upload the file again.\n'),
                         attachments=[mail.Attachment('BackEntryError.csv', error_file)])
    return BackEntryOutcome(loaded=loaded, failed=len(failed), error_file=error_file, notices=notices)


def error_file_download(*, principal: Principal, outcome: BackEntryOutcome) -> bytes:
    """The error file of a back-entry load, for the person who loaded it; each download is audited."""
    require(principal, Action.RECORD_VACCINATION, location_id=principal.location_id, check_location=True)
    audit.record_now(action='download_back_entry_errors', actor=principal, entity_type='location',
                     entity_id=principal.location_id, detail=f'BackEntryError.csv, {outcome.failed} lines')
    return outcome.error_file or b''


def _cell(values: list[str], columns: dict[str, int], key: str) -> str:
    position = columns.get(key)
    return values[position].strip() if position is not None and position < len(values) else ''


def _load_line(principal: Principal, values: list[str], columns: dict[str, int], zone: ZoneInfo) -> None:
    cell = {key: _cell(values, columns, key) for key in _KEYS.values()}
    missing = [TEMPLATE_HEADER[i] for i, k in enumerate(('first', 'last', 'dob', 'date', 'time', 'product', 'lot',
                                                           'dose', 'site', 'route', 'volume'))
               if k in REQUIRED and not cell[k]]
    if missing:
        raise ServiceError(f'Required fields are missing: [{", ".join(missing)}]')
    born, problem = parse_date_of_birth(cell['dob'])
    problems = [p for p in (name_problem('first_name', cell['first']), name_problem('last_name', cell['last']), problem)
                if p]
    if problems:  # the recipient's own rules: the same message as when the person was registered
        raise ServiceError(problems_text(problems))
    try:
        given_at = local_moment(parse_date(cell['date'], label='date given'), time.fromisoformat(cell['time']), zone)
    except ValueError as error:
        raise ServiceError(f'Time given: use HH:MM (24-hour), not "{cell["time"]}".') from error
    try:
        volume = float(cell['volume'])
    except ValueError as error:
        raise ServiceError(f'Dose volume: a number of mL, not "{cell["volume"]}".') from error
    with session_scope(read_only=True) as session:
        recipient_id = session.exec(select(Recipient.id).where(
            Recipient.identity_key == identity_key(cell['first'], cell['last'], born))).first()
        if recipient_id is None:
            raise ServiceError(f'No registered recipient is named {cell["first"]} {cell["last"]}, born '
                               f'{born:%m/%d/%Y}. Register the person first (paper registration form).')
        lot = session.exec(scope(select(Lot), principal=principal, kind=Kind.LOT)
                           .join(Product, col(Product.id) == col(Lot.product_id))
                           .where(Lot.lot_number == cell['lot'])
                           .where((Product.cvx_code == cell['product']) | (Product.name == cell['product']))).first()
        if lot is None:
            raise ServiceError(f'Lot {cell["lot"]} of product {cell["product"]} is not known at your location. Use '
                               'the CVX code or the product name as in Vaccine Inventory.')
        lot_id = lot.id or 0
    details = DoseDetails(lot_id=lot_id, site=_choice(cell['site'], SITES, 'Site'),
                          route=_choice(cell['route'], ROUTES, 'Route'), dose_volume_ml=volume,
                          administered_at=given_at, backdate_reason=cell['reason'],
                          override_reason=cell['override'], expected_dose_number=_dose(cell))
    try:
        result = record_paper_administration(principal=principal, recipient_id=recipient_id, details=details,
                                             source='csv', named=(cell['first'], cell['last'], born))
    except OverrideNeeded as needed:
        raise ServiceError(' '.join(needed.problems) + ' Fill in "Override reason" to record it anyway.') from None
    assert result.administration_id


def _dose(cell: dict[str, str]) -> int | None:
    if not cell['dose']:
        return None
    if not cell['dose'].isdigit():
        raise ServiceError(f'Dose number: a whole number, not "{cell["dose"]}".')
    return int(cell['dose'])


def _choice(value: str, options: list[str], label: str) -> str:
    """Accept the screen's wording or a short form ('left deltoid', 'IM')."""
    folded = value.casefold()
    for option in options:
        if folded in (option.casefold(), option.split(' (')[0].casefold()) or f'({folded})' in option.casefold():
            return option
    raise ServiceError(f'{label}: "{value}" is not one of {", ".join(options)}.')
