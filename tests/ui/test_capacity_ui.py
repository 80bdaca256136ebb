"""What one process holds (issue 17): pages that answer with a redirect leave no client behind, the page guard and
the portal's pages read the database off the event loop, and the mass-traffic pages stay light."""
from __future__ import annotations

import re
import threading

import pytest
from nicegui import Client, ui
from nicegui.testing import User

from services.accounts import auth
from services.portal import household_members, program_status, registration_form, vaccine_groups
from tests.factories import RECIPIENT, log_in


def _clients_of(path: str, *, besides: set[str] = frozenset()) -> list[Client]:
    return [client for client in Client.instances.values()
            if client.page.path == path and not client.is_deleted and client.id not in besides]


async def test_a_page_that_redirects_leaves_no_client_waiting_for_a_browser(demo, user: User) -> None:
    """A redirect is not a page: no browser will ever connect to its client, which NiceGUI would otherwise keep a
    minute (each log-in passes '/', each stranger on a portal page passes the guard's redirect)."""
    await log_in(user, RECIPIENT)  # through '/', which sends a recipient to /portal
    await user.should_see('Your household')
    assert _clients_of('/') == []
    earlier = set(Client.instances)  # the log-in page the person typed into
    await user.open('/login')  # signed in: /login sends them on
    assert _clients_of('/login', besides=earlier) == []
    await user.open('/portal/registration')
    assert len(_clients_of('/portal/registration')) == 1  # a page that draws keeps its client


@pytest.fixture
def reads_on_the_loop(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The database reads that every portal page makes, each still doing its real work, noted when it runs on the
    event loop (the main thread) instead of a worker thread."""
    on_loop: list[str] = []

    def note(module: object, name: str) -> None:
        real = getattr(module, name)

        def noted(*args, **kwargs):  # noqa: ANN202
            if threading.current_thread() is threading.main_thread():
                on_loop.append(name)
            return real(*args, **kwargs)
        monkeypatch.setattr(module, name, noted)

    for module, name in ((auth, 'resolve_session'), (household_members, 'language_of'),
                         (household_members, 'household'), (program_status, 'program_summary'),
                         (registration_form, 'load_registration'), (vaccine_groups, 'group_config')):
        note(module, name)
    return on_loop


async def test_portal_pages_and_their_clicks_read_the_database_off_the_event_loop(demo, user: User,
                                                                                  reads_on_the_loop: list[str]) -> None:
    """While one page waits for the database, the process's other browsers go on (issue 17: the session check,
    the reader's language and household, the status summary and the registration ran on the loop for every page)."""
    await log_in(user, RECIPIENT)
    await user.should_see('Your household')
    reads_on_the_loop.clear()  # the log-in page's own check of a browser without a session needs no database
    await user.open('/portal')
    await user.should_see('Your household')
    await user.open('/portal/registration?review=1')
    await user.should_see('This registration takes about 5 minutes', retries=100)
    user.find(kind=ui.button, content='Start').click()  # saves the step: the click's session check
    await user.should_see('Street address', retries=100)
    assert reads_on_the_loop == []


async def test_the_portal_home_draws_its_menu_and_navigation_as_few_elements(demo, user: User) -> None:
    """Each element costs every connected browser a few dozen Python objects on the server (issue 17): the menu's
    and the navigation's plain links are one element each, drawn as the same links."""
    await log_in(user, RECIPIENT)
    await user.open('/portal')
    await user.should_see('Your household')
    assert len(user.client.elements) <= 32  # 50 when each link and list item was an element
    [menu] = [e for e in user.client.elements.values() if 'cvms-more-panel' in e.classes]
    assert menu.props['tag'] == 'ul' and 'hidden' in menu.props
    assert '<li><a class="nicegui-link cvms-more-link" href="/logout">Log out</a></li>' in menu.content
    [nav] = [e for e in user.client.elements.values() if e.props.get('tag') == 'nav']
    assert nav.props['aria-label'] == 'Portal'
    assert '<a class="nicegui-link text-base" href="/portal/record">Vaccination record</a>' in nav.content


def test_the_per_element_signature_check_answers_as_nicegui_and_is_kept_per_function() -> None:
    from nicegui import helpers

    from components import speedups

    class Handlers:
        def with_event(self, event) -> None: ...  # noqa: ANN001
        def without(self) -> None: ...
        def optional(self, event=None) -> None: ...  # noqa: ANN001
        def var(self, *args) -> None: ...  # noqa: ANN002

    speedups.install()
    assert helpers.expects_arguments is speedups.expects_arguments
    first, second = Handlers(), Handlers()
    for name, expected in (('with_event', True), ('without', False), ('optional', False), ('var', False)):
        assert helpers.expects_arguments(getattr(first, name)) is expected
        assert helpers.expects_arguments(getattr(second, name)) is expected  # the kept answer
        assert speedups._original(getattr(second, name)) is expected  # NiceGUI's own, for the same method
    assert helpers.expects_arguments(lambda event: None) is True  # other callables: asked as before
    assert helpers.expects_arguments(lambda: None) is False
    assert Handlers.with_event in speedups._by_method


async def test_pages_link_one_stylesheet_the_browser_keeps_instead_of_inlining_it(demo, user: User) -> None:
    """Every page used to carry the whole stylesheet inline (read from disk per page load); now it links the file."""
    page = (await user.http_client.get('/login')).text
    link = re.search(r'<link rel="stylesheet" href="(/cvms-static/app\.css\?v=[0-9a-f]{12})">', page)
    assert link is not None
    assert 'calm blue header' not in page  # the stylesheet's opening comment, no longer in the page
    sheet = await user.http_client.get(link.group(1))
    assert sheet.status_code == 200 and 'calm blue header' in sheet.text
