"""The error summary at the top of a form (the GOV.UK / NHS pattern): "There is a problem" and one link per
error, each leading to its field; focus moves to it when a save is refused. With `mark_fields`, each Quasar field
also shows its message beside it, is marked invalid and is described by its summary entry (aria-describedby);
`required` marks a field required (asterisk and aria-required)."""
from __future__ import annotations

from nicegui import ui

from .focus import focus_selector

_FOCUS_FIELD = ('(e) => { e.preventDefault(); const el = document.getElementById("FIELD"); if (!el) return; '
                'el.scrollIntoView({block: "center"}); '
                '(el.querySelector(\'[tabindex="0"],input,select,textarea,button\') || el).focus(); }')


class ErrorSummary:
    def __init__(self, title: str = 'There is a problem') -> None:
        self.title = title
        self.marked: list[ui.element] = []
        self.box = ui.column().classes('w-full gap-1 p-3 border-l-4 border-red-700 bg-red-50') \
            .props('role=alert tabindex=-1').mark('error-summary')
        self.box.set_visibility(False)

    def show(self, problems: list[tuple[ui.element, str]], *, mark_fields: bool = False) -> bool:
        """List `problems` ((field, message) pairs) and move focus to the summary; with none, hide it. True when
        there were problems. `mark_fields`: the fields are Quasar inputs/selects to mark invalid beside them."""
        self.hide()
        if not problems:
            return False
        with self.box:
            title = ui.label(self.title).classes('text-lg font-semibold text-red-900') \
                .props('role=heading aria-level=2')
            with ui.element('ul').classes('list-disc pl-5'):
                for field, message in problems:
                    with ui.element('li') as item:
                        # the field's first control takes focus, as a click on its label would
                        ui.link(message, f'#c{field.id}').classes('text-red-900 underline') \
                            .on('click', js_handler=_FOCUS_FIELD.replace('FIELD', f'c{field.id}'))
                    if mark_fields:
                        _mark_invalid(field, message, described_by=f'c{item.id}')
                        self.marked.append(field)
        self.box.props(f'aria-labelledby=c{title.id}')
        self.box.set_visibility(True)
        focus_selector(f'#c{self.box.id}')
        return True

    def hide(self) -> None:
        for field in self.marked:
            field.props(remove='error error-message aria-invalid aria-describedby')
        self.marked.clear()
        self.box.set_visibility(False)
        self.box.clear()


def required(field: ui.element) -> ui.element:
    """Mark a field required: an asterisk after its label (the guide's convention) and aria-required on its input
    (Quasar passes attributes on to it), which screen readers announce as "required"."""
    label = str(field.props.get('label') or '')
    if label and not label.endswith('*'):
        field.props['label'] = f'{label} *'
    if not isinstance(field, ui.select) or field.props.get('use-input'):
        # a QSelect without typing puts attributes on its outer element, where aria-required is not allowed (axe)
        field.props['aria-required'] = 'true'
    field.update()
    return field


def _mark_invalid(field: ui.element, message: str, *, described_by: str) -> None:
    """Quasar shows `error-message` under the field; its input says it is invalid and is described by the
    summary's entry, which holds the same message."""
    field.props['error'] = True
    field.props['error-message'] = message
    field.props['aria-invalid'] = 'true'
    field.props['aria-describedby'] = described_by
    field.update()
