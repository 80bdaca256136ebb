"""The look every page shares: the state's palette at WCAG 2.2 AA contrast, the stylesheet (focus indicator, skip
link, link colours) and the small script for what CSS cannot do (scroll areas reachable by keyboard, focus on the
new page's heading). Served as files, not inline, so a Content-Security-Policy without 'unsafe-inline' scripts
holds."""
from __future__ import annotations

import hashlib
from html import escape
from pathlib import Path

from nicegui import app, ui

ASSETS = Path(__file__).resolve().parent.parent / 'assets'
CSS_FILE = ASSETS / 'app.css'
SCRIPT_URL = '/cvms-static/a11y.js'
CSS_URL = '/cvms-static/app.css'
CSS_VERSION = hashlib.sha256(CSS_FILE.read_bytes()).hexdigest()[:12]  # a changed stylesheet is fetched anew
LANGUAGE = 'en-US'  # the staff screens' language (the html element's lang); the portal sets its reader's

# Quasar's defaults fail AA with white text (positive #21ba45 is 2.56:1, warning #f2c037 1.69:1, info and
# secondary below 3:1); these keep each colour's hue at 4.5:1 or more against white, both ways.
PALETTE = {
    'primary': '#1f4e79',    # 8.9:1
    'secondary': '#0f766e',  # 5.5:1
    'accent': '#7b1fa2',     # 8.0:1
    'positive': '#15803d',   # 5.0:1
    'negative': '#b91c1c',   # 6.5:1
    'info': '#0369a1',       # 5.9:1
    'warning': '#a15c07',    # 5.0:1
}


def register_static() -> None:
    """Serve the accessibility script and the stylesheet (once per app; build_app runs this)."""
    app.add_static_file(local_file=ASSETS / 'a11y.js', url_path=SCRIPT_URL)
    app.add_static_file(local_file=CSS_FILE, url_path=CSS_URL)


def apply_theme() -> None:
    """For a page being built: the palette, the stylesheet and the script. The stylesheet is linked, not inlined:
    a browser keeps it, and each page load neither reads the file nor sends its 4.7 kB again (issue 17)."""
    ui.add_head_html(f'<link rel="stylesheet" href="{CSS_URL}?v={CSS_VERSION}">'
                     f'<script defer src="{SCRIPT_URL}"></script>')
    ui.colors(**PALETTE)


def skip_link(target: ui.element, text: str = 'Skip to main content') -> None:
    """The keyboard's first stop (WCAG 2.4.1), off-screen until focused; `text` in the page's language."""
    ui.link(text, f'#{target.html_id}').classes('cvms-skip-link')


def main_region(*classes: str) -> ui.element:
    """The page's content inside Quasar's <main> landmark (its q-page): the skip link's target, focusable by the
    link (not by Tab)."""
    return ui.element('div').props('tabindex=-1').classes(' '.join(('cvms-main', *classes)))


def heading(text: str, *, level: int = 2) -> ui.label:
    """A section or panel heading (h2 by default): screen-reader users move between headings."""
    return ui.label(text).props(f'role=heading aria-level={level}') \
        .classes('cvms-heading text-lg font-semibold' if level > 1 else 'cvms-heading text-2xl font-semibold')


def disclosure_links(label: str, entries: list[tuple[str, str]], *, icon: str | None = None) -> None:
    """A button showing a list of links under it: the WAI disclosure pattern for navigation, kept inside the
    header's landmark (a Quasar menu is drawn outside every landmark and speaks of menu items, not links).
    assets/a11y.js opens and closes it: click or Enter toggles, Escape closes and returns focus to the button, a
    click elsewhere closes it. With `icon`, the button shows the icon and `label` is its accessible name."""
    with ui.element('div').classes('relative'):
        button = ui.button(icon=icon) if icon else ui.button(label).props('no-caps icon-right=expand_more')
        button.props('flat color=white aria-expanded=false data-cvms-disclosure')
        if icon:
            button.props['aria-label'] = label
        panel = static_links(entries, tag='ul', item='li', link_classes='cvms-more-link') \
            .props('hidden').classes('cvms-more-panel')
        button.props(f'aria-controls={panel.html_id}')


def static_links(entries: list[tuple[str, str]], *, tag: str, link_classes: str = '', item: str = '') -> ui.html:
    """Plain links (no events) drawn as one element holding their HTML, the same <a href> a ui.link draws (each in
    an `item` element when given). Every element costs each connected browser's server side a few dozen Python
    objects (issue 17): the portal's menu and navigation were 21 elements of the 50 on its home page."""
    html = ''.join(
        (f'<{item}>' if item else '')
        + f'<a class="nicegui-link {escape(link_classes)}" href="{escape(path)}">{escape(text)}</a>'
        + (f'</{item}>' if item else '')
        for text, path in entries)
    return ui.html(html, sanitize=False, tag=tag)  # escaped above: texts come from catalogs and our own paths
