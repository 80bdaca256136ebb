"""CSV files that are safe to open in a spreadsheet: the one place every export goes through.

A cell that starts with = + - @, a tab or a carriage return can run as a formula in Excel, LibreOffice or
Google Sheets (CSV injection). Such a cell is written with a leading apostrophe, which spreadsheets show as text.
This applies to every cell, numbers included, so no value can ever start a formula.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_STARTS = ('=', '+', '-', '@', '\t', '\r')


def safe_cell(value: object) -> str:
    text = '' if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """The whole file as text (CRLF line ends, every cell made safe)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(cell) for cell in header])
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return buffer.getvalue()


def to_csv_bytes(header: Sequence[object], rows: Iterable[Sequence[object]]) -> bytes:
    """UTF-8 with a byte-order mark, so Excel shows accented names correctly."""
    return to_csv(header, rows).encode('utf-8-sig')
