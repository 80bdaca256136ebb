"""Moving keyboard focus from the server: to a result's main action after a look-up, to an error summary, to a
page's heading when it opens. Focus follows the work so a keyboard or screen-reader user does not hunt for it."""
from __future__ import annotations

from nicegui import ui

# An update is drawn a tick after it arrives, so the element is looked for a few times. Inside an element that is
# not focusable itself (a Quasar field, a radio group), its first control takes the focus; a heading gets
# tabindex=-1 so it can hold focus without becoming a Tab stop (an element given tabindex=-1 keeps the focus itself).
_FOCUS_JS = '''
(function tryFocus(selector, left) {
  const el = document.querySelector(selector);
  if (!el) { if (left > 0) setTimeout(() => tryFocus(selector, left - 1), 20); return; }
  const controls = 'a[href],button,input,select,textarea,[tabindex]:not([tabindex="-1"])';
  const target = el.matches(controls + ',[tabindex]') ? el : (el.querySelector(controls) || el);
  if (!target.matches(controls + ',[tabindex]')) target.setAttribute('tabindex', '-1');
  target.focus();
})(SELECTOR, 50)
'''


def focus(element: ui.element) -> None:
    """Put keyboard focus on `element` (or its first control) once the browser has drawn it."""
    focus_selector(f'#c{element.id}')


def focus_selector(selector: str) -> None:
    """Put keyboard focus on the first element matching a CSS `selector`, e.g. the page's heading."""
    ui.run_javascript(_FOCUS_JS.replace('SELECTOR', repr(selector)))


def focus_page_heading() -> None:
    """Focus the page's title (level-1 heading): where a screen reader starts reading a page just opened."""
    focus_selector('h1, [role="heading"][aria-level="1"]')
