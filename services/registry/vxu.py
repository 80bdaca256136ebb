"""One HL7 v2.5.1 VXU^V04 message per dose event, as the CDC Implementation Guide for Immunization Messaging
(release 1.5) and the NIST Z22 profile ask: MSH, PID, (PD1), ORC, RXA, RXR and the funding OBX segments.

`build` is pure text work over records already read; `escape` makes any stored text safe inside a field.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from models import Location, Recipient, User
from models.clinic import Administration
from models.inventory import Lot, Product
from models.registry import RegistryAction
from services.core.localtime import as_utc, zone_of
from services.core.settings import get_settings
from services.registry import codes

SEGMENT_END = '\r'
_ESCAPES = (('\\', '\\E\\'), ('|', '\\F\\'), ('^', '\\S\\'), ('&', '\\T\\'), ('~', '\\R\\'))


@dataclass(frozen=True)
class DoseEvent:
    """What one message reports: the dose as recorded, the person, where and by whom, and what happened to it."""
    administration: Administration
    recipient: Recipient
    product: Product
    lot: Lot
    location: Location
    administered_by: User | None
    action: RegistryAction
    filler_order_id: int  # ORC-3: the first record of this dose
    control_id: str  # MSH-10
    created_at: datetime
    guardian: Recipient | None = None  # NK1: the parent or guardian of a minor (the household's adult)


def build(event: DoseEvent) -> str:
    """The VXU message text, segments ended by carriage returns."""
    settings = get_settings()
    local = zone_of(event.location)
    segments = [
        _segment('MSH', '^~\\&', settings.iis_sending_application, settings.iis_sending_facility,
                 settings.iis_receiving_application, settings.iis_receiving_facility,
                 _timestamp(event.created_at, local), '', 'VXU^V04^VXU_V04', event.control_id,
                 settings.iis_processing_id, '2.5.1', '', '', 'ER', 'AL', '', '', '', '', 'Z22^CDCPHINVS',
                 ),
        _pid(event.recipient),
        *([_nk1(event.guardian)] if event.guardian is not None else []),
        _segment('ORC', 'RE', '', f'{event.filler_order_id}^{_escaped(settings.iis_assigning_authority)}'),
        _rxa(event, local),
    ]
    if event.action != RegistryAction.DELETE:
        segments.append(_rxr(event.administration))
        segments.extend(_funding(event.administration, local))
    return SEGMENT_END.join(segments) + SEGMENT_END


def escape(text: str | None) -> str:
    """Text as an HL7 field component: the delimiters escaped, line breaks and control characters removed."""
    text = ''.join(ch if ch >= ' ' else ' ' for ch in (text or '')).strip()
    for plain, escaped in _ESCAPES:
        text = text.replace(plain, escaped)
    return text


# ---------------------------------------------------------------- segments

def build_pid_fields(person: Recipient) -> dict[str, str]:
    """The person as PID (and the history query's QPD) names them: id with assigning authority and type MR, legal
    name, birth date, sex, address and phone, each escaped."""
    settings = get_settings()
    address = ''
    if person.address_line1 or person.city or person.zip_code:
        address = (f'{_escaped(person.address_line1)}^^{_escaped(person.city)}^{_escaped(person.state)}'
                   f'^{_escaped(person.zip_code)}^USA^L')
    phone = ''
    digits = ''.join(ch for ch in person.phone or '' if ch.isdigit())[-10:]
    if len(digits) == 10:
        phone = f'^PRN^PH^^^{digits[:3]}^{digits[3:]}'
    return {'id': f'{person.id}^^^{_escaped(settings.iis_assigning_authority)}^MR',
            'name': f'{_escaped(person.last_name)}^{_escaped(person.first_name)}^^^^^L',
            'birth_date': f'{person.date_of_birth:%Y%m%d}', 'sex': person.sex or '', 'address': address,
            'phone': phone}


def _pid(person: Recipient) -> str:
    pid = build_pid_fields(person)
    return _segment('PID', '1', '', pid['id'], '', pid['name'], '', pid['birth_date'], pid['sex'], '',
                    _coded_race(person.race), pid['address'], '', pid['phone'], '', '', '', '', '', '', '', '',
                    _coded_ethnicity(person.ethnicity))


def _nk1(guardian: Recipient) -> str:
    """NK1-3 GRD: the portal knows who holds the household's account, not the kinship (HL7 table 0063)."""
    fields = build_pid_fields(guardian)
    return _segment('NK1', '1', fields['name'], 'GRD^Guardian^HL70063', fields['address'], fields['phone'])


def _rxa(event: DoseEvent, local) -> str:  # noqa: ANN001 - a tzinfo
    dose, product, lot = event.administration, event.product, event.lot
    given = _timestamp(as_utc(dose.administered_at), local)
    vaccine = f'{_escaped(product.cvx_code)}^{_escaped(product.name)}^CVX'
    if product.ndc:
        vaccine += f'^{_escaped(product.ndc)}^{_escaped(product.name)}^NDC'
    source = codes.HISTORICAL_RECORD if dose.source in ('paper', 'csv') else codes.NEW_RECORD
    provider = ''
    if event.administered_by is not None:
        last, _, first = (event.administered_by.full_name or '').rpartition(' ')
        provider = f'{event.administered_by.id}^{_escaped(last or first)}^{_escaped(first if last else "")}'
    manufacturer = f'{_escaped(product.mvx_code)}^{_escaped(product.manufacturer)}^MVX' if product.mvx_code else ''
    deleted = event.action == RegistryAction.DELETE
    return _segment('RXA', '0', '1', given, given, vaccine, _amount(dose.dose_volume_ml) if not deleted else '999',
                    'mL^milliliters^UCUM' if not deleted else '', '', f'{source[0]}^{source[1]}^NIP001', provider,
                    f'^^^{_escaped(event.location.code)}', '', '', '', _escaped(lot.lot_number),
                    f'{lot.expiration_date:%Y%m%d}', manufacturer, '', '', 'CP', event.action.value)


def _rxr(dose: Administration) -> str:
    route = codes.ROUTE.get(dose.route)
    site = codes.SITE.get(dose.site)
    return _segment('RXR', f'{route[0]}^{route[1]}^NCIT' if route else '',
                    f'{site[0]}^{site[1]}^HL70163' if site else '')


def _funding(dose: Administration, local) -> list[str]:  # noqa: ANN001 - a tzinfo
    eligibility = dose.funding_eligibility or codes.DEFAULT_FUNDING_ELIGIBILITY
    observed = f'{as_utc(dose.administered_at).astimezone(local):%Y%m%d}'
    return [
        _segment('OBX', '1', 'CE', '64994-7^Vaccine funding program eligibility category^LN', '1',
                 f'{eligibility}^{codes.FUNDING_ELIGIBILITY.get(eligibility, "")}^HL70064', '', '', '', '', '', 'F',
                 '', '', observed, '', '', 'VXC40^Eligibility captured at the immunization level^CDCPHINVS'),
        _segment('OBX', '2', 'CE', '30963-3^Vaccine funding source^LN', '2',
                 f'{codes.FUNDING_SOURCE[0]}^{codes.FUNDING_SOURCE[1]}^CDCPHINVS', '', '', '', '', '', 'F'),
    ]


# ---------------------------------------------------------------- helpers

def _coded_race(code: str | None) -> str:
    from services.recipients import codes as recipient_codes
    if not code:
        return ''
    system = 'NULLFL' if code == recipient_codes.UNKNOWN else 'CDCREC'
    return f'{code}^{_escaped(recipient_codes.label("race", code))}^{system}'


def _coded_ethnicity(code: str | None) -> str:
    from services.recipients import codes as recipient_codes
    if not code:
        return ''
    system = 'NULLFL' if code == recipient_codes.UNKNOWN else 'CDCREC'
    return f'{code}^{_escaped(recipient_codes.label("ethnicity", code))}^{system}'


def _segment(name: str, *fields: str) -> str:
    """A segment from fields the caller escaped, with empty fields at the end dropped."""
    values = list(fields)
    while values and values[-1] == '':
        values.pop()
    if name == 'MSH':  # MSH-1 is the field separator itself
        return 'MSH|' + '|'.join(values)
    return '|'.join([name, *values])


def _escaped(text: str | None) -> str:
    return escape(text)


def _timestamp(moment: datetime, local) -> str:  # noqa: ANN001 - a tzinfo
    return as_utc(moment).astimezone(local).strftime('%Y%m%d%H%M%S%z')


def _amount(ml: float) -> str:
    return f'{ml:.2f}'.rstrip('0').rstrip('.')
