"""The page frame: header with the role's navigation (as in the guide), the user's name and location, log-out."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nicegui import app, ui

from models import Role
from services.accounts import auth
from services.permissions import Action, can
from services.principal import Principal

from .theme import apply_theme, disclosure_links, heading, main_region, skip_link

# The guide's navigation bar, in its order. An entry shows when the role may use it and its screen exists.
NAV = [
    ('Home', '/', Action.VIEW_DASHBOARD),
    ('Recipient', '/recipients', Action.VIEW_RECIPIENTS),
    ('Appointments', '/appointments', Action.MANAGE_APPOINTMENTS),
    ('Bulk Registration', '/bulk-registration', Action.BULK_UPLOAD),
    ('Vaccine Inventory', '/inventory', Action.VIEW_INVENTORY),
    ('Shipments', '/shipments', Action.VIEW_SHIPMENTS),
    ('Reports', '/reports', Action.VIEW_REPORTS),
    ('Invitations', '/invitations', Action.VIEW_INVITATIONS),
    ('Provider Agreement', '/enrollment', Action.ENROLL_ORGANIZATION),
    ('Help Desk', '/help-desk', Action.WORK_CASES),
]
MORE = [
    ('Vaccine products', '/admin/products', Action.MANAGE_PRODUCTS),
    ('Allocation', '/admin/allocation', Action.ALLOCATE_VACCINE),
    ('Organizations', '/admin/organizations', Action.APPROVE_ORGANIZATIONS),
    ('Provider enrollment', '/admin/enrollments', Action.APPROVE_ORGANIZATIONS),
    ('Readiness items', '/admin/readiness', Action.MANAGE_SETTINGS),
    ('Readiness checklist', '/readiness', Action.TICK_READINESS),
    ('Recipient portal', '/admin/portal', Action.MANAGE_SETTINGS),
    ('Immunization registry', '/registry', Action.VIEW_REPORTS),
    ('Users', '/admin/users', Action.MANAGE_STAFF),
    ('FHIR API tokens', '/admin/fhir-tokens', Action.MANAGE_USERS),
    ('Knowledge base', '/helpdesk/articles', Action.WRITE_ARTICLES),
    ('Outbox', '/outbox', Action.VIEW_OUTBOX),
    ('Audit log', '/audit', Action.VIEW_AUDIT),
    ('Vaccine Support Portal', '/support', Action.OPEN_CASE),
    ('Change password', '/account/password', Action.CHANGE_OWN_PASSWORD),
]


def _registered_paths() -> set[str]:
    return {getattr(route, 'path', '') for route in app.routes}


def nav_entries(principal: Principal) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    paths = _registered_paths()
    visible = [(label, path) for label, path, action in NAV if can(principal, action) and path in paths]
    more = [(label, path) for label, path, action in MORE if can(principal, action) and path in paths]
    return visible, more


@contextmanager
def frame(principal: Principal, title: str) -> Iterator[None]:
    apply_theme()
    names = auth.describe(principal)
    visible, more = nav_entries(principal)
    here = ui.context.client.request.url.path if ui.context.client.request else ''
    main = main_region('w-full max-w-screen-xl mx-auto p-4 column gap-4')
    with ui.header().classes('cvms-header items-center justify-between px-4 py-2'):
        skip_link(main)
        with ui.row().classes('items-center gap-1 no-wrap'):
            ui.label('CVMS').classes('text-lg font-bold mr-4').props('aria-label="Vaccine Management System"')
            with ui.element('nav').props('aria-label="Main"').classes('row items-center gap-1'):
                for label, path in visible:
                    link = ui.link(label, path).classes('cvms-nav-link')
                    if path == here:
                        link.props('aria-current=page')
                if more:
                    disclosure_links('More', more)
        with ui.row().classes('items-center gap-3 no-wrap'):
            with ui.column().classes('gap-0 items-end'):
                ui.label(names['name']).classes('font-medium').mark('user-name')
                where = names['location'] or names['organization'] or principal_role_label(principal)
                ui.label(where).classes('text-xs opacity-80').mark('user-location')
            ui.button('Log out', on_click=lambda: ui.navigate.to('/logout')).props('flat color=white no-caps')
    with main:
        heading(title, level=1).props('tabindex=-1')
        yield


def principal_role_label(principal: Principal) -> str:
    return Role(principal.role).label


def not_allowed() -> None:
    with ui.card().classes('w-full bg-red-50'):
        ui.label('Your role does not give access to this page. If you need it, ask your location manager '
                 'or the state help desk.')
        ui.link('Back to Home', '/')
