"""The desk's look-up in the state registry (services/registry/history.py): a button beside the person found at
Check-In or Walk-In, and what the registry holds under it: doses given elsewhere and the next dose due, several
candidates, nobody, or that the registry could not be reached (the desk goes on without it)."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

from nicegui import run, ui

from services.core.errors import ServiceError
from services.registry import history

from .guard import acting


def registry_history_button(recipient_id: int, *, named: tuple[str, str, date] | None = None) -> None:
    """Nothing when no registry is configured."""
    if not history.configured():
        return

    @ui.refreshable
    def shown(answer: history.RegistryHistory | None, asking: bool) -> None:
        with ui.column().classes('w-full gap-1').mark(f'registry-history-{recipient_id}'):
            if asking:
                ui.label('Asking the state registry…').classes('text-sm')
            elif answer is not None:
                _answer(answer, pick=ask)

    async def ask(candidate: str = '') -> None:
        principal = acting()
        button.disable()
        await shown.refresh(None, True)
        try:
            answer = await run.io_bound(history.query_history, principal=principal, recipient_id=recipient_id,
                                        named=named, candidate=candidate)
        except ServiceError as error:
            answer = history.RegistryHistory(history.REFUSED, str(error))
        finally:
            button.enable()
        await shown.refresh(answer, False)

    button = ui.button('Registry history', on_click=lambda: ask()).props('outline dense no-caps') \
        .mark(f'registry-ask-{recipient_id}')
    with ui.column().classes('w-full').props('role=status aria-live=polite'):
        shown(None, False)


def _answer(answer: history.RegistryHistory, *, pick: Callable[[str], Awaitable[None]]) -> None:
    tone = 'text-red-800' if answer.outcome in (history.UNAVAILABLE, history.REFUSED) else ''
    ui.label(answer.message).classes(f'text-sm {tone}').mark('registry-history-message')
    if answer.outcome == history.FOUND:
        elsewhere = answer.given_elsewhere
        ui.label('Doses given elsewhere' if elsewhere else 'No dose given elsewhere.').classes('text-sm font-semibold')
        for dose in elsewhere:
            given = f'{dose.given_on:%m/%d/%Y}' if dose.given_on else 'date unknown'
            ui.label(f'{given} · {dose.vaccine} · {dose.where or "place unknown"}').classes('text-sm') \
                .mark('registry-dose-elsewhere')
        for forecast in answer.forecasts:
            due = f'due {forecast.due:%m/%d/%Y}' if forecast.due else 'no further dose due'
            earliest = f' (not before {forecast.earliest:%m/%d/%Y})' if forecast.earliest else ''
            ui.label(f'Next dose of {forecast.vaccine}: {due}{earliest}').classes('text-sm font-semibold') \
                .mark('registry-next-due')
    for number, candidate in enumerate(answer.candidates, start=1):
        born = f'{candidate.date_of_birth:%m/%d/%Y}' if candidate.date_of_birth else ''
        with ui.row().classes('w-full items-center justify-between no-wrap gap-2'):
            ui.label(' · '.join(p for p in (candidate.name, born, candidate.address) if p)).classes('text-sm') \
                .mark('registry-candidate')
            if candidate.registry_id:  # asked again with the registry's id of the one the person confirms
                chosen = ui.button('This person', on_click=lambda c=candidate: pick(c.registry_id)) \
                    .props('dense flat no-caps').mark(f'registry-pick-{number}')
                chosen.props['aria-label'] = f'This person: {candidate.name} {born}'  # the registry's text, unparsed
