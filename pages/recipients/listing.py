"""Recipient tab: every loaded recipient the person may see (state admins: all locations), searchable."""
from __future__ import annotations

from nicegui import ui

from components.loaded_recipients import loaded_recipients
from components.page import page
from models import Role
from services.permissions import Action
from services.principal import Principal


@page('/recipients', title='Recipients', action=Action.VIEW_RECIPIENTS)
def recipients_page(principal: Principal) -> None:
    if principal.role == Role.STATE_ADMIN:
        ui.label('Recipients of every location.').classes('text-sm')
    loaded_recipients(principal, show_location=principal.role == Role.STATE_ADMIN)
