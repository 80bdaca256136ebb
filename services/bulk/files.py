"""Reading an uploaded file (CSV, tab-separated "Unicode Text", or .xlsx) row by row, with hard limits.

Every upload path (Low Volume, High Volume, back-entry, the command line) reads files here. A hostile file is
refused, with a message saying what to do, before it can take much memory or time:
- an .xlsx is a zip: its directory is checked first (number of parts, what they expand to, compression ratio);
  Python's zipfile never gives more bytes than the directory declares (the CRC fails otherwise);
- its XML is streamed with defusedxml (no DTD, no entities: no "billion laughs", no external files), text is
  counted as it arrives, and the shared strings are held with a cap on their number and total length;
- CSV lines and cells are read with length limits, and rows with more than MAX_COLUMNS cells are refused.
Stopping at the row limit is the caller's part (pipeline.scan): rows come one at a time.
"""
from __future__ import annotations

import codecs
import csv
import io
import posixpath
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime
from itertools import repeat
from pathlib import Path
from typing import BinaryIO
from xml.sax import SAXException
from xml.sax.handler import ContentHandler

from defusedxml import DefusedXmlException
from defusedxml.expatreader import DefusedExpatParser

MAX_COLUMNS = 200
BLANK_LINES_MAX = 100_000
CELL_MAX_CHARS = 32_767  # Excel's own limit for one cell
LINE_MAX_CHARS = 1_000_000
XLSX_MAX_PARTS = 1_000
XLSX_MAX_EXPANDED_MB = 250
XLSX_MAX_RATIO = 100  # deflate on a real sheet gives 5-20; a bomb gives 1,000 and more
SHARED_STRINGS_MAX = 1_000_000
SHARED_STRINGS_MAX_CHARS = 16_000_000
_SNIFF_BLOCK = 1 << 20
_XLSX_MAGIC = b'PK\x03\x04'
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_FEED_BLOCK = 1 << 16
XLSX_MAX_LINES = 1_048_576  # Excel's last row
_BLANK: list[str] = []


class FileRejected(Exception):
    """The whole file is refused (nothing is loaded); the message says what to fix."""


Source = bytes | Path


def sniff(source: Source) -> tuple[str, str]:
    """(kind, encoding) of an upload, or FileRejected for an empty or non-text file. UTF-8 (with or without BOM),
    UTF-16 with a BOM (Excel's "Unicode Text"), else 'cp1252': Windows-1252 where a byte is not UTF-8."""
    with _open(source) as stream:
        first = stream.read(_SNIFF_BLOCK)
        if first.startswith(_XLSX_MAGIC):
            return 'xlsx', ''
        if first.startswith(_UTF16_BOMS):
            return 'csv', _sniff_utf16(first, stream)
        if not first.lstrip(b'\xef\xbb\xbf \t\r\n'):
            raise FileRejected('The file is empty. Fill in the template and upload it again.')
        if b'\x00' in first:
            raise _not_text()
        encoding = 'utf-8-sig'
        if not _decodes(first, stream, 'strict'):
            stream.seek(0)
            encoding = 'cp1252'
            if not _decodes(stream.read(_SNIFF_BLOCK), stream, _MIXED):
                raise _not_text()
    _check_controls(first[:65536].decode('utf-8', errors=_MIXED if encoding == 'cp1252' else 'ignore'))
    return 'csv', encoding


def _decodes(block: bytes, stream: BinaryIO, errors: str) -> bool:
    decoder = codecs.getincrementaldecoder('utf-8')(errors=errors)
    try:
        while block:
            if b'\x00' in block:
                return False
            decoder.decode(block)
            block = stream.read(_SNIFF_BLOCK)
        decoder.decode(b'', final=True)
    except UnicodeDecodeError:
        return False
    return True


def _utf8_else_cp1252(error: UnicodeError) -> tuple[str, int]:
    """Bytes that are not UTF-8 are read as Windows-1252, one by one: a file saved partly by Excel ("CSV (Comma
    delimited)", Windows-1252) and partly by another program (UTF-8) reads right in both parts."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return error.object[error.start:error.start + 1].decode('cp1252', errors='replace'), error.start + 1


_MIXED = 'cvms-utf8-else-cp1252'
codecs.register_error(_MIXED, _utf8_else_cp1252)


async def spool(chunks: AsyncIterator[bytes], *, limit_bytes: int, folder: Path) -> Path:
    """Write an upload to a new file in `folder` as its bytes arrive, refusing it (and removing what was written)
    as soon as it passes `limit_bytes`: a file is never held whole in memory nor written whole before the check.
    The caller removes the file when done with it."""
    import anyio

    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f'upload-{uuid.uuid4().hex}.part'  # never a name from the browser
    written = 0
    try:
        async with await anyio.open_file(target, 'wb') as out:
            async for chunk in chunks:
                written += len(chunk)
                if written > limit_bytes:
                    raise too_large(limit_bytes)
                await out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


def too_large(limit_bytes: int) -> FileRejected:
    return FileRejected(f'This file is larger than {limit_bytes / (1024 * 1024):g} MB, the upload limit. Split it '
                        'into smaller files. Nothing was loaded.')


def rows(source: Source, kind: str, encoding: str) -> Iterator[list[str]]:
    """Every row of the file as text cells, header first, one at a time; trailing empty cells dropped."""
    reader = _xlsx_rows(source) if kind == 'xlsx' else _csv_rows(source, encoding)
    blank = 0
    for line, row in enumerate(reader, start=1):
        while row and not row[-1].strip():
            row.pop()
        if not row:
            blank += 1  # skipped by the callers, but not without end: a file of nothing but line breaks stops
            if blank > BLANK_LINES_MAX:
                raise FileRejected(f'This file has more than {BLANK_LINES_MAX:,} blank lines. Delete them (or save '
                                   'only the filled-in lines) and upload it again. Nothing was loaded.')
        if len(row) > MAX_COLUMNS:
            raise FileRejected(f'Line {line} of this file has more than {MAX_COLUMNS} columns. The template has 4: '
                               'delete the extra columns, or copy the four columns into the template, and upload '
                               'it again. Nothing was loaded.')
        yield row


# ---------------------------------------------------------------- CSV and "Unicode Text"


def _open(source: Source) -> BinaryIO:
    return io.BytesIO(source) if isinstance(source, bytes) else open(source, 'rb')  # noqa: SIM115


def _sniff_utf16(first: bytes, stream: BinaryIO) -> str:
    decoder = codecs.getincrementaldecoder('utf-16')()
    block, head = first, ''
    try:
        while block:
            text = decoder.decode(block)
            head = head or text[:65536]
            block = stream.read(_SNIFF_BLOCK)
        decoder.decode(b'', final=True)
    except UnicodeDecodeError as error:
        raise _not_text() from error
    if not head.strip(' \t\r\n\ufeff'):
        raise FileRejected('The file is empty. Fill in the template and upload it again.')
    _check_controls(head)
    return 'utf-16'


def _check_controls(text: str) -> None:
    if any(ch < ' ' and ch not in '\t\r\n\x0c' for ch in text):
        raise _not_text()


def _not_text() -> FileRejected:
    return FileRejected('This file is not a CSV or Excel (.xlsx) file. Save your spreadsheet as "CSV (Comma '
                        'delimited)" or .xlsx and upload it again.')


def _csv_rows(source: Source, encoding: str) -> Iterator[list[str]]:
    with _open(source) as stream:
        # 'cp1252' (what sniff says when the file is not all UTF-8) reads UTF-8 where it is valid
        text = io.TextIOWrapper(stream, encoding='utf-8' if encoding == 'cp1252' else encoding,
                                errors=_MIXED if encoding == 'cp1252' else 'strict', newline='')
        lines = _bounded_lines(text)
        utf16 = encoding == 'utf-16'
        first = next(lines, None)
        if first is None:
            return
        # Excel's "Unicode Text" and many exports separate cells with tabs: the header line tells which.
        delimiter = '\t' if '\t' in first and ',' not in first else ','

        def all_lines() -> Iterator[str]:
            yield first
            yield from lines

        try:
            for row in csv.reader(all_lines(), delimiter=delimiter):
                if utf16 and any('\x00' in cell for cell in row):  # other encodings: sniff refused NUL bytes
                    raise _not_text()
                yield row
        except csv.Error as error:
            if 'field larger than field limit' in str(error):
                raise FileRejected(f'A cell of this file holds more than {csv.field_size_limit():,} characters, '
                                   'far more than a name, date or email. Check the file and save it again from '
                                   'your spreadsheet. Nothing was loaded.') from error
            raise FileRejected(f'The file could not be read as CSV ({error}). Save it again from your spreadsheet '
                               'as "CSV (Comma delimited)". Nothing was loaded.') from error
        except UnicodeDecodeError as error:
            raise _not_text() from error


def _bounded_lines(text: io.TextIOWrapper) -> Iterator[str]:
    """The file's lines, refusing one longer than LINE_MAX_CHARS before it is held whole."""
    number = 0
    while line := text.readline(LINE_MAX_CHARS + 1):
        number += 1
        if len(line) > LINE_MAX_CHARS:
            raise FileRejected(f'Line {number} of this file is longer than {LINE_MAX_CHARS:,} characters: it is not '
                               'a list of recipients. Save it again from your spreadsheet. Nothing was loaded.')
        yield line


# ---------------------------------------------------------------- .xlsx


def _xlsx_rows(source: Source) -> Iterator[list[str]]:
    with _open(source) as stream:
        try:
            archive = zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, OSError, ValueError) as error:
            raise _not_text() from error
        with archive:
            size = len(source) if isinstance(source, bytes) else source.stat().st_size
            try:
                _check_directory(archive, size)
                book = _workbook(archive)
                strings = _shared_strings(archive, book.shared_strings) if book.shared_strings else []
                yield from _sheet_rows(archive, book, strings)
            except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, SAXException) as error:
                raise _unreadable_xlsx(error) from error


def _unreadable_xlsx(error: Exception) -> FileRejected:
    if isinstance(error, DefusedXmlException):
        return FileRejected('This Excel file contains XML definitions (entities) that a spreadsheet saved by Excel '
                            'never has. Save it again from Excel, or as CSV. Nothing was loaded.')
    if isinstance(error, FileRejected):
        return error
    return FileRejected('This Excel (.xlsx) file could not be read: it is damaged or not a workbook. Save it again '
                        'from Excel, or as "CSV (Comma delimited)", and upload it again. Nothing was loaded.')


def _check_directory(archive: zipfile.ZipFile, size: int) -> None:
    parts = archive.infolist()
    if len(parts) > XLSX_MAX_PARTS:
        raise FileRejected(f'This file has {len(parts):,} parts inside; an Excel workbook has a few dozen. Save it '
                           'again from Excel. Nothing was loaded.')
    expanded = sum(part.file_size for part in parts)
    if expanded > XLSX_MAX_EXPANDED_MB * 1024 * 1024:
        raise FileRejected(f'This file expands to more than {XLSX_MAX_EXPANDED_MB} MB; save it again from Excel '
                           'with only the recipients\' columns, or split it into smaller files. Nothing was loaded.')
    for part in parts:
        if part.file_size > (1 << 20) and part.file_size > XLSX_MAX_RATIO * max(part.compress_size, 1):
            raise FileRejected(f'This file expands to {part.file_size // (1024 * 1024):,} MB from '
                               f'{max(size, 1) / (1024 * 1024):.1f} MB, which no spreadsheet does; save it again '
                               'from Excel. Nothing was loaded.')


class _Workbook:
    """Where the first sheet and the shared strings are, which cell styles are dates, and the date system."""

    def __init__(self) -> None:
        self.sheet = ''
        self.shared_strings = ''
        self.date_styles: set[int] = set()
        self.epoch_1904 = False


def _workbook(archive: zipfile.ZipFile) -> _Workbook:
    book = _Workbook()
    root = _relationships(archive, '_rels/.rels')
    main = next((target for kind, target in root.values() if kind.endswith('/officeDocument')), 'xl/workbook.xml')
    relations = _relationships(archive, posixpath.join(posixpath.dirname(main), '_rels',
                                                       posixpath.basename(main) + '.rels'))
    first_sheet: list[str] = []

    def on_start(name: str, attrs: dict[str, str]) -> None:
        if name == 'sheet' and not first_sheet:
            first_sheet.append(next((v for k, v in attrs.items() if k.endswith(':id') or k == 'id'), ''))
        elif name == 'workbookPr':
            book.epoch_1904 = attrs.get('date1904', '').lower() in ('1', 'true')

    _parse(archive, main, _Handler(on_start))
    if not first_sheet or first_sheet[0] not in relations:
        raise FileRejected('This Excel file has no worksheet. Put the recipients on the first sheet and upload it '
                           'again. Nothing was loaded.')
    book.sheet = relations[first_sheet[0]][1]
    parts = {kind.rpartition('/')[2]: target for kind, target in relations.values()}
    # Some writers (openpyxl) name the shared strings and styles only in [Content_Types].xml
    parts = {**_content_types(archive), **parts}
    book.shared_strings = parts.get('sharedStrings', '')
    if 'styles' in parts:
        book.date_styles = _date_styles(archive, parts['styles'])
    return book


def _content_types(archive: zipfile.ZipFile) -> dict[str, str]:
    found: dict[str, str] = {}

    def on_start(tag: str, attrs: dict[str, str]) -> None:
        content_type = attrs.get('ContentType', '')
        if tag == 'Override' and content_type.startswith('application/vnd.openxmlformats-officedocument.'
                                                         'spreadsheetml.'):
            kind = content_type.rpartition('.')[2].removesuffix('+xml')
            found[kind] = attrs.get('PartName', '').lstrip('/')

    if '[Content_Types].xml' in archive.NameToInfo:
        _parse(archive, '[Content_Types].xml', _Handler(on_start))
    return found


def _relationships(archive: zipfile.ZipFile, name: str) -> dict[str, tuple[str, str]]:
    """Id -> (type, part name) of a relationships part; targets resolved against the part's folder."""
    found: dict[str, tuple[str, str]] = {}
    if name not in archive.NameToInfo:
        return found
    folder = posixpath.dirname(posixpath.dirname(name))

    def on_start(tag: str, attrs: dict[str, str]) -> None:
        if tag == 'Relationship' and attrs.get('TargetMode') != 'External':
            target = attrs.get('Target', '')
            path = target.lstrip('/') if target.startswith('/') else posixpath.normpath(posixpath.join(folder, target))
            found[attrs.get('Id', '')] = (attrs.get('Type', ''), path)

    _parse(archive, name, _Handler(on_start))
    return found


def _date_styles(archive: zipfile.ZipFile, name: str) -> set[int]:
    """Indexes of the cell styles whose number format shows a date."""
    from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format

    formats = {number: code for number, code in BUILTIN_FORMATS.items()}
    styles: list[int] = []
    where: list[str] = []

    def on_start(tag: str, attrs: dict[str, str]) -> None:
        if tag in ('cellXfs', 'cellStyleXfs'):
            where.append(tag)
        elif tag == 'numFmt':
            try:
                formats[int(attrs.get('numFmtId', ''))] = attrs.get('formatCode', '')
            except ValueError:
                pass
        elif tag == 'xf' and where and where[-1] == 'cellXfs':
            styles.append(int(attrs.get('numFmtId', '0') or 0))

    def on_end(tag: str) -> None:
        if tag in ('cellXfs', 'cellStyleXfs') and where:
            where.pop()

    if name in archive.NameToInfo:
        _parse(archive, name, _Handler(on_start, on_end))
    return {index for index, number in enumerate(styles) if is_date_format(formats.get(number, '') or '')}


def _shared_strings(archive: zipfile.ZipFile, name: str) -> list[str]:
    strings: list[str] = []
    state = {'chars': 0, 'phonetic': 0, 'in_text': False}
    parts: list[str] = []
    length = [0]

    def on_start(tag: str, attrs: dict[str, str]) -> None:
        if tag == 'si':
            parts.clear()
            length[0] = 0
        elif tag == 'rPh':
            state['phonetic'] += 1
        elif tag == 't' and not state['phonetic']:
            state['in_text'] = True

    def on_end(tag: str) -> None:
        if tag == 'si':
            if len(strings) >= SHARED_STRINGS_MAX:
                raise FileRejected(f'This file holds more than {SHARED_STRINGS_MAX:,} different texts; save it '
                                   'again from Excel with only the recipients. Nothing was loaded.')
            strings.append(''.join(parts))
        elif tag == 'rPh':
            state['phonetic'] -= 1
        elif tag == 't':
            state['in_text'] = False

    def on_text(text: str) -> None:
        if state['in_text']:
            length[0] += len(text)
            state['chars'] += len(text)
            if length[0] > CELL_MAX_CHARS:
                raise _cell_too_long()
            if state['chars'] > SHARED_STRINGS_MAX_CHARS:
                raise FileRejected(f'The texts of this file add up to more than {SHARED_STRINGS_MAX_CHARS:,} '
                                   'characters; save it again from Excel with only the recipients. Nothing was '
                                   'loaded.')
            parts.append(text)

    if name in archive.NameToInfo:
        _parse(archive, name, _Handler(on_start, on_end, on_text))
    return strings


def _cell_too_long() -> FileRejected:
    return FileRejected(f'A cell of this file holds more than {CELL_MAX_CHARS:,} characters, more than Excel '
                        'allows; save it again from Excel. Nothing was loaded.')


def _sheet_rows(archive: zipfile.ZipFile, book: _Workbook, strings: list[str]) -> Iterator[list[str]]:
    """The first sheet's rows, streamed: the parser is fed a block at a time and the rows it completed are handed
    on before the next block, so only a block's worth of rows is ever held."""
    done: list[list[str]] = []
    cells: dict[int, str] = {}
    cell: dict[str, object] = {}
    text: list[str] = []
    length = [0]
    epoch = '1904' if book.epoch_1904 else '1900'
    collecting = [False]
    line = [0]

    def on_start(tag: str, attrs: dict[str, str]) -> None:
        if tag == 'row':
            cells.clear()
            row_number = attrs.get('r')
            number = int(row_number) if row_number and row_number.isdigit() else line[0] + 1
            if number > XLSX_MAX_LINES:
                raise FileRejected(f'This file has more than {XLSX_MAX_LINES:,} lines, more than Excel allows; save '
                                   'it again from Excel. Nothing was loaded.')
            if number > line[0] + 1:  # rows Excel left out are blank lines (one shared empty row: never changed)
                done.extend(repeat(_BLANK, number - line[0] - 1))
            line[0] = number
        elif tag == 'c':
            cell.clear()
            cell.update(ref=attrs.get('r', ''), type=attrs.get('t', 'n'), style=attrs.get('s', ''))
            text.clear()
            length[0] = 0
        elif tag in ('v', 't'):
            collecting[0] = True

    def on_end(tag: str) -> None:
        if tag in ('v', 't'):
            collecting[0] = False
        elif tag == 'c':
            value = _cell_value(cell, ''.join(text), strings, book.date_styles, epoch)
            column = _column_index(str(cell['ref'])) if cell['ref'] else len(cells)
            if value:
                if column >= MAX_COLUMNS:
                    raise FileRejected(f'Line {line[0]} of this file has more than {MAX_COLUMNS} columns. The '
                                       'template has 4: delete the extra columns, or copy the four columns into '
                                       'the template, and upload it again. Nothing was loaded.')
                cells[column] = value
            elif column < MAX_COLUMNS:
                cells.setdefault(column, '')
        elif tag == 'row':
            width = max((c + 1 for c, v in cells.items() if v), default=0)
            done.append([cells.get(c, '') for c in range(width)])

    def on_text(chunk: str) -> None:
        if collecting[0]:
            length[0] += len(chunk)
            if length[0] > CELL_MAX_CHARS:
                raise _cell_too_long()
            text.append(chunk)

    parser = _parser(_Handler(on_start, on_end, on_text))
    with archive.open(book.sheet) as part:
        while block := part.read(_FEED_BLOCK):
            parser.feed(block)
            yield from done
            done.clear()
        parser.close()
    yield from done


def _cell_value(cell: dict[str, object], text: str, strings: list[str], date_styles: set[int], epoch: str) -> str:
    kind = cell['type']
    if kind == 's':
        try:
            return strings[int(text)]
        except (ValueError, IndexError):
            return ''
    if kind in ('inlineStr', 'str', 'e'):
        return text
    if kind == 'b':
        return 'TRUE' if text.strip() == '1' else 'FALSE'
    if kind == 'd':
        try:
            return _date_text(datetime.fromisoformat(text.strip()))
        except ValueError:
            return text
    style = str(cell['style'])
    try:
        number = float(text)
    except ValueError:
        return text
    if style.isdigit() and int(style) in date_styles:
        from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel
        try:
            moment = from_excel(number, CALENDAR_MAC_1904 if epoch == '1904' else CALENDAR_WINDOWS_1900)
        except (ValueError, OverflowError):
            return text
        if isinstance(moment, datetime | date):
            return _date_text(moment)
    return str(int(number)) if number.is_integer() and abs(number) < 1e15 else text


def _date_text(moment: date) -> str:
    return f'{moment.month}/{moment.day}/{moment.year}'


def _column_index(reference: str) -> int:
    """0-based column of a cell reference like "B7" (letters beyond XFD count as far right)."""
    index = 0
    for ch in reference:
        if not ch.isalpha():
            break
        index = index * 26 + (ord(ch.upper()) - 64)
        if index > 20_000:
            break
    return index - 1


class _Handler(ContentHandler):
    """SAX callbacks by local name (a prefix such as x: is dropped); attributes as a plain dict."""

    def __init__(self, on_start=None, on_end=None, on_text=None) -> None:  # noqa: ANN001
        super().__init__()
        self._on_start, self._on_end, self._on_text = on_start, on_end, on_text

    def startElement(self, name: str, attrs) -> None:  # noqa: ANN001, N802
        if self._on_start:
            self._on_start(name.rpartition(':')[2], {k.rpartition(':')[2] if k != 'r:id' else k: v
                                                     for k, v in attrs.items()})

    def endElement(self, name: str) -> None:  # noqa: N802
        if self._on_end:
            self._on_end(name.rpartition(':')[2])

    def characters(self, content: str) -> None:
        if self._on_text:
            self._on_text(content)


def _parser(handler: _Handler) -> DefusedExpatParser:
    # forbid_dtd: no workbook part has a DTD; that also refuses every entity definition before it is read
    parser = DefusedExpatParser(forbid_dtd=True, forbid_entities=True, forbid_external=True)
    parser.setContentHandler(handler)
    return parser


def _parse(archive: zipfile.ZipFile, name: str, handler: _Handler) -> None:
    parser = _parser(handler)
    with archive.open(name) as part:
        while block := part.read(_FEED_BLOCK):
            parser.feed(block)
    parser.close()
