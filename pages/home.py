"""Home: each role's dashboard."""
from __future__ import annotations

from nicegui import ui

from components.desk_panels import desk
from components.guard import protected_page
from models import Role
from services import dashboard
from services.permissions import Action
from services.principal import Principal


@protected_page('/', Action.VIEW_DASHBOARD, title='Home')
def home_page(principal: Principal) -> None:
    if principal.role in (Role.LOCATION_MANAGER, Role.HEALTHCARE_PROVIDER):
        desk(principal)
    elif principal.role == Role.STATE_ADMIN:
        _figures(dashboard.admin_summary(principal))
    elif principal.role == Role.EMPLOYER:
        ui.label('Invite your employees to register for vaccination with Bulk Registration.')
        _figures(dashboard.employer_summary(principal))
    elif principal.role == Role.RECIPIENT:
        _household(principal)


def _figures(figures: dict[str, int]) -> None:
    with ui.row().classes('w-full gap-4'):
        for label, value in figures.items():
            with ui.card().classes('min-w-[180px]'):
                ui.label(f'{value:,}').classes('text-3xl font-bold')
                ui.label(label).classes('text-sm')


def _household(principal: Principal) -> None:
    people = dashboard.household(principal)
    ui.label('Your household').classes('text-lg font-semibold')
    if not people:
        ui.label('No one is linked to this account yet.')
    for person in people:
        with ui.card().classes('w-full max-w-xl'):
            ui.label(f'{person.first_name} {person.last_name}').classes('font-medium')
            ui.label(f'Date of birth: {person.date_of_birth:%m/%d/%Y}')
