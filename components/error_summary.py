"""The error summary at the top of a form (the GOV.UK / NHS pattern): "There is a problem" and one link per
error, each leading to its field; focus moves to it when a save is refused. With `mark_fields`, each Quasar field
also shows its message beside it, is marked invalid and is described by its summary entry (aria-describedby);
`required` marks a field required (asterisk and aria-required).

A form uses one summary: `require(field, message)` for each required field, `missing()` before saving (the empty
required fields, with any other problems the page found), `refuse(message, field)` for what a service refused."""
from __future__ import annotations

from collections.abc import Sequence

from nicegui import ui
from nicegui.elements.mixins.validation_element import ValidationElement

from .focus import focus_selector

_FOCUS_FIELD = ('(e) => { e.preventDefault(); const el = document.getElementById("FIELD"); if (!el) return; '
                'el.scrollIntoView({block: "center"}); '
                '(el.querySelector(\'[tabindex="0"],input,select,textarea,button\') || el).focus(); }')


class ErrorSummary:
    def __init__(self, title: str = 'There is a problem') -> None:
        self.title = title
        self.marked: list[tuple[ui.element, str]] = []  # a marked field and the aria-describedby it had before
        self.needed: list[tuple[ui.element, str]] = []
        self.box = ui.column().classes('w-full gap-1 p-3 border-l-4 border-red-700 bg-red-50') \
            .props('role=alert tabindex=-1').mark('error-summary')
        self.box.set_visibility(False)

    def require(self, field: ui.element, message: str) -> ui.element:
        """Mark `field` required; `message` (what to enter) is shown when it is left empty (see `missing`)."""
        self.needed.append((field, message))
        return required(field)

    def missing(self, others: Sequence[tuple[ui.element | None, str]] = ()) -> bool:
        """Show the required fields left empty and `others` (problems the page found) beside their fields and in
        the summary, focused; True when there was any (the form must not be saved)."""
        empty = [(field, message) for field, message in self.needed if _blank(getattr(field, 'value', None))]
        return self.show([*empty, *others], mark_fields=True)

    def refuse(self, message: str, field: ui.element | None = None, *,
               about: dict[str, ui.element] | None = None) -> None:
        """A refusal (a service's message): in the summary, linked to and shown beside `field` when it is about
        one, else beside the first field of `about` whose word (e.g. 'phone') the message names; focus moves to the
        summary."""
        if field is None and about:
            lowered = message.lower()
            field = next((element for word, element in about.items() if word.lower() in lowered), None)
        self.show([(field, message)], mark_fields=True)

    def show(self, problems: list[tuple[ui.element | None, str]], *, mark_fields: bool = False) -> bool:
        """List `problems` ((field, message) pairs) and move focus to the summary; with none, hide it. True when
        there were problems. `mark_fields`: Quasar inputs and selects are marked invalid, the message beside them. A
        problem about no one field (field None) is listed without a link."""
        self.hide()
        if not problems:
            return False
        with self.box:
            title = ui.label(self.title).classes('text-lg font-semibold text-red-900') \
                .props('role=heading aria-level=2')
            with ui.element('ul').classes('list-disc pl-5'):
                for field, message in problems:
                    with ui.element('li') as item:
                        if field is None:
                            ui.label(message).classes('text-red-900')
                            continue
                        # the field's first control takes focus, as a click on its label would
                        ui.link(message, f'#c{field.id}').classes('text-red-900 underline') \
                            .on('click', js_handler=_FOCUS_FIELD.replace('FIELD', f'c{field.id}'))
                    if mark_fields and isinstance(field, ValidationElement):  # a radio group marks its own
                        # a field already described (e.g. by warnings beside it) stays described by them too
                        before = str(field.props.get(_aria(field, 'describedby')) or '')
                        _mark_invalid(field, message, described_by=f'c{item.id} {before}'.strip())
                        self.marked.append((field, before))
        self.box.props(f'aria-labelledby=c{title.id}')
        self.box.set_visibility(True)
        focus_selector(f'#c{self.box.id}')
        return True

    def hide(self) -> None:
        for field, before in self.marked:
            field.props(remove=f'error error-message {_aria(field, "invalid")} {_aria(field, "describedby")}')
            if before:
                field.props[_aria(field, 'describedby')] = before
                field.update()
        self.marked.clear()
        self.box.set_visibility(False)
        self.box.clear()


def required(field: ui.element) -> ui.element:
    """Mark a field required: an asterisk after its label (the guide's convention) and aria-required on its input,
    which screen readers announce as "required"."""
    label = str(field.props.get('label') or '')
    if label and not label.endswith('*'):
        field.props['label'] = f'{label} *'
    field.props[_aria(field, 'required')] = 'true'
    field.update()
    return field


def _aria(field: ui.element, name: str) -> str:
    """The attribute carrying `aria-<name>` for a field: a Quasar input passes attributes on to its <input>, a
    select keeps them on its outer <label>, where they are not allowed; assets/a11y.js moves `data-cvms-aria-<name>`
    to the select's combobox."""
    return f'data-cvms-aria-{name}' if isinstance(field, ui.select) else f'aria-{name}'


def _blank(value: object) -> bool:
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


def _mark_invalid(field: ui.element, message: str, *, described_by: str) -> None:
    """Quasar shows `error-message` under the field; its input says it is invalid and is described by the
    summary's entry, which holds the same message."""
    field.props['error'] = True
    field.props['error-message'] = message
    field.props[_aria(field, 'invalid')] = 'true'
    field.props[_aria(field, 'describedby')] = described_by
    field.update()
