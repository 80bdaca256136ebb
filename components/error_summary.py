"""The error summary at the top of a form (the GOV.UK / NHS pattern): "There is a problem" and one link per
error, each leading to its field; focus moves to it when a save is refused."""
from __future__ import annotations

from nicegui import ui

from .focus import focus_selector

_FOCUS_FIELD = ('(e) => { e.preventDefault(); const el = document.getElementById("FIELD"); if (!el) return; '
                'el.scrollIntoView({block: "center"}); '
                '(el.querySelector(\'[tabindex="0"],input,select,textarea,button\') || el).focus(); }')


class ErrorSummary:
    def __init__(self) -> None:
        self.box = ui.column().classes('w-full gap-1 p-3 border-l-4 border-red-700 bg-red-50') \
            .props('role=alert tabindex=-1').mark('error-summary')
        self.box.set_visibility(False)

    def show(self, problems: list[tuple[ui.element, str]]) -> None:
        """List `problems` ((field, message) pairs) and move focus to the summary."""
        self.box.clear()
        with self.box:
            title = ui.label('There is a problem').classes('text-lg font-semibold text-red-900') \
                .props('role=heading aria-level=2')
            with ui.element('ul').classes('list-disc pl-5'):
                for field, message in problems:
                    with ui.element('li'):
                        # the field's first control takes focus, as a click on its label would
                        ui.link(message, f'#c{field.id}').classes('text-red-900 underline') \
                            .on('click', js_handler=_FOCUS_FIELD.replace('FIELD', f'c{field.id}'))
        self.box.props(f'aria-labelledby=c{title.id}')
        self.box.set_visibility(True)
        focus_selector(f'#c{self.box.id}')

    def hide(self) -> None:
        self.box.set_visibility(False)
        self.box.clear()
