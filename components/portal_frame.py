"""The recipient portal's page frame: mobile-first (one column, readable at 390 px), in the person's language,
with the household member being looked at. Recipients come on phones, so this is not the staff header.
Pages use it through components.page (`audience=PORTAL`)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from nicegui import app, run, ui

from services.core.i18n import LANGUAGES, normalize_language, translator
from services.permissions import Action, can
from services.portal import household_members
from services.principal import Principal

from .guard import LANG_KEY, acting
from .theme import apply_theme, disclosure_links, heading, main_region, skip_link

PERSON_KEY = 'portal_person'


@dataclass(frozen=True)
class PortalContext:
    principal: Principal | None
    lang: str
    t: Callable[[str], str]
    person: household_members.HouseholdMember | None = None
    household: tuple[household_members.HouseholdMember, ...] = ()


def browser_language() -> str:
    return normalize_language(app.storage.user.get(LANG_KEY))


def chosen_person(household: list[household_members.HouseholdMember]) -> household_members.HouseholdMember | None:
    """The household member the account holder switched to (the account holder by default)."""
    wanted = app.storage.user.get(PERSON_KEY)
    return next((p for p in household if p.id == wanted), household[0] if household else None)


def choose_person(person_id: int) -> None:
    app.storage.user[PERSON_KEY] = person_id


def switch_language(principal: Principal | None, lang: str) -> None:
    app.storage.user[LANG_KEY] = lang
    if principal is not None and can(principal, Action.USE_PORTAL):
        household_members.set_language(principal=principal, lang=lang)
    ui.navigate.reload()


@contextmanager
def portal_frame(ctx: PortalContext, title: str) -> Iterator[None]:
    t = ctx.t
    ui.page_title(f'{title} · CVMS')
    apply_theme()
    ui.query('html').props(f'lang={ctx.lang}')
    ui.query('body').classes('bg-slate-50')
    main = main_region('w-full max-w-xl mx-auto px-3 py-4 column gap-4 cvms-portal')
    with ui.header().classes('cvms-header items-center justify-between px-3 py-2 no-wrap'):
        skip_link(main, t('Skip to main content'))
        ui.link(t('COVID-19 Vaccine Portal'), '/portal' if ctx.principal else '/login') \
            .classes('text-white text-base font-bold no-underline')
        with ui.row().classes('items-center gap-1 no-wrap'):
            other = 'es' if ctx.lang == 'en' else 'en'
            ui.button(LANGUAGES[other], on_click=lambda: switch_language(ctx.principal, other)) \
                .props(f'flat dense no-caps color=white lang={other}').mark('portal-language')
            if ctx.principal is not None:
                disclosure_links(t('Menu'), [(t('Home'), '/portal'),
                                             (t('COVID-19 Vaccine Registration'), '/portal/registration'),
                                             (t('Appointments'), '/portal/appointments'),
                                             (t('Vaccination record'), '/portal/record'),
                                             (t('Household'), '/portal/household'),
                                             (t('Change password'), '/portal/password'),
                                             (t('Ask the help desk'), '/help/recipient'),
                                             (t('Log out'), '/logout')], icon='menu')
    with main:
        heading(title, level=1).props('tabindex=-1')
        if ctx.person is not None and len(ctx.household) > 1:
            _household_switcher(ctx)
        yield


def _household_switcher(ctx: PortalContext) -> None:
    options = {p.id: p.name for p in ctx.household}

    def switch(event) -> None:  # noqa: ANN001
        choose_person(event.value)
        ui.navigate.reload()

    ui.select(options, value=ctx.person.id if ctx.person else None, label=ctx.t('Showing'), on_change=switch) \
        .classes('w-full').mark('household-switcher')


def portal_context(principal: Principal | None) -> PortalContext:
    """What a portal page knows of its reader: the signed-in recipient's language and chosen household member, or
    (None, on a public page) the language this browser chose."""
    if principal is None:
        lang = browser_language()
        return PortalContext(None, lang, translator(lang))
    lang, members = _reader(principal)
    return PortalContext(principal, lang, translator(lang), chosen_person(members), tuple(members))


async def load_portal_context(principal: Principal | None) -> PortalContext:
    """portal_context for page loads: the account's language and household are read in a worker thread (issue 17);
    the browser's storage is read here, on the event loop."""
    if principal is None:
        return portal_context(None)
    lang, members = await run.io_bound(_reader, principal)
    return PortalContext(principal, lang, translator(lang), chosen_person(members), tuple(members))


def _reader(principal: Principal) -> tuple[str, list[household_members.HouseholdMember]]:
    return household_members.language_of(principal=principal), household_members.household(principal=principal)


# For event handlers in the recipient area: the same session check as everywhere (components.guard.acting).
acting_recipient = acting
