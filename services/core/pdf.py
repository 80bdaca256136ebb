"""The one way a PDF of this system starts (proof of vaccination, the signed Provider Agreement): US letter, the
document's title, and a font that prints every name (DejaVu when the system has it; else a core font, Latin-1)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fpdf import FPDF

UNICODE_FONT = Path('/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf')
UNICODE_FONT_BOLD = Path('/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf')


def new_document(title: str) -> tuple[FPDF, str, Callable[[str], str]]:
    """A letter-size PDF with its first page, the font family to use, and `text`, which makes a value printable in
    that family (a core font cannot print outside Latin-1: such characters become '?')."""
    pdf = FPDF(format='letter')
    pdf.set_title(title)
    pdf.add_page()
    if UNICODE_FONT.exists() and UNICODE_FONT_BOLD.exists():
        pdf.add_font('body', '', str(UNICODE_FONT))
        pdf.add_font('body', 'B', str(UNICODE_FONT_BOLD))
        family = 'body'
    else:  # core font: Latin-1 only
        family = 'helvetica'

    def text(value: str) -> str:
        return value if family == 'body' else value.encode('latin-1', 'replace').decode('latin-1')

    return pdf, family, text
