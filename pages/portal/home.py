"""The recipient portal: home (Vaccine Program Status), COVID-19 Vaccine Registration, household."""
from __future__ import annotations

from nicegui import run, ui

from components.error_summary import ErrorSummary
from components.error_summary import required as mark_required
from components.guard import acting_now
from components.page import PORTAL, page
from components.portal_frame import PortalContext, acting_recipient, choose_person
from components.theme import heading, static_links
from services.core.errors import ServiceError
from services.core.i18n import marked as _
from services.permissions import Action
from services.portal import choices, household_members, program_status, registration_form, vaccine_groups
from services.recipients import codes
from services.recipients.fields import FIELD_LABELS

FIND_YOUR_SPOT = 'https://covid19.ncdhhs.gov/findyourspot'
STATUS_ICONS = {choices.STATUS_NOT_ENROLLED: ('close', 'text-red-700'),
                choices.STATUS_ENROLLED: ('check', 'text-blue-800'),
                choices.STATUS_VACCINATED: ('verified', 'text-green-800')}


def _no_person(ctx: PortalContext) -> None:
    ui.label(ctx.t('No one is linked to this account yet.'))


@page('/portal', title=_('Vaccine Program Status'), action=Action.USE_PORTAL, audience=PORTAL)
async def portal_home(ctx: PortalContext) -> None:
    t = ctx.t
    if ctx.person is None:
        _no_person(ctx)
        return
    # In a worker thread: every signed-in person opens this page (issue 17).
    summary = await run.io_bound(program_status.program_summary, principal=ctx.principal, recipient_id=ctx.person.id)
    icon, color = STATUS_ICONS[summary.status]
    with ui.card().classes('w-full gap-2').mark('program-status'):
        ui.label(ctx.person.name).classes('text-lg font-medium')
        with ui.row().classes(f'items-center gap-2 {color}'):
            ui.icon(icon).props('aria-hidden=true').classes('text-2xl')
            heading(t(choices.STATUS_LABELS[summary.status])).classes(replace='cvms-heading text-xl font-semibold') \
                .mark('status-label')
        if summary.status == choices.STATUS_NOT_ENROLLED:
            if summary.registration_status in ('paused', 'in_progress'):
                # Only someone who pressed Pause is told they paused; Next also keeps the answers.
                ui.label(t('You paused your registration. Review what you entered and continue.')
                         if summary.registration_status == 'paused'
                         else t('You started your registration. Review what you entered and continue.')) \
                    .mark('registration-resume')
                ui.button(t('Continue your registration'), on_click=lambda: ui.navigate.to('/portal/registration'))
            else:
                ui.label(t('Complete the COVID-19 Vaccine Registration to enroll in the COVID-19 vaccine program. '
                           'This step is required to receive a vaccine.'))
                ui.button(t('COVID-19 Vaccine Registration'), on_click=lambda: ui.navigate.to('/portal/registration'))
        elif summary.next_appointment:
            ui.label(t('Your next appointment: {when} at {place}. Confirmation number: {number}').format(
                when=summary.next_appointment.when, place=summary.next_appointment.location_name,
                number=summary.next_appointment.case_number)).mark('next-appointment')
            ui.button(t('Appointments'), on_click=lambda: ui.navigate.to('/portal/appointments'))
        elif summary.status == choices.STATUS_ENROLLED or summary.next_dose_due:
            if summary.next_dose_due:
                ui.label(t('Your next dose is due on or after {date}.')
                         .format(date=f'{summary.next_dose_due:%m/%d/%Y}'))
            else:
                ui.label(t('You are enrolled. Next step: book an appointment.'))
            ui.button(t('Book an appointment'), on_click=lambda: ui.navigate.to('/portal/appointments'))
        else:
            ui.label(t('Your vaccination record is ready to show.'))
            ui.button(t('Vaccination record'), on_click=lambda: ui.navigate.to('/portal/record'))
        if summary.group is not None:
            ui.label(t('Your vaccine group: {group}').format(group=summary.group_name(ctx.lang))).classes('text-sm')
    nav = static_links([(t('COVID-19 Vaccine Registration'), '/portal/registration'),
                        (t('Appointments'), '/portal/appointments'),
                        (t('Vaccination record'), '/portal/record'),
                        (t('Household'), '/portal/household')], tag='nav', link_classes='text-base') \
        .classes('column gap-2 w-full')
    nav.props['aria-label'] = t('Portal')
    with ui.card().classes('w-full gap-1'):
        heading(t('Your household'))
        for member in ctx.household:
            ui.label(member.name)
    ui.label(t('Get accurate information about COVID-19 vaccines at')).classes('text-sm')
    ui.link(FIND_YOUR_SPOT, FIND_YOUR_SPOT, new_tab=True).classes('text-sm break-all')


# ---------------------------------------------------------------- COVID-19 Vaccine Registration

def _options(t, options: dict[str, str]) -> dict[str, str]:  # noqa: ANN001
    return {value: t(label) for value, label in options.items()}


def _yes_no(code: str, question: str, options: dict[str, str], value: str | None,
            on_change) -> ui.radio:  # noqa: ANN001
    ui.label(question).classes('font-medium')
    radio = ui.radio(options, value=value, on_change=on_change).props('inline').mark(f'question-{code}')
    radio.props['aria-label'] = question
    return radio


@page('/portal/registration', title=_('COVID-19 Vaccine Registration'), action=Action.USE_PORTAL, audience=PORTAL)
async def registration_page(ctx: PortalContext, review: str | None = None) -> None:
    t = ctx.t
    if ctx.person is None:
        _no_person(ctx)
        return
    registration, config = await run.io_bound(_registration_and_groups, ctx, ctx.person.id)
    ui.label(t('Vaccine Registration for: {name}').format(name=registration.name)).classes('text-lg')
    body = ui.column().classes('w-full gap-3')
    if registration.status == 'complete' and review is None:
        with body:
            _complete_card(ctx, registration)
            ui.button(t('Review or change my answers'), on_click=lambda: ui.navigate.to(
                '/portal/registration?review=1')).props('outline')
        return
    if registration.status in ('paused', 'in_progress') and review is None:
        with body:
            _review_card(ctx, registration, config)
        return
    with body:
        _stepper(ctx, registration, config)


def _registration_and_groups(ctx: PortalContext,
                             recipient_id: int) -> tuple[registration_form.Registration, vaccine_groups.GroupConfig]:
    return (registration_form.load_registration(principal=ctx.principal, recipient_id=recipient_id),
            vaccine_groups.group_config())


def _complete_card(ctx: PortalContext, registration: registration_form.Registration) -> None:
    t = ctx.t
    with ui.card().classes('w-full gap-2').mark('registration-complete'):
        heading(t('Your registration is complete')).classes(replace='cvms-heading text-xl font-semibold text-green-800')
        ui.label(t(registration_form.REGISTRATION_CAVEAT))
        ui.label(t('Get accurate information about COVID-19 vaccines at'))
        ui.link(FIND_YOUR_SPOT, FIND_YOUR_SPOT, new_tab=True).classes('break-all')
        if (group := program_status.group_of(registration)) is not None:
            ui.label(t('Your vaccine group: {group}').format(group=group.name(ctx.lang))).classes('font-medium')
        ui.button(t('Book an appointment'), on_click=lambda: ui.navigate.to('/portal/appointments'))


def _review_card(ctx: PortalContext, registration: registration_form.Registration,
                 config: vaccine_groups.GroupConfig) -> None:
    """Back after Pause: show what was kept and continue where the person stopped."""
    t = ctx.t
    with ui.card().classes('w-full gap-2').mark('registration-review'):
        ui.label(t('Welcome back. Review what you entered and continue.')).classes('font-semibold')
        for line in _summary_lines(ctx, registration, config):
            ui.label(line).classes('text-sm')
        ui.button(t('Continue'), on_click=lambda: ui.navigate.to('/portal/registration?review=1'))


def _summary_lines(ctx: PortalContext, registration: registration_form.Registration,
                   config: vaccine_groups.GroupConfig) -> list[str]:
    t = ctx.t
    lines = []
    for name in choices.CONTACT_FIELDS:
        value = registration.contact.get(name)
        if value:
            if name in codes.CODED_FIELDS:
                shown = codes.label(name, value, ctx.lang)
            elif name == 'preferred_language':
                shown = t(choices.PREFERRED_LANGUAGE_OPTIONS.get(value, value))
            else:
                shown = value
            lines.append(f'{t(FIELD_LABELS[name])}: {shown}')
    questions = {q.code: q for q in config.questions}
    for code, answer in registration.group_answers.items():
        if code in questions:
            lines.append(f'{questions[code].text(ctx.lang)} {t(choices.ANSWER_OPTIONS.get(answer, answer))}')
    if registration.health_answers:
        lines.append(t('Health questionnaire: {count} of {total} answered').format(
            count=len(registration.health_answers), total=len(choices.HEALTH_QUESTIONS)))
    lines.append(t('You stopped at: {step}').format(step=t(choices.STEPS[registration.step])))
    return lines


def _stepper(ctx: PortalContext, registration: registration_form.Registration,
             config: vaccine_groups.GroupConfig) -> None:
    t = ctx.t
    names = [f'step{i}' for i in range(len(choices.STEPS))]
    start = 0 if registration.status in ('new', 'complete') else registration.step

    async def pause() -> None:
        registration.step = names.index(stepper.value)
        await run.io_bound(registration_form.save_progress, principal=await acting_now(), registration=registration,
                           pause=True)
        ui.notify(t('Your answers are saved. You can continue later.'), type='positive')
        ui.navigate.to('/portal')

    async def go(index: int) -> None:
        submit_summary.hide()
        registration.step = index
        await run.io_bound(registration_form.save_progress, principal=await acting_now(), registration=registration)
        stepper.set_value(names[index])

    async def after_contact() -> None:
        errors = registration_form.contact_field_errors(registration.contact, ctx.lang)
        # each message beside its field and in the summary above the form, which takes focus (on a phone the
        # first wrong field may be out of view; the summary's links lead to each)
        if contact_summary.show([(contact_inputs[name], message) for name, message in errors.items()],
                                mark_fields=True):
            return
        await go(2)

    async def submit() -> None:
        submit_summary.hide()
        try:
            group = await run.io_bound(registration_form.complete_registration, principal=await acting_now(),
                                       registration=registration,
                                       lang=ctx.lang)
        except ServiceError as failure:
            # the summary pattern, as on the Contact step: a refusal about contact fields goes back to that step,
            # each message beside its field and linked from the summary (focused); anything else is summarised here
            errors = registration_form.contact_field_errors(registration.contact, ctx.lang)
            if errors:
                registration.step = 1
                stepper.set_value(names[1])
                contact_summary.show([(contact_inputs[name], message) for name, message in errors.items()],
                                     mark_fields=True)
            else:
                submit_summary.show([(None, str(failure))])
            return
        registration.status = 'complete'
        registration.group_id = group.id if group else None
        await confirmation.refresh()
        stepper.set_value(names[4])

    def nav(back: int | None, forward, forward_label: str | None = None) -> None:  # noqa: ANN001
        here = 0 if back is None else back + 1
        with ui.stepper_navigation().classes('flex-wrap gap-2'):
            if back is not None:
                ui.button(t('Previous'), on_click=lambda: go(back)).props('flat')
            ui.button(forward_label or t('Next'), on_click=forward).mark(f'registration-next-{here}')
            ui.button(t('Pause'), icon='pause', on_click=pause).props('outline').mark(f'registration-pause-{here}')

    with ui.stepper(value=names[start]).props('vertical').classes('w-full') as stepper:
        with ui.step(names[0], title=t(choices.STEPS[0])):
            ui.label(t('This registration takes about 5 minutes. Your answers are kept if you pause.'))
            ui.label(t('Registration does not mean that you are currently eligible to be vaccinated or that you have '
                       'an appointment.')).classes('text-sm')
            nav(None, lambda: go(1), t('Start'))
        with ui.step(names[1], title=t(choices.STEPS[1])):
            contact_summary = ErrorSummary(t('There is a problem'))
            contact_inputs = _contact_fields(ctx, registration.contact)
            nav(0, after_contact)
        with ui.step(names[2], title=t(choices.STEPS[2])):
            ui.label(t('Answer a few questions to find your vaccine group.'))
            for question in config.questions:
                if question.active:
                    _yes_no(question.code, question.text(ctx.lang), _options(t, choices.ANSWER_OPTIONS),
                            registration.group_answers.get(question.code),
                            lambda e, c=question.code: registration.group_answers.__setitem__(c, e.value))
            nav(1, lambda: go(3))
        with ui.step(names[3], title=t(choices.STEPS[3])):
            submit_summary = ErrorSummary(t('There is a problem'))
            submit_summary.box.mark('registration-error')
            ui.label(t('Answer for the person being vaccinated. The vaccinator reviews your answers with you.'))
            for code, question in choices.HEALTH_QUESTIONS.items():
                _yes_no(code, t(question), _options(t, choices.HEALTH_ANSWER_OPTIONS),
                        registration.health_answers.get(code),
                        lambda e, c=code: registration.health_answers.__setitem__(c, e.value))
            nav(2, submit, t('Submit registration'))
        with ui.step(names[4], title=t(choices.STEPS[4])):

            @ui.refreshable
            def confirmation() -> None:
                with ui.column().classes('w-full'):
                    if registration.status == 'complete':
                        _complete_card(ctx, registration)

            confirmation()


def _contact_fields(ctx: PortalContext, contact: dict[str, str]) -> dict[str, ui.input | ui.select]:
    """The Contact step's fields by name; all are required (registration_form.contact_problems), so each label
    carries the asterisk and its error shows beside it."""
    t = ctx.t
    inputs: dict[str, ui.input | ui.select] = {}

    def required(name: str) -> str:
        return f'{t(FIELD_LABELS[name])} *'

    def bind(element, name: str):  # noqa: ANN001, ANN202
        def changed(e) -> None:  # noqa: ANN001
            contact[name] = e.value or ''
            _mark_field(element, None)  # the person is fixing it
        element.on_value_change(changed)
        inputs[name] = element
        return mark_required(element.classes('w-full').mark(f'contact-{name}'))

    bind(ui.input(required('address_line1'), value=contact.get('address_line1', ''))
         .props('autocomplete=street-address'), 'address_line1')
    bind(ui.input(required('city'), value=contact.get('city', '')).props('autocomplete=address-level2'), 'city')
    bind(ui.select(list(codes.NC_COUNTIES), label=required('county'), value=contact.get('county') or None,
                   with_input=True), 'county')
    bind(ui.input(required('zip_code'), value=contact.get('zip_code', ''))
         .props('autocomplete=postal-code inputmode=numeric'), 'zip_code')
    bind(ui.input(required('phone'), value=contact.get('phone', '')).props('type=tel autocomplete=tel'), 'phone')
    for name in codes.CODED_FIELDS:  # labels shown, codes stored
        options = codes.options(name, ctx.lang)
        bind(ui.select(options, label=required(name), value=contact.get(name) if contact.get(name) in options
                       else None), name)
    bind(ui.select(_options(t, choices.PREFERRED_LANGUAGE_OPTIONS), label=required('preferred_language'),
                   value=contact.get('preferred_language') or None), 'preferred_language')
    return inputs


def _mark_field(element: ui.input | ui.select, message: str | None) -> None:
    """Red with its message underneath (Quasar's error slot, read out with the field), or clear."""
    if bool(element.props.get('error')) == bool(message) and element.props.get('error-message') == message:
        return
    element.props['error'] = bool(message)
    element.props['error-message'] = message or ''
    if not message:
        element.props.pop('aria-invalid', None)
    element.update()


# ---------------------------------------------------------------- household

@page('/portal/household', title=_('Household'), action=Action.USE_PORTAL, audience=PORTAL)
def household_page(ctx: PortalContext) -> None:
    t = ctx.t
    ui.label(t('One account can hold several people. Choose who you are acting for.')).classes('text-sm')
    for member in ctx.household:
        with ui.card().classes('w-full').mark('household-member'):
            with ui.row().classes('items-center justify-between w-full no-wrap'):
                with ui.column().classes('gap-0'):
                    ui.label(member.name).classes('font-medium')
                    ui.label(t('Date of birth: {date}').format(date=f'{member.date_of_birth:%m/%d/%Y}')) \
                        .classes('text-sm')
                if ctx.person and member.id == ctx.person.id:
                    ui.label(t('Selected')).classes('text-green-800 text-sm font-semibold')
                else:
                    ui.button(t('Switch to {name}').format(name=member.first_name),
                              on_click=lambda m=member: _switch(m.id))
    with ui.card().classes('w-full gap-2'):
        heading(t('Add a family member'))
        summary = ErrorSummary(t('There is a problem'))
        first = summary.require(ui.input(t('First name')).classes('w-full').props('autocomplete=off'),
                                t('Enter the first name.'))
        last = summary.require(ui.input(t('Last name')).classes('w-full').props('autocomplete=off'),
                               t('Enter the last name.'))
        born = summary.require(ui.input(t('Date of birth (MM/DD/YYYY)')).classes('w-full').props('inputmode=numeric'),
                               t('Enter the date of birth (MM/DD/YYYY).'))

        async def add() -> None:
            if summary.missing():
                return
            try:
                new_id = await run.io_bound(household_members.add_dependent, principal=acting_recipient(),
                                            first_name=first.value, last_name=last.value, date_of_birth=born.value,
                                            lang=ctx.lang)
            except ServiceError as failure:
                summary.refuse(str(failure), about=recipient_field_words(t, first=first, last=last, born=born))
                return
            choose_person(new_id)
            ui.notify(t('Family member added.'), type='positive')
            ui.navigate.to('/portal')

        ui.button(t('Add family member'), on_click=add)


def recipient_field_words(t, *, first: ui.input, last: ui.input, born: ui.input,  # noqa: ANN001
                          **others: ui.input) -> dict[str, ui.input]:
    """The recipient module's field labels (they start its messages) in the reader's language, to the fields."""
    fields = {'date_of_birth': born, 'last_name': last, 'first_name': first, **others}
    return {t(FIELD_LABELS[name]): field for name, field in fields.items()}


def _switch(person_id: int) -> None:
    choose_person(person_id)
    ui.navigate.to('/portal')
