"""State admin screens for the recipient portal: vaccine groups and their rules, self-registration, and the
approval of organizations (employers, providers) and their users."""
from __future__ import annotations

from nicegui import ui

from components.error_summary import ErrorSummary
from components.guard import acting
from components.page import page
from components.theme import heading
from models import EnrollmentStatus
from pages.organizations.readiness import readiness_line
from services.core.errors import ServiceError
from services.organizations import employers, readiness
from services.permissions import Action
from services.portal import vaccine_groups
from services.principal import Principal


def _guarded(action, *, summary: ErrorSummary | None = None, about: dict[str, ui.element] | None = None,  # noqa: ANN001
             **kwargs) -> bool:
    """Run a service action; a refusal goes to the form's error summary (beside the field it names), else to a
    notification (announced: Quasar's notifications are alerts)."""
    if summary is not None and summary.missing():
        return False
    try:
        action(principal=acting(), **kwargs)
    except ServiceError as failure:
        if summary is None:
            ui.notify(str(failure), type='negative')
        else:
            summary.refuse(str(failure), about=about)
        return False
    return True


@page('/admin/portal', title='Recipient portal settings', action=Action.MANAGE_SETTINGS)
def portal_settings_page(principal: Principal) -> None:
    with ui.card().classes('w-full'):
        heading('Self-registration')
        ui.label('When on, anyone can create a portal account at /portal/sign-up (confirmed by an emailed link) '
                 'and register for vaccination.').classes('text-sm')
        ui.switch('Self-registration is open', value=vaccine_groups.self_registration_enabled(),
                  on_change=lambda e: _guarded(vaccine_groups.set_self_registration, enabled=bool(e.value))) \
            .mark('self-registration-switch')

    @ui.refreshable
    def draw() -> None:
        config = vaccine_groups.group_config()
        groups = {g.id: g for g in config.groups}
        questions = {q.id: q for q in config.questions}
        with ui.column().classes('w-full gap-4'):
            heading('Vaccine groups')
            ui.label('The Vaccine group step asks the questions below; the first rule (lowest priority number) whose '
                     'answer matches decides the group; nobody matched gets the default group. Changes apply to '
                     'registrations completed from now on.').classes('text-sm')
            for group in config.groups:
                _group_row(group, draw.refresh)
            _group_row(None, draw.refresh)
            heading('Questions')
            for question in config.questions:
                _question_row(question, draw.refresh)
            _question_row(None, draw.refresh)
            heading('Rules')
            for rule in config.rules:
                with ui.row().classes('items-center gap-2').mark('group-rule'):
                    question, group = questions.get(rule.question_id), groups.get(rule.group_id)
                    ui.label(f'{rule.priority}: when "{question.code if question else "?"}" is {rule.answer} '
                             f'→ {group.code if group else "?"}')
                    ui.button('Delete', on_click=lambda r=rule: _guarded(vaccine_groups.delete_rule, rule_id=r.id)
                              and draw.refresh()) \
                        .props('flat dense color=negative')
            summary = ErrorSummary()
            with ui.row().classes('items-end gap-2'):
                question = summary.require(ui.select({q.id: q.code for q in config.questions}, label='Question')
                                           .classes('w-48'), 'Choose the question.')
                answer = ui.select({'yes': 'yes', 'no': 'no'}, value='yes', label='Answer').classes('w-24')
                group = summary.require(ui.select({g.id: g.code for g in config.groups}, label='Group')
                                        .classes('w-32'), 'Choose the group.')
                priority = ui.number('Priority', value=100, precision=0).classes('w-24')
                ui.button('Add rule', on_click=lambda: _guarded(
                    vaccine_groups.add_rule, summary=summary, about={'priority': priority, 'question': question,
                                                                     'group': group},
                    question_id=question.value, answer=answer.value, group_id=group.value,
                    priority=int(priority.value or 100)) and draw.refresh()).mark('add-rule')

    draw()


def _group_row(group: vaccine_groups.Group | None, redraw) -> None:  # noqa: ANN001
    summary = ErrorSummary()
    with ui.row().classes('items-end gap-2 w-full').mark('group-row'):
        code = summary.require(ui.input('Code', value=group.code if group else '').classes('w-20'),
                               "Enter the group's code.")
        name_en = summary.require(ui.input('Name (English)', value=group.name_en if group else '')
                                  .classes('flex-grow min-w-[240px]'), "Enter the group's name in English.")
        name_es = summary.require(ui.input('Name (Spanish)', value=group.name_es if group else '')
                                  .classes('flex-grow min-w-[240px]'), "Enter the group's name in Spanish.")
        order = ui.number('Order', value=group.sort_order if group else 99, precision=0).classes('w-20')
        default = ui.checkbox('Default', value=group.is_default if group else False)
        ui.button('Save' if group else 'Add group', on_click=lambda: _guarded(
            vaccine_groups.save_group, summary=summary, about={'code': code, 'spanish': name_es, 'name': name_en},
            group_id=group.id if group else None, code=code.value, name_en=name_en.value,
            name_es=name_es.value, sort_order=int(order.value or 0), is_default=default.value) and redraw())


def _question_row(question: vaccine_groups.Question | None, redraw) -> None:  # noqa: ANN001
    summary = ErrorSummary()
    with ui.row().classes('items-end gap-2 w-full').mark('question-row'):
        code = summary.require(ui.input('Code', value=question.code if question else '').classes('w-32'),
                               "Enter the question's code.")
        text_en = summary.require(ui.input('Question (English)', value=question.text_en if question else '')
                                  .classes('flex-grow min-w-[240px]'), 'Enter the question in English.')
        text_es = summary.require(ui.input('Question (Spanish)', value=question.text_es if question else '')
                                  .classes('flex-grow min-w-[240px]'), 'Enter the question in Spanish.')
        order = ui.number('Order', value=question.sort_order if question else 99, precision=0).classes('w-20')
        active = ui.checkbox('Asked', value=question.active if question else True)
        ui.button('Save' if question else 'Add question', on_click=lambda: _guarded(
            vaccine_groups.save_question, summary=summary, about={'code': code, 'spanish': text_es,
                                                                  'question': text_en},
            question_id=question.id if question else None, code=code.value,
            text_en=text_en.value, text_es=text_es.value, sort_order=int(order.value or 0),
            active=active.value) and redraw())


@page('/admin/organizations', title='Organizations', action=Action.APPROVE_ORGANIZATIONS)
def organizations_page(principal: Principal) -> None:
    @ui.refreshable
    def draw() -> None:
        ready = readiness.readiness_of_locations(principal=acting())
        with ui.column().classes('w-full gap-3'):
            for org in employers.organizations(principal=acting()):
                with ui.card().classes('w-full gap-1').mark('organization'):
                    with ui.row().classes('items-center gap-3 w-full'):
                        heading(org.name)
                        ui.label(f'{org.kind.title()}{" · " + org.provider_pin if org.provider_pin else ""}')
                        ui.label(EnrollmentStatus(org.status).label).classes('font-medium') \
                            .mark('organization-status')
                        if org.status not in ('approved', 'pending', 'suspended'):  # enrolling: its agreement decides
                            ui.link('Provider enrollment', '/admin/enrollments')
                        elif org.status != 'approved':
                            ui.button('Approve', on_click=lambda o=org: _guarded(employers.approve,
                                                                                 organization_id=o.id)
                                      and draw.refresh())
                        else:
                            ui.button('Suspend', on_click=lambda o=org: _guarded(employers.suspend,
                                                                                 organization_id=o.id)
                                      and draw.refresh()) \
                                .props('flat color=negative')
                    for place in (r for r in ready.values() if r.organization_id == org.id):
                        readiness_line(place)
                    for user_id, email, name, active in org.users:
                        with ui.row().classes('items-center gap-3'):
                            ui.label(f'{name} <{email}>' if name else email)
                            ui.label('active' if active else 'not approved').classes('text-sm')
                            ui.button('Disable' if active else 'Approve user',
                                      on_click=lambda u=user_id, a=active: _guarded(
                                          employers.set_user_active, user_id=u, active=not a) and draw.refresh()) \
                                .props('flat dense')

    draw()
