"""State admin screen for the FHIR read API: issue a bearer token for a location or the state (shown once), and
revoke tokens."""
from __future__ import annotations

from nicegui import ui

from components.error_summary import ErrorSummary, required
from components.guard import acting
from components.page import page
from components.theme import heading
from services.core import localtime
from services.core.errors import ServiceError
from services.fhir import tokens
from services.fhir.resources import api_base
from services.inventory import ledger
from services.permissions import Action
from services.principal import Principal

STATE = 0  # the scope choice "whole state" (a select needs a value)
COLUMNS = [{'name': n, 'label': label, 'field': n, 'align': 'left', 'sortable': True} for n, label in [
    ('name', 'Used by'), ('scope', 'Reads'), ('hint', 'Token starts with'), ('created', 'Issued'),
    ('last_used', 'Last used'), ('status', 'Status')]]


def token_rows(found: list[tokens.TokenPublic]) -> list[dict]:
    return [{'id': t.id, 'name': t.name, 'scope': t.scope, 'hint': f'{t.hint}…',
             'created': f'{localtime.time_label(t.created_at, named=True)} by {t.created_by or "system"}',
             'last_used': localtime.time_label(t.last_used_at, named=True) if t.last_used_at else 'Never',
             'status': f'Revoked {localtime.time_label(t.revoked_at, named=True)}' if t.revoked_at else 'Active'}
            for t in found]


@page('/admin/fhir-tokens', title='FHIR API tokens', action=Action.MANAGE_USERS)
def fhir_tokens_page(principal: Principal) -> None:
    ui.label(f'Other systems (the state registry, a health information exchange) read immunization records through '
             f'the FHIR R4 API at {api_base()} with a bearer token. A token reads one location\'s records or the '
             f'whole state\'s; every read is in the audit log.').classes('text-sm')
    locations = {loc.id: f'{loc.name} ({loc.code})' for loc in ledger.visible_locations(principal=principal)}

    with ui.card().classes('w-full'):
        heading('Issue a token')
        summary = ErrorSummary()
        with ui.row().classes('items-start gap-2'):
            name = required(ui.input('Used by', placeholder='e.g. NCIR nightly sync')).classes('w-96') \
                .mark('token-name')
            reach = ui.select({STATE: 'Whole state', **locations}, label='Reads', value=STATE).classes('w-96') \
                .mark('token-scope')
        shown = ui.column().classes('w-full gap-1')

        def issue() -> None:
            shown.clear()
            if summary.show([(name, 'Enter who will use this token.')] if not (name.value or '').strip() else [],
                            mark_fields=True):
                return
            try:
                issued = tokens.issue_token(principal=acting(), name=name.value,
                                            location_id=None if reach.value == STATE else reach.value)
            except ServiceError as error:
                summary.show([(name, str(error))], mark_fields=True)
                return
            with shown:
                ui.label('Copy this token now: it is shown only once and cannot be read again.') \
                    .classes('font-semibold text-green-900').props('role=status')
                ui.input('Token', value=issued.token).props('readonly').classes('w-full font-mono') \
                    .mark('token-value')
            name.value = ''
            table_of_tokens.refresh()

        ui.button('Issue token', on_click=issue).props('color=primary no-caps').mark('token-issue')

    heading('Tokens')

    @ui.refreshable
    def table_of_tokens() -> None:
        found = tokens.list_tokens(principal=acting())
        if not found:
            ui.label('No token has been issued yet.').mark('tokens-empty')
            return
        ui.table(columns=COLUMNS, rows=token_rows(found), row_key='id').classes('w-full').mark('tokens-table')
        active = {t.id: f'{t.name} ({t.hint}…)' for t in found if t.revoked_at is None}
        if active:
            with ui.row().classes('items-end gap-2'):
                chosen = ui.select(active, label='Token to revoke').classes('w-96').mark('token-revoke-choice')

                def revoke() -> None:
                    if chosen.value is None:
                        ui.notify('Choose the token to revoke.', type='warning')
                        return
                    try:
                        tokens.revoke_token(principal=acting(), token_id=chosen.value)
                    except ServiceError as error:
                        ui.notify(str(error), type='negative')
                        return
                    ui.notify('Token revoked: it no longer reads anything.', type='positive')
                    table_of_tokens.refresh()

                ui.button('Revoke', on_click=revoke).props('color=negative outline no-caps').mark('token-revoke')

    table_of_tokens()
