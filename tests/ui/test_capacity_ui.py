"""What one process holds (issue 17): pages that answer with a redirect leave no client behind, the page guard and
the portal's pages read the database off the event loop, and the mass-traffic pages stay light."""
from __future__ import annotations

from nicegui import Client
from nicegui.testing import User

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
