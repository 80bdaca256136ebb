"""Home: each role's dashboard."""
from __future__ import annotations

from fastapi.responses import RedirectResponse
from nicegui import ui

from components.desk_panels import desk
from components.page import page
from models import Role
from services import dashboard
from services.permissions import Action
from services.principal import Principal


@page('/', title='Home', action=Action.VIEW_DASHBOARD)
def home_page(principal: Principal) -> RedirectResponse | None:
    if principal.role == Role.RECIPIENT:  # recipients' Home is the portal (pages/portal.py), built for phones
        return RedirectResponse('/portal')
    if principal.role == Role.HELP_DESK_AGENT:  # the help desk's home is its queue; providers' their cases
        return RedirectResponse('/help-desk')
    if principal.role == Role.SUPPORT_USER:
        return RedirectResponse('/support')
    if principal.role == Role.ENROLLMENT_CONTACT:  # a provider enrolling: the Provider Agreement is all they do
        return RedirectResponse('/enrollment')
    if principal.role in (Role.LOCATION_MANAGER, Role.HEALTHCARE_PROVIDER):
        desk(principal)
    elif principal.role == Role.STATE_ADMIN:
        _figures(dashboard.admin_summary(principal=principal))
    elif principal.role == Role.EMPLOYER:
        ui.label('Invite your employees to register for vaccination with Bulk Registration.')
        _figures(dashboard.employer_summary(principal=principal))


def _figures(figures: dict[str, int]) -> None:
    with ui.row().classes('w-full gap-4'):
        for label, value in figures.items():
            with ui.card().classes('min-w-[180px]'):
                ui.label(f'{value:,}').classes('text-3xl font-bold')
                ui.label(label).classes('text-sm')

