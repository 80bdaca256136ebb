"""The Provider Enrollment Portal for a provider's enrollment contact: the Provider Agreement as a stepper with
Pause and resume (the pattern of the portal's registration), the officers' signatures, the locations (added and
removed before submitting), the Supplemental Redistribution Agreement, a review page and Submit; then the status,
the State's notes and the signed agreement as a PDF."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import run, ui

from components.error_summary import ErrorSummary, required
from components.focus import focus
from components.guard import acting
from components.page import page
from components.theme import heading
from models import EnrollmentStatus
from services.core.errors import ServiceError
from services.core.localtime import time_label
from services.enrollment import agreement as service
from services.enrollment import form
from services.permissions import Action
from services.principal import Principal
from services.recipients.codes import NC_COUNTIES

STEP_NAMES = [f'step{i}' for i in range(len(form.STEPS))]
OPTIONS = {'org_type': form.ORGANIZATION_TYPES, 'county': {c: c for c in NC_COUNTIES},
           'time_zone': form.TIME_ZONES, 'population': form.POPULATIONS, 'type': form.STORAGE_UNIT_TYPES}


@page('/enrollment', title='Provider Agreement', action=Action.ENROLL_ORGANIZATION)
def agreement_page(principal: Principal, resume: str = '') -> None:
    agreement = service.my_agreement(principal=principal)
    status = ui.refreshable(status_card)
    status(agreement)
    if not agreement.editable:
        notes(agreement)
        pdf_button(agreement.enrollment_id)
        return
    if (note := agreement.return_note) is not None:
        with ui.card().classes('w-full border-l-4 border-amber-600').mark('return-note'):
            heading('The State returned your agreement for changes')
            ui.label(note.text).classes('whitespace-pre-wrap')
            ui.label(f'{note.author}, {time_label(note.created_at, named=True)}').classes('text-sm')
            ui.label('Make the changes, answer the note on the last step and submit again.').classes('text-sm')
    if agreement.paused and not resume:
        with ui.card().classes('w-full gap-2').mark('agreement-paused'):
            heading('Welcome back')
            ui.label('You paused the Provider Agreement. Everything you entered is kept.')
            ui.label(f'You stopped at: {form.STEPS[agreement.step]}').classes('font-medium')
            ui.label(f'Organization: {agreement.draft["organization"]["legal_name"] or "-"}; '
                     f'locations: {len(agreement.draft["locations"])}').classes('text-sm')
            ui.button('Continue', on_click=lambda: ui.navigate.to('/enrollment?resume=1')).mark('agreement-continue')
        return
    AgreementForm(agreement, on_started=lambda: status.refresh(agreement)).draw()


def status_card(agreement: service.Agreement) -> None:
    with ui.card().classes('w-full gap-1').mark('enrollment-status'):
        heading(agreement.draft['organization']['legal_name'] or agreement.organization_name)
        ui.label(f'Enrollment status: {EnrollmentStatus(agreement.status).label}').classes('font-medium')
        if agreement.provider_pin:
            ui.label(f'Provider PIN: {agreement.provider_pin}')
        if agreement.submitted_at and agreement.status == EnrollmentStatus.SUBMITTED:
            ui.label(f'Submitted {time_label(agreement.submitted_at, named=True)}. The State reviews it and emails '
                     f'{agreement.contact_email} with its decision.').classes('text-sm')
        if agreement.status == EnrollmentStatus.APPROVED:
            ui.label("Each location's primary vaccine coordinator received an email to set the password of their "
                     'location manager account.').classes('text-sm')


def notes(agreement: service.Agreement) -> None:
    shown = [n for n in agreement.notes if n.text]
    if not shown:
        return
    heading('Notes')
    labels = {'returned': 'Returned for changes', 'answer': 'Your answer', 'approved': 'Approved',
              'rejected': 'Rejected'}
    for note in shown:
        with ui.card().classes('w-full gap-0').mark(f'note-{note.kind}'):
            ui.label(f'{labels.get(note.kind, note.kind)} · {note.author}, {time_label(note.created_at, named=True)}') \
                .classes('text-sm font-medium')
            ui.label(note.text).classes('whitespace-pre-wrap')


def pdf_button(enrollment_id: int) -> None:
    async def download() -> None:
        try:
            data = await run.io_bound(service.agreement_pdf, principal=acting(), enrollment_id=enrollment_id)
        except ServiceError as failure:
            ui.notify(str(failure), type='negative')
            return
        ui.download.content(data, 'provider-agreement.pdf', 'application/pdf')
    ui.button('Download the agreement (PDF)', icon='download', on_click=download).props('outline') \
        .mark('agreement-pdf')


class AgreementForm:
    """The stepper. Every field writes into `draft` as it changes; Next, Previous, adding or removing a location
    and Pause keep the draft on the server, so nothing entered is lost."""

    def __init__(self, agreement: service.Agreement, *, on_started: Callable[[], None]) -> None:
        self.agreement = agreement
        self.on_started = on_started  # the status shown above the form moves from Invited to In progress
        self.draft: dict[str, Any] = agreement.draft
        self.fields: dict[str, ui.element] = {}
        self.stepper: ui.stepper | None = None

    # ------------------------------------------------------------ the steps

    def draw(self) -> None:
        start = self.agreement.step if self.agreement.status != EnrollmentStatus.INVITED else 0
        with ui.stepper(value=STEP_NAMES[start]).props('vertical').classes('w-full cvms-stepper') as stepper:
            self.stepper = stepper
            with ui.step(STEP_NAMES[0], title=form.STEPS[0]):
                summary0 = ErrorSummary()
                self.organization_section()
                self.nav(0, summary0)
            with ui.step(STEP_NAMES[1], title=form.STEPS[1]):
                ui.label('The chief medical officer and the chief executive officer each accept the agreement\'s '
                         'requirements: tick each one and type your name as entered in Section A.')
                for part in ('cmo', 'ceo'):
                    self.signature_card(part, form.ATTESTATIONS)
                self.nav(1)
            with ui.step(STEP_NAMES[2], title=form.STEPS[2]):
                summary2 = ErrorSummary()
                ui.label('One entry per vaccination location. Add or remove locations until you submit.')
                self.locations_section()
                self.nav(2, summary2)
            with ui.step(STEP_NAMES[3], title=form.STEPS[3]):
                self.redistribution_section()
                self.nav(3)
            with ui.step(STEP_NAMES[4], title=form.STEPS[4]):
                self.review_section()

    def nav(self, here: int, summary: ErrorSummary | None = None) -> None:
        async def forward() -> None:
            if summary is not None:
                problems = form.section_problems(self.draft, here)
                shown = [(self.fields[path], message) for path, message in problems.items() if path in self.fields]
                if summary.show(shown, mark_fields=True):
                    await self.save(here)  # the answers are kept even while they have problems
                    return
            await self.go(here + 1)

        with ui.stepper_navigation().classes('flex-wrap gap-2'):
            if here > 0:
                ui.button('Previous', on_click=lambda: self.go(here - 1)).props('flat').mark(f'agreement-back-{here}')
            ui.button('Next', on_click=forward).mark(f'agreement-next-{here}')
            ui.button('Pause', icon='pause', on_click=lambda: self.pause(here)).props('outline') \
                .mark(f'agreement-pause-{here}')

    async def save(self, step: int, *, pause: bool = False) -> bool:
        try:
            await run.io_bound(service.save_draft, principal=acting(), draft=self.draft, step=step, pause=pause)
        except ServiceError as failure:
            ui.notify(str(failure), type='negative')
            return False
        if self.agreement.status == EnrollmentStatus.INVITED:  # the first save started it (save_draft)
            self.agreement.status = EnrollmentStatus.IN_PROGRESS
            self.on_started()
        return True

    async def go(self, index: int) -> None:
        if await self.save(index) and self.stepper is not None:
            if index == 4:
                await self.refresh_review()
            self.stepper.set_value(STEP_NAMES[index])

    async def pause(self, here: int) -> None:
        if await self.save(here, pause=True):
            ui.notify('Your answers are saved. You can continue later.', type='positive')
            ui.navigate.to('/enrollment')

    # ------------------------------------------------------------ Section A

    def organization_section(self) -> None:
        heading('The organization')
        with ui.grid().classes('w-full grid-cols-1 md:grid-cols-2 gap-2'):
            for name, label in form.ORGANIZATION_FIELDS.items():
                self.field(f'organization.{name}', label, self.draft['organization'], name)
        for officer, title in form.OFFICERS.items():
            heading(title)
            with ui.grid().classes('w-full grid-cols-1 md:grid-cols-2 gap-2'):
                for name, label in form.OFFICER_FIELDS.items():
                    self.field(f'{officer}.{name}', label, self.draft[officer], name)

    def field(self, path: str, label: str, values: dict[str, Any], name: str) -> ui.element:
        """An input (or a select for coded answers) bound to values[name], required unless it may stay empty."""
        if name in OPTIONS:
            element: ui.element = ui.select(OPTIONS[name], label=label, value=values.get(name) or (
                '' if name == 'time_zone' else None), with_input=name == 'county')
        else:
            element = ui.input(label, value=values.get(name, ''))
            if name.endswith('email'):
                element.props('type=email')
            elif name.endswith('phone'):
                element.props('type=tel')
            elif name in ('people_per_week',):
                element.props('inputmode=numeric')

        def changed(e) -> None:  # noqa: ANN001
            values[name] = e.value or ''
            if element.props.get('error'):  # the person is fixing it
                element.props(remove='error error-message aria-invalid')
        element.on_value_change(changed)
        if name != 'time_zone':
            required(element)
        self.fields[path] = element
        return element.classes('w-full').mark(f'agreement-{path.replace(".", "-")}')

    # ------------------------------------------------------------ signatures

    def signature_card(self, part: str, attestations: dict[str, str]) -> None:
        officer = 'ceo' if part == 'redistribution' else part
        with ui.card().classes('w-full gap-2').mark(f'signature-{part}'):
            heading(form.SIGNATURE_PARTS[part])  # level 2: the first heading of its step under the page's h1

            @ui.refreshable
            def signed_line() -> None:
                signed = self.agreement.signatures.get(part)
                if signed:
                    ui.label(f'Signed by {signed.signer_name} on {time_label(signed.signed_at, named=True)}') \
                        .classes('text-green-800 font-medium').mark(f'signed-{part}')
                else:
                    ui.label('Not signed yet.').classes('text-sm')
            signed_line()
            ticks = {key: ui.checkbox(text).mark(f'attest-{part}-{key}') for key, text in attestations.items()}
            typed = ui.input(f'Type the {form.OFFICERS[officer].split(" (")[0].lower()}\'s name to sign') \
                .classes('w-full').mark(f'sign-name-{part}')
            required(typed)

            async def sign() -> None:
                typed.props(remove='error error-message aria-invalid')
                try:
                    signature = await run.io_bound(
                        service.sign, principal=acting(), part=part, typed_name=typed.value or '',
                        attestations=[key for key, box in ticks.items() if box.value], draft=self.draft)
                except ServiceError as failure:
                    typed.props['error'] = True
                    typed.props['error-message'] = str(failure)
                    typed.props['aria-invalid'] = 'true'
                    typed.update()
                    focus(typed)
                    return
                self.agreement.signatures[part] = signature
                signed_line.refresh()
                ui.notify('Signed.', type='positive')
            ui.button('Sign', icon='draw', on_click=sign).mark(f'sign-{part}')

    # ------------------------------------------------------------ Section B

    @ui.refreshable_method
    def locations_section(self) -> None:
        for path in [p for p in self.fields if p.startswith('locations.')]:
            del self.fields[path]
        for index, location in enumerate(self.draft['locations']):
            with ui.card().classes('w-full gap-2').mark(f'location-{index}'):
                with ui.row().classes('w-full items-center justify-between'):
                    heading(f'Location {index + 1}' + (f': {location["name"]}' if location['name'] else ''))
                    if len(self.draft['locations']) > 1:
                        ui.button('Remove this location', icon='delete',
                                  on_click=lambda i=index: self.remove_location(i)) \
                            .props('flat color=negative').mark(f'remove-location-{index}')
                with ui.grid().classes('w-full grid-cols-1 md:grid-cols-2 gap-2'):
                    for name, label in form.LOCATION_FIELDS.items():
                        self.field(f'locations.{index}.{name}', label, location, name)
                heading('Storage units', level=3)
                for number, unit in enumerate(location['storage_units']):
                    with ui.row().classes('w-full items-start gap-2 no-wrap'):
                        self.field(f'locations.{index}.storage_units.{number}.type', 'Type of unit', unit, 'type') \
                            .classes('grow')
                        self.field(f'locations.{index}.storage_units.{number}.capacity', 'Capacity (doses)', unit,
                                   'capacity').props('inputmode=numeric').classes('grow')
                        ui.button(icon='delete', on_click=lambda i=index, n=number: self.remove_unit(i, n)) \
                            .props(f'flat round aria-label="Remove storage unit {number + 1}"')
                ui.button('Add a storage unit', icon='add', on_click=lambda i=index: self.add_unit(i)) \
                    .props('flat').mark(f'add-unit-{index}')
        ui.button('Add a location', icon='add_location', on_click=self.add_location).props('outline') \
            .mark('add-location')

    async def add_location(self) -> None:
        self.draft['locations'].append(form.empty_location())
        await self.save(2)
        self.locations_section.refresh()

    async def remove_location(self, index: int) -> None:
        self.draft['locations'].pop(index)
        await self.save(2)
        self.locations_section.refresh()

    async def add_unit(self, index: int) -> None:
        self.draft['locations'][index]['storage_units'].append({'type': 'refrigerator', 'capacity': ''})
        await self.save(2)
        self.locations_section.refresh()

    async def remove_unit(self, index: int, number: int) -> None:
        self.draft['locations'][index]['storage_units'].pop(number)
        await self.save(2)
        self.locations_section.refresh()

    # ------------------------------------------------------------ redistribution

    def redistribution_section(self) -> None:
        ui.label('An organization that moves vaccine between its own locations signs the CDC Supplemental COVID-19 '
                 'Vaccine Redistribution Agreement. Only then can its locations transfer inventory to each other.')

        @ui.refreshable
        def body() -> None:
            if self.draft['redistribution']:
                self.signature_card('redistribution', form.REDISTRIBUTION_ATTESTATIONS)

        def toggled(e) -> None:  # noqa: ANN001
            self.draft['redistribution'] = bool(e.value)
            body.refresh()
        ui.checkbox('We will redistribute vaccine between our locations', value=self.draft['redistribution'],
                    on_change=toggled).mark('agreement-redistribution')
        body()

    # ------------------------------------------------------------ review and submit

    async def refresh_review(self) -> None:
        self.agreement = await run.io_bound(service.my_agreement, principal=acting())
        self.review_section.refresh()

    @ui.refreshable_method
    def review_section(self) -> None:
        agreement, draft = self.agreement, self.draft
        problems = service.problems(agreement)
        organization = draft['organization']
        with ui.column().classes('w-full gap-1').mark('agreement-review'):
            heading('Check the agreement before you submit it')
            ui.label(f'{organization["legal_name"] or "-"} · '
                     f'{form.ORGANIZATION_TYPES.get(organization["org_type"], "-")} · '
                     f'{organization["address_line1"]}, {organization["city"]} {organization["zip_code"]}')
            for officer, title in form.OFFICERS.items():
                ui.label(f'{title}: {draft[officer]["name"] or "-"}, {draft[officer]["title"]}').classes('text-sm')
            for index, location in enumerate(draft['locations']):
                units = ', '.join(f'{form.STORAGE_UNIT_TYPES.get(u["type"], u["type"])} {u["capacity"]} doses'
                                  for u in location['storage_units'])
                ui.label(f'Location {index + 1}: {location["name"] or "-"}, {location["city"]}; coordinator '
                         f'{location["primary_name"] or "-"}; {units}').classes('text-sm')
            ui.label('Supplemental Redistribution Agreement: '
                     + ('yes' if draft['redistribution'] else 'no')).classes('text-sm')
            for part, label in form.SIGNATURE_PARTS.items():
                if part == 'redistribution' and not draft['redistribution']:
                    continue
                signed = agreement.signatures.get(part)
                ui.label(f'{label}: ' + (f'signed by {signed.signer_name}' if signed else 'not signed')) \
                    .classes('text-sm')
        error = ErrorSummary('The agreement cannot be submitted yet')
        if problems:
            with ui.column().classes('w-full gap-1 p-3 border-l-4 border-amber-600').mark('agreement-problems'):
                ui.label(f'{len(problems)} {"thing" if len(problems) == 1 else "things"} to complete before '
                         'submitting:').classes('font-medium')
                for message in list(problems.values())[:12]:
                    ui.label(message).classes('text-sm')
                with ui.row().classes('gap-2'):
                    for step, title in ((0, form.STEPS[0]), (1, form.STEPS[1]), (2, form.STEPS[2])):
                        ui.button(f'Go to {title}', on_click=lambda s=step: self.go(s)).props('flat dense')
        answer = None
        if agreement.status == EnrollmentStatus.RETURNED:
            answer = ui.textarea('Your answer to the State\'s note').classes('w-full').mark('agreement-answer')
            required(answer)

        async def submit() -> None:
            try:
                await run.io_bound(service.save_draft, principal=acting(), draft=self.draft, step=4)
                await run.io_bound(service.submit, principal=acting(), answer=answer.value if answer else '')
            except ServiceError as failure:
                on_answer = answer is not None and 'Answer' in str(failure)
                error.show([(answer if on_answer else submit_button, str(failure))], mark_fields=on_answer)
                return
            ui.notify('Your Provider Agreement was submitted to the State.', type='positive')
            ui.navigate.to('/enrollment')

        with ui.row().classes('gap-2'):
            ui.button('Previous', on_click=lambda: self.go(3)).props('flat')
            submit_button = ui.button('Submit the agreement', icon='send', on_click=submit).mark('agreement-submit')
            ui.button('Pause', icon='pause', on_click=lambda: self.pause(4)).props('outline') \
                .mark('agreement-pause-4')
        pdf_button(agreement.enrollment_id)
