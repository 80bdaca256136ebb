"""Public page: a healthcare provider asks the State for an invitation to enroll, when the State takes requests
(Provider enrollment screen, "Providers may request an invitation")."""
from __future__ import annotations

from nicegui import run, ui

from components.error_summary import ErrorSummary, required
from components.guard import client_ip
from components.theme import apply_theme, main_region
from services.core.errors import ServiceError
from services.enrollment import invitations


@ui.page('/enrollment/request', title='Request an invitation to enroll · CVMS')
def request_page() -> None:
    apply_theme()
    ui.query('html').props('lang=en')
    ui.query('body').classes('bg-slate-100')
    with main_region('w-full column items-center p-4'):
        ui.label('Vaccine Management System').classes('cvms-brand text-2xl font-bold text-[#1f4e79] mt-4')
        with ui.card().classes('cvms-auth-card p-6 gap-3 w-full max-w-lg'):
            ui.label('Request an invitation to enroll').classes('text-xl font-semibold') \
                .props('role=heading aria-level=1')
            if not invitations.invitation_requests_open():
                ui.label('The State is not taking requests for invitations at the moment. The State contacts '
                         'providers for enrollment in the order of its vaccine distribution priorities.') \
                    .mark('requests-closed')
                ui.link('Back to log in', '/login')
                return
            ui.label('Healthcare providers in North Carolina can ask the State to invite them to the COVID-19 '
                     'Vaccination Program. The State answers by email.').classes('text-sm')
            summary = ErrorSummary()
            fields = {
                'organization_name': required(ui.input('Organization name').classes('w-full')),
                'contact_name': required(ui.input('Your name').classes('w-full')),
                'email': required(ui.input('Email').props('type=email autocomplete=email').classes('w-full')),
                'phone': ui.input('Phone').props('type=tel autocomplete=tel').classes('w-full'),
                'message': ui.textarea('Your locations and the people you serve').classes('w-full'),
            }
            for name, element in fields.items():
                element.mark(f'request-{name}')
            done = ui.label('').classes('text-green-800').props('role=status').mark('request-done')

            async def send() -> None:
                values = {name: element.value or '' for name, element in fields.items()}
                try:
                    problems = await run.io_bound(invitations.request_invitation, **values, client_ip=client_ip())
                except ServiceError as failure:
                    summary.show([(fields['organization_name'], str(failure))])
                    return
                if summary.show([(fields[name], message) for name, message in problems.items()], mark_fields=True):
                    return
                done.set_text('Thank you. The State received your request and will answer by email.')
                for element in fields.values():
                    element.set_value('')
            ui.button('Send request', on_click=send).classes('w-full').mark('request-send')
            ui.link('Back to log in', '/login')
