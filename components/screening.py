"""The screening questionnaire at the desk: one labelled radio group per question (the question is the group's
name, No and Yes its options), nothing pre-answered but what the person answered in the portal (marked as
theirs), and one "None of these apply" action that answers the rest No."""
from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from services.clinic.common import SCREENING_QUESTIONS, unanswered_screening

ANSWERS = {'no': 'No', 'yes': 'Yes'}
THEIR_ANSWER = "The recipient's answer in the portal"


class ScreeningQuestions:
    """`answers`: those already given; `by_recipient`: the keys the person answered in the portal;
    `on_none_apply(count)` runs after "None of these apply" answered `count` questions."""

    def __init__(self, answers: dict[str, str], *, by_recipient: frozenset[str] = frozenset(),
                 on_none_apply: Callable[[int], None] | None = None) -> None:
        self.groups: dict[str, ui.radio] = {}
        self.errors: dict[str, ui.label] = {}
        self.on_none_apply = on_none_apply
        with ui.column().classes('w-full gap-3').mark('screening'):
            ui.label('Ask each question.' + (' Answers the person gave in the portal are filled in and marked; '
                                              'change them if the person now answers differently.'
                                              if by_recipient else '')).classes('text-sm')
            self.none_apply = ui.button('None of these apply', on_click=self.answer_rest_no).props('outline no-caps') \
                .mark('screening-none-apply')
            for key, question in SCREENING_QUESTIONS:
                self._question(key, question, answers.get(key), theirs=key in by_recipient)

    def _question(self, key: str, question: str, answer: str | None, *, theirs: bool) -> None:
        with ui.column().classes('w-full gap-0'):
            name = ui.label(question + ' *').classes('text-sm font-medium')
            with ui.row().classes('items-center gap-3'):
                group = ui.radio(ANSWERS, value=answer if answer in ANSWERS else None).props('inline dense') \
                    .mark(f'screening-{key}')
                described = []
                if theirs:
                    mark = ui.label(f'{THEIR_ANSWER} ({ANSWERS[answer or "no"]})') \
                        .classes('text-xs px-2 rounded bg-blue-50 text-blue-900').mark(f'screening-theirs-{key}')
                    described.append(f'c{mark.id}')
            error = ui.label('').classes('text-sm font-medium text-red-800').mark(f'screening-error-{key}')
            error.set_visibility(False)
            described.append(f'c{error.id}')
        group.props(f'role=radiogroup aria-labelledby=c{name.id} aria-required=true '
                    f'aria-describedby="{" ".join(described)}"')
        group.on_value_change(lambda: self._answered(key))
        self.groups[key] = group
        self.errors[key] = error

    def values(self) -> dict[str, str]:
        return {key: group.value for key, group in self.groups.items() if group.value in ANSWERS}

    def unanswered(self) -> list[str]:
        return unanswered_screening(self.values())

    def answer_rest_no(self) -> None:
        rest = self.unanswered()
        for key in rest:
            self.groups[key].value = 'no'
        if self.on_none_apply is not None:
            self.on_none_apply(len(rest))

    def show_errors(self) -> list[tuple[ui.element, str]]:
        """Mark each unanswered question with its error; return (group, message) for the error summary."""
        missing = []
        questions = dict(SCREENING_QUESTIONS)
        for key in self.unanswered():
            self.errors[key].set_text('Answer No or Yes to this question.')
            self.errors[key].set_visibility(True)
            self.groups[key].props('aria-invalid=true')
            missing.append((self.groups[key], f'Answer: {questions[key]}'))
        return missing

    def _answered(self, key: str) -> None:
        if self.groups[key].value in ANSWERS and self.errors[key].visible:
            self.errors[key].set_visibility(False)
            self.groups[key].props(remove='aria-invalid')
