"""Hostile files on every upload path (Low Volume preview, High Volume job, back-entry, the import-recipients
command line): each is refused with a message saying what to do, or read correctly, within bounded memory and
time, and a refusal leaves nothing behind. The files are built here (zipfile, openpyxl, plain bytes).

Memory is Python's peak allocation during the call (tracemalloc; what a parsed string or a row list costs), or a
child process's peak RSS for the command line; time is a generous bound for the slowest CI machine, not a speed
target (benchmarks/ has those)."""
from __future__ import annotations

import csv
import functools
import io
import json
import os
import subprocess
import sys
import time
import tracemalloc
import zipfile
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

from models import Recipient
from models.bulk import BulkUpload, BulkUploadFile
from services.bulk import registration as bulk
from services.bulk.files import FileRejected
from services.clinic import back_entry
from services.recipients.fields import check_recipient, email_problem
from tests.factories import MANAGER, PROVIDER, count_rows, principal

ROOT = Path(__file__).resolve().parents[2]
HEADER = ['First name', 'Last name', 'Date of birth', 'Email']
MEMORY_LIMIT = 300 * 1024 * 1024
TIME_LIMIT = 20.0


# ---------------------------------------------------------------- building hostile files


def workbook(rows: list[list[object]]) -> bytes:
    from openpyxl import Workbook
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


MAIN = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main'
RELATIONSHIPS = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships'
SPREADSHEET = 'application/vnd.openxmlformats-officedocument.spreadsheetml'


def excel_workbook(sheet_xml: bytes, shared_strings: bytes | Iterator[bytes] | None = None) -> bytes:
    """A workbook laid out as Excel writes one: the sheet and its shared strings named in the relationships."""
    strings = shared_strings is not None
    out = io.BytesIO()
    with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as book:
        book.writestr('[Content_Types].xml', (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{SPREADSHEET}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{SPREADSHEET}.worksheet+xml"/>'
            + (f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SPREADSHEET}.sharedStrings+xml"/>'
               if strings else '') + '</Types>'))
        book.writestr('_rels/.rels', (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/>'
            '</Relationships>'))
        book.writestr('xl/workbook.xml', (
            f'<workbook xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}"><sheets>'
            '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'))
        book.writestr('xl/_rels/workbook.xml.rels', (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{RELATIONSHIPS}/worksheet" Target="worksheets/sheet1.xml"/>'
            + (f'<Relationship Id="rId2" Type="{RELATIONSHIPS}/sharedStrings" Target="sharedStrings.xml"/>'
               if strings else '') + '</Relationships>'))
        book.writestr('xl/worksheets/sheet1.xml', sheet_xml)
        if strings:
            with book.open('xl/sharedStrings.xml', 'w', force_zip64=True) as part:
                for block in [shared_strings] if isinstance(shared_strings, bytes) else shared_strings:
                    part.write(block)
    return out.getvalue()


def one_huge_string(characters: int) -> Iterator[bytes]:
    yield b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>'
    block = b'A' * (1 << 20)
    for _ in range(characters >> 20):
        yield block
    yield b'</t></si></sst>'


def shared_strings_bomb() -> bytes:
    """The issue's file: one 300-million-character string in the shared strings, about 300 KB zipped."""
    return excel_workbook(sheet(b'<row r="1"><c r="A1" t="s"><v>0</v></c></row>'), one_huge_string(300 << 20))


BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + b''.join(b'<!ENTITY lol%d "%s">' % (i, (b'&lol%d;' % (i - 1) if i > 1 else b'&lol;') * 10)
                             for i in range(1, 10))
                  + b']><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&lol9;</t></si>'
                  b'</sst>')
EXTERNAL_ENTITY = (b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
                   b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
                   b'<row r="1"><c r="A1" t="inlineStr"><is><t>&secret;</t></is></c></row></sheetData></worksheet>')


def sheet(rows_xml: bytes) -> bytes:
    return (b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            b'<sheetData>' + rows_xml + b'</sheetData></worksheet>')


def inline_row(number: int, values: list[str], *, first_column: int = 0) -> bytes:
    cells = b''.join(b'<c r="%s%d" t="inlineStr"><is><t>%s</t></is></c>' % (column_name(first_column + i).encode(),
                                                                         number, value.encode())
                     for i, value in enumerate(values))
    return b'<row r="%d">%s</row>' % (number, cells)


def column_name(index: int) -> str:
    name = ''
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def many_parts() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(workbook([HEADER]))) as source, zipfile.ZipFile(out, 'w') as target:
        for info in source.infolist():
            target.writestr(info, source.read(info.filename))
        for i in range(5000):
            target.writestr(f'xl/media/image{i}.png', b'')
    return out.getvalue()


def text_file(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([HEADER, *rows])
    return buffer.getvalue().encode()


HOSTILE = {
    'xlsx shared strings bomb': (shared_strings_bomb, 'This file expands to more than'),
    'xlsx billion laughs': (lambda: excel_workbook(sheet(b'<row r="1"><c r="A1" t="s"><v>0</v></c></row>'),
                                                   BILLION_LAUGHS), 'XML definitions'),
    'xlsx external entity': (lambda: excel_workbook(EXTERNAL_ENTITY), 'XML definitions'),
    'xlsx 5,000 parts': (many_parts, 'parts inside'),
    'xlsx cell longer than Excel allows': (lambda: excel_workbook(sheet(
        inline_row(1, HEADER) + inline_row(2, ['A' * 40_000, 'B', '1/1/1980', 'a@b.org']))), 'more than 32,767'),
    'xlsx 10,000 columns': (lambda: excel_workbook(sheet(
        inline_row(1, HEADER + [f'c{i}' for i in range(10_000)]))), 'more than 200 columns'),
    'xlsx row beyond Excel': (lambda: excel_workbook(sheet(
        inline_row(1, HEADER) + inline_row(1_000_000_000, ['A', 'B', '1/1/1980', 'a@b.org']))), 'more than 1,048,576'),
    'xlsx damaged': (lambda: workbook([HEADER, ['Ana', 'Diaz', '1/1/1980', 'a@b.org']])[:-200], 'not a CSV or Excel'),
    'xlsx broken XML': (lambda: excel_workbook(b'<worksheet><sheetData><row><c t="inlineStr"><is><t>First'),
                        'could not be read'),
    'csv one 40 MB line': (lambda: b'First name,' + b'x' * (40 << 20), 'longer than 1,000,000 characters'),
    'csv unclosed quote': (lambda: text_file([]) + b'"' + b'abc\n' * 100_000, 'more than 131,072 characters'),
    'csv NUL bytes': (lambda: text_file([['Ana', 'Diaz', '1/1/1980', 'a@b.org']]).replace(b'Diaz', b'Di\x00az'),
                      'not a CSV or Excel'),
    'csv 10,000 columns': (lambda: text_file([['Ana', 'Diaz', '1/1/1980', 'a@b.org'] + ['x'] * 10_000]),
                           'more than 200 columns'),
    'csv 3 million blank lines': (lambda: text_file([]) + b'\r\n' * 3_000_000 + b'Ana,Diaz,1/1/1980,a@b.org\r\n',
                                  'more than 100,000 blank lines'),
}


@functools.cache
def hostile(name: str) -> tuple[bytes, str]:
    """A hostile file and the refusal it must meet, built once for every path and database that reads it (the
    shared strings bomb compresses 300 MB: 1.7 s, and six tests read it)."""
    build, message = HOSTILE[name]
    return build(), message


@pytest.fixture(autouse=True, scope='module')
def _forget_hostile_files() -> Iterator[None]:
    yield
    hostile.cache_clear()  # the 40 MB line and the rest are not kept for the other modules' tests


def bounded(call: Callable[[], object]) -> object:
    """Run `call`, failing if its Python allocations peak above 300 MB or it takes more than 20 s."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        return call()
    finally:
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < MEMORY_LIMIT, f'peak {peak / 1e6:.0f} MB'
        assert elapsed < TIME_LIMIT, f'{elapsed:.1f} s'


def nothing_left_behind(recipients_before: int) -> None:
    assert count_rows(Recipient) == recipients_before
    assert count_rows(BulkUploadFile) == 0
    assert count_rows(BulkUpload, BulkUpload.status.in_(['queued', 'running', 'done'])) == 0


# ---------------------------------------------------------------- every path refuses every hostile file


@pytest.mark.parametrize('name', HOSTILE)
def test_hostile_files_are_refused_on_the_low_and_high_volume_paths(demo, name: str) -> None:
    data, message = hostile(name)
    manager = principal(MANAGER)
    before = count_rows(Recipient)
    with pytest.raises(FileRejected, match=message):
        bounded(lambda: bulk.preview(principal=manager, data=data, file_name='hostile'))
    with pytest.raises(FileRejected, match=message):
        bounded(lambda: bulk.submit_file(principal=manager, file_name='hostile', data=data))
    nothing_left_behind(before)


@pytest.mark.parametrize('name', ['xlsx shared strings bomb', 'xlsx billion laughs', 'xlsx external entity',
                                  'csv one 40 MB line', 'csv NUL bytes', 'csv 10,000 columns',
                                  'csv 3 million blank lines'])
def test_hostile_files_are_refused_on_back_entry(demo, name: str) -> None:
    data, message = hostile(name)
    data = data.replace(','.join(HEADER).encode(), ','.join(back_entry.TEMPLATE_HEADER).encode(), 1)
    with pytest.raises(FileRejected, match=message):
        bounded(lambda: back_entry.load_file(principal=principal(PROVIDER), data=data, file_name='hostile',
                                             email_errors=False))


def test_back_entry_stops_reading_at_its_line_limit(demo) -> None:
    line = 'Ann,Lee,1/1/1980,1/1/2021,09:00,207,L1,1,Left deltoid,IM,0.5,x,\n'
    data = (','.join(back_entry.TEMPLATE_HEADER) + '\n' + line * 400_000).encode()
    with pytest.raises(FileRejected, match='more than 5,000 lines'):
        bounded(lambda: back_entry.load_file(principal=principal(PROVIDER), data=data, email_errors=False))


def run_cli(*args: str) -> tuple[subprocess.CompletedProcess, int]:
    """import-recipients in a child process; returns its result and its peak RSS in bytes. The peak is VmHWM, the
    child's own memory's high-water mark: getrusage's ru_maxrss keeps the forking parent's (pytest's) peak across
    exec, so after a few browser tests it reported pytest's 639 MB for every child."""
    env = {k: v for k, v in os.environ.items() if k != 'PYTEST_CURRENT_TEST'}
    script = ('import runpy, sys\n'
              "sys.argv = ['main.py', 'import-recipients', *sys.argv[1:]]\n"
              'try:\n'
              "    runpy.run_path('main.py', run_name='__main__')\n"
              'finally:\n'
              "    peak = next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM:'))\n"
              "    print(f'peak-rss-kib={peak}', file=sys.stderr)\n")
    result = subprocess.run([sys.executable, '-c', script, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    peak = int(result.stderr.rsplit('peak-rss-kib=', 1)[1].split()[0]) * 1024
    return result, peak


@pytest.mark.parametrize('name', ['xlsx shared strings bomb', 'xlsx billion laughs', 'csv one 40 MB line'])
def test_hostile_files_are_refused_on_the_command_line(demo, tmp_path: Path, name: str) -> None:
    data, message = hostile(name)
    source = tmp_path / 'hostile.xlsx'
    source.write_bytes(data)
    before = count_rows(Recipient)
    for mode in ([], ['--high-volume']):
        started = time.monotonic()
        result, peak = run_cli(str(source), '--location', 'DEMO1', '--json', *mode)
        assert time.monotonic() - started < TIME_LIMIT + 5  # the child's start-up included
        assert result.returncode == 2, result.stderr
        payload = json.loads(result.stdout)
        assert payload['rejected'] and message in payload['message']
        assert peak < MEMORY_LIMIT, f'peak RSS {peak / 1e6:.0f} MB'
    nothing_left_behind(before)


# ---------------------------------------------------------------- files read correctly


def test_excel_unicode_text_utf16_with_tabs_is_read(demo) -> None:
    """Excel's "Save as Unicode Text": UTF-16 little-endian with a BOM, cells separated by tabs."""
    text = '\t'.join(HEADER) + '\r\n' + 'Renée\tZoë\t12/1/1955\trenee@example.com\r\n'
    preview = bulk.preview(principal=principal(MANAGER), data=b'\xff\xfe' + text.encode('utf-16-le'),
                           file_name='recipients.txt')
    assert [(r.first_name, r.last_name, r.date_of_birth_text, r.email, r.ready) for r in preview.rows] == [
        ('Renée', 'Zoë', '12/1/1955', 'renee@example.com', True)]
    big_endian = bulk.preview(principal=principal(MANAGER), data=b'\xfe\xff' + text.encode('utf-16-be'),
                              file_name='recipients.txt')
    assert big_endian.rows[0].last_name == 'Zoë'


def test_high_volume_job_reads_a_utf16_file_to_the_end(demo) -> None:
    text = '\t'.join(HEADER) + '\r\n' + ''.join(f'Zoë{i}\tLee\t1/1/1980\tz{i}@example.com\r\n' for i in range(150))
    manager = principal(MANAGER)
    summary = bulk.submit_file(principal=manager, file_name='unicode.txt', data=b'\xff\xfe' + text.encode('utf-16-le'))
    assert bulk.run_job(summary.id).loaded == 150
    assert count_rows(Recipient, Recipient.first_name == 'Zoë149') == 1


def test_mixed_encodings_read_each_part_right(demo) -> None:
    """A file edited by two programs: one line in UTF-8, another in Windows-1252."""
    data = (','.join(HEADER).encode() + b'\r\n' + 'Renée,Lee,1/1/1980,r@example.com\r\n'.encode()
            + 'Zoë,Lee,1/1/1980,z@example.com\r\n'.encode('cp1252'))
    preview = bulk.preview(principal=principal(MANAGER), data=data, file_name='mixed.csv')
    assert [r.first_name for r in preview.rows] == ['Renée', 'Zoë']


def test_xlsx_cells_far_right_and_rows_left_out_keep_their_lines(demo) -> None:
    xml = sheet(inline_row(1, HEADER) + inline_row(3, ['Ana', 'Diaz', '1/1/1980', 'ana@example.com'])
                + b'<row r="4"><c r="XFD4" s="0"/></row>')  # a formatted empty cell in Excel's last column
    preview = bulk.preview(principal=principal(MANAGER), data=excel_workbook(xml), file_name='sparse.xlsx')
    assert [(r.line, r.first_name, r.ready) for r in preview.rows] == [(3, 'Ana', True)]


def test_xlsx_dates_numbers_and_the_1904_date_system(demo) -> None:
    from openpyxl import Workbook
    book = Workbook()
    book.epoch = __import__('openpyxl').utils.datetime.CALENDAR_MAC_1904
    book.active.append(HEADER)
    book.active.append(['Ana', 'Diaz', date(1955, 12, 1), 'ana@example.com'])
    book.active.append([1234, 'Diaz', '2/3/1960', 'luis@example.com'])
    buffer = io.BytesIO()
    book.save(buffer)
    preview = bulk.preview(principal=principal(MANAGER), data=buffer.getvalue(), file_name='mac.xlsx')
    assert [(r.first_name, r.date_of_birth_text) for r in preview.rows] == [('Ana', '12/1/1955'),
                                                                            ('1234', '2/3/1960')]


PAYLOADS = ['=HYPERLINK("http://x.test","Click")', '+1+1', '-2+3', '@SUM(1,1)', '<script>alert(1)</script>',
            '"><img src=x onerror=alert(1)>', "'; DROP TABLE recipient; --", '\t=1', '=1+1@x.org']


def test_formula_and_script_payloads_in_every_field_load_nowhere_and_export_as_text(demo) -> None:
    rows = []
    for payload in PAYLOADS:
        rows += [[payload, 'Lee', '1/1/1980', 'p@example.com'], ['Ann', payload, '1/1/1980', 'p@example.com'],
                 ['Ann', 'Lee', payload, 'p@example.com'], ['Ann', 'Lee', '1/1/1980', payload]]
    manager = principal(MANAGER)
    before = count_rows(Recipient)
    outcome = bulk.create_records(principal=manager, previewed=bulk.preview(principal=manager, data=text_file(rows),
                                                                            file_name='payloads.csv'))
    assert outcome.loaded == 0 and outcome.failed == len(rows)
    assert count_rows(Recipient) == before
    report = bulk.upload_error_file(principal=manager, upload_id=outcome.upload_id)
    for row in csv.reader(io.StringIO(report.decode('utf-8-sig'))):
        assert not any(cell.startswith(('=', '+', '-', '@', '\t', '\r')) for cell in row), row


def test_an_email_that_reads_as_a_formula_is_refused_at_every_entry(demo) -> None:
    for email in ('=1+1@x.org', '+cmd@x.org', '-2+3@x.org', '@SUM(1)@x.org'):
        assert email_problem(email) is not None, email
        assert [p.field for p in check_recipient({'first_name': 'Ann', 'last_name': 'Lee', 'date_of_birth':
                                                  '1/1/1980', 'email': email}, required=['email']).problems] == \
            ['email'], email
    assert email_problem('ann+vaccine@x.org') is None and email_problem('ann-lee@x.org') is None
    from services.clinic import standby
    from services.core.errors import ServiceError
    with pytest.raises(ServiceError, match='invalid email'):
        standby.add_to_standby(principal=principal(MANAGER), full_name='Ann Lee', phone='919-555-0100',
                               email='=1+1@x.org')


async def test_an_upload_is_spooled_to_disk_and_refused_as_soon_as_it_passes_the_limit(tmp_path: Path) -> None:
    from services.bulk.files import spool
    sent = []

    async def endless() -> Iterator[bytes]:
        while True:
            sent.append(1)
            yield b'x' * (1 << 20)

    with pytest.raises(FileRejected, match='larger than 3 MB, the upload limit'):
        await spool(endless(), limit_bytes=3 << 20, folder=tmp_path)
    assert len(sent) == 4  # stopped at the first block past the limit
    assert list(tmp_path.iterdir()) == []  # and nothing left on disk

    async def small() -> Iterator[bytes]:
        yield b'First name'
        yield b',Last name\n'

    path = await spool(small(), limit_bytes=3 << 20, folder=tmp_path)
    assert path.parent == tmp_path and path.read_bytes() == b'First name,Last name\n'


async def test_an_upload_body_past_the_limit_is_cut_off_as_it_arrives() -> None:
    """Before NiceGUI writes a posted file to a temporary file: a declared length over the limit is refused at once,
    and a body without one (chunked) is refused at the first block past it; other addresses are not limited."""
    import httpx
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from services.core.upload_limit import UploadSizeLimit

    read: list[int] = []

    async def receive_all(request: Request) -> PlainTextResponse:
        async for block in request.stream():
            read.append(len(block))
        return PlainTextResponse('stored')

    routes = [Route('/_nicegui/client/{client}/upload/{element}', receive_all, methods=['POST']),
              Route('/other', receive_all, methods=['POST'])]
    app = UploadSizeLimit(Starlette(routes=routes), limit_bytes=lambda: 1 << 20)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url='http://cvms.test') as client:
        address = '/_nicegui/client/abc/upload/7'
        assert (await client.post(address, content=b'x' * 1000)).text == 'stored'
        refused = await client.post(address, content=b'x' * (3 << 20))
        assert refused.status_code == 413 and 'larger than 1 MB' in refused.text
        read.clear()

        async def blocks() -> AsyncIterator[bytes]:
            for _ in range(100):
                yield b'x' * (64 << 10)

        assert (await client.post(address, content=blocks())).status_code == 413  # no length: counted as it comes
        assert sum(read) <= (1 << 20) + (128 << 10)
        assert (await client.post('/other', content=b'x' * (3 << 20))).text == 'stored'
