"""The knowledge base through the simulated browser: an agent writes and publishes an article, readers find it on
the help pages (search box), drafts stay hidden, Markdown cannot inject a script."""
from __future__ import annotations

from nicegui import ui
from nicegui.testing import User

from models.knowledge import KbArticle
from services.core.db import session_scope
from services.helpdesk import knowledge
from tests.factories import ADMIN, MANAGER, log_in, principal, set_value


async def test_an_agent_writes_publishes_and_readers_find_the_article(demo, user: User) -> None:  # noqa: ANN001
    await log_in(user, ADMIN)
    await user.open('/helpdesk/articles')
    await user.should_see(marker='articles', retries=50)
    rows = user.find(marker='articles').elements.pop().rows
    assert 'Bulk upload error messages and what they mean' in [r['title'] for r in rows]
    assert {'title': 'Temperature excursions on receipt', 'status': 'Draft'}.items() <= \
        next(r for r in rows if r['title'].startswith('Temperature')).items()
    await user.open('/helpdesk/articles/new')
    await user.should_see('Status: Draft')
    user.find(marker='save-draft').click()  # nothing filled in: each required field says what to fill
    await user.should_see('Enter a title.')
    await user.should_see('Write the article.')
    set_value(user, 'title', 'Ultracold freezer alarms')
    set_value(user, 'body', 'When the **freezer alarm** sounds, move the vials to the backup unit.')
    await user.should_see('freezer alarm')  # the preview
    user.find(marker='publish').click()
    await user.should_see('Status: Published', retries=50)
    with session_scope(read_only=True) as session:
        article = session.query(KbArticle).filter(KbArticle.title == 'Ultracold freezer alarms').one()
        assert article.published and article.audience == 'providers'

    await user.open('/help/providers?lang=en')
    await user.should_see('Help for vaccine providers')
    user.find(marker='help-search').type('freezer')
    await user.should_see('Articles matching your search', retries=50)
    await user.should_see('Ultracold freezer alarms')
    await user.open(f'/help/articles/{article.id}')
    await user.should_see('Ultracold freezer alarms')
    await user.should_see('move the vials to the backup unit')


async def test_readers_never_see_drafts_and_other_staff_cannot_write(demo, user: User) -> None:  # noqa: ANN001
    with session_scope(read_only=True) as session:
        draft = session.query(KbArticle).filter(KbArticle.published.is_(False)).first()
    await user.open(f'/help/articles/{draft.id}')
    await user.should_see('Article not found')
    await user.open('/help/recipients?lang=es')
    await user.should_see('¿Olvidó su contraseña? Cómo restablecerla')
    await user.should_not_see('Bulk upload error messages')  # a providers' article
    await log_in(user, MANAGER)
    await user.open('/helpdesk/articles')
    await user.should_not_see('New article')


async def test_an_article_cannot_inject_a_script(demo, user: User) -> None:  # noqa: ANN001
    agent = principal(ADMIN)
    article = knowledge.save_article(
        principal=agent, article_id=None, title='Hostile article', audience='both', language='en',
        body='<script>window.hacked = 1</script>\n\n<img src=x onerror="window.hacked = 2">\n\n'
             '[click me](javascript:window.hacked=3)')
    knowledge.set_published(principal=agent, article_id=article, published=True)
    await user.open(f'/help/articles/{article}')
    await user.should_see('Hostile article')
    body = user.find(marker='article-body').elements.pop()
    assert isinstance(body, ui.html)
    assert '<script' not in body.content and '&lt;script&gt;' in body.content
    assert '<img' not in body.content and 'href="javascript' not in body.content
