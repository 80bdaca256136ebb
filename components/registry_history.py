"""The desk's look-up in the state registry (services/registry/history.py): a button beside the person found at
Check-In or Walk-In, and what the registry holds under it: doses given elsewhere and the next dose due, several
candidates, nobody, or that the registry could not be reached (the desk goes on without it)."""
from __future__ import annotations

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
                _answer(answer)

    async def ask() -> None:
        principal = acting()
        button.disable()
        await shown.refresh(None, True)
        try:
            answer = await run.io_bound(history.query_history, principal=principal, recipient_id=recipient_id,
                                        named=named)
        except ServiceError as error:
            answer = history.RegistryHistory(history.REFUSED, str(error))
        finally:
            button.enable()
        await shown.refresh(answer, False)

    button = ui.button('Registry history', on_click=ask).props('outline dense no-caps') \
        .mark(f'registry-ask-{recipient_id}')
    with ui.column().classes('w-full').props('role=status aria-live=polite'):
        shown(None, False)


def _answer(answer: history.RegistryHistory) -> None:
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
    for candidate in answer.candidates:
        born = f'{candidate.date_of_birth:%m/%d/%Y}' if candidate.date_of_birth else ''
        ui.label(' · '.join(p for p in (candidate.name, born, candidate.address) if p)).classes('text-sm') \
            .mark('registry-candidate')
