"""The knowledge base (services/helpdesk/knowledge.py): the database's own full-text search on SQLite (FTS5) and
PostgreSQL (tsvector + GIN), drafts kept from readers, audiences and languages, safe Markdown."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from services.core.db import session_scope
from services.core.errors import NotAllowed, NotFound, ValidationFailed
from services.helpdesk import knowledge
from tests import factories as fx


def titles(query: str, audience: str = 'providers', language: str = 'en', limit: int = 5) -> list[str]:
    return [hit.title for hit in knowledge.search_articles(query=query, audience=audience, language=language,
                                                           limit=limit)]


def test_search_finds_the_demo_faq_by_the_words_a_provider_types(demo) -> None:  # noqa: ANN001
    assert titles('invalid date of birth')[0] == 'Bulk upload error messages and what they mean'
    assert titles('BulkError.csv re-upload')[0] == 'Fix and re-upload BulkError.csv'
    assert titles('passw')[0] == 'Forgot your password? Reset it'  # a word being typed: a prefix
    assert titles('system offline outage paper')[0] == 'Offline operations: when CVMS is unavailable'
    assert titles('errors')  # stemmed: "errors" finds "error"
    [hit] = knowledge.search_articles(query='remove loaded recipient', audience='providers', language='en', limit=1)
    assert hit.url == f'/help/articles/{hit.id}' and hit.title == 'Removing a loaded recipient'


def test_search_keeps_to_the_audience_the_language_and_published_articles(demo) -> None:  # noqa: ANN001
    assert titles('bulk upload', audience='recipients') == []  # provider articles only
    assert titles('password', audience='recipients') == ['Forgot your password? Reset it']  # for both
    assert titles('contraseña', audience='recipients', language='es') == ['¿Olvidó su contraseña? Cómo restablecerla']
    assert titles('contraseña', audience='recipients', language='en') == []
    assert titles('temperature excursion') == []  # a draft: readers never see it
    agent = fx.principal(fx.ADMIN)
    assert [a.title for a in knowledge.list_articles(principal=agent, search='temperature')] == \
        ['Temperature excursions on receipt']


@pytest.mark.parametrize('query', ['"', "'; DROP TABLE kbarticle; --", 'NEAR(a b) OR AND NOT *', 'a:* | !b & (c',
                                   '', '   ', '___'])
def test_any_typed_text_is_a_harmless_query(demo, query: str) -> None:  # noqa: ANN001
    assert isinstance(titles(query), list)
    with session_scope(read_only=True) as session:
        assert session.execute(text('SELECT count(*) FROM kbarticle')).scalar() == 7


def test_a_saved_article_is_searchable_and_a_changed_one_follows(demo) -> None:  # noqa: ANN001
    agent = fx.principal(fx.ADMIN)
    with pytest.raises(ValidationFailed) as refused:
        knowledge.save_article(principal=agent, article_id=None, title='', body='', audience='nobody', language='fr')
    assert set(refused.value.errors) == {'title', 'body', 'audience', 'language'}
    article = knowledge.save_article(principal=agent, article_id=None, title='Ultracold freezer alarms',
                                     body='When the freezer alarm sounds, move the vials.', audience='providers',
                                     language='en')
    assert titles('freezer') == []  # a new article is a draft
    knowledge.set_published(principal=agent, article_id=article, published=True)
    assert titles('freezer alarm') == ['Ultracold freezer alarms']
    knowledge.save_article(principal=agent, article_id=article, title='Dry ice handling',
                           body='Wear gloves when you handle dry ice.', audience='providers', language='en')
    assert titles('freezer') == [] and titles('gloves') == ['Dry ice handling']
    assert knowledge.published_article(article_id=article).title == 'Dry ice handling'
    knowledge.set_published(principal=agent, article_id=article, published=False)
    with pytest.raises(NotFound):
        knowledge.published_article(article_id=article)


def test_only_the_help_desk_writes_articles(demo) -> None:  # noqa: ANN001
    for email in (fx.MANAGER, fx.PROVIDER, fx.EMPLOYER, fx.RECIPIENT):
        with pytest.raises(NotAllowed):
            knowledge.save_article(principal=fx.principal(email), article_id=None, title='Mine', body='Text',
                                   audience='both', language='en')
        with pytest.raises(NotAllowed):
            knowledge.list_articles(principal=fx.principal(email))


def test_markdown_renders_without_running_anything() -> None:
    html = knowledge.render_markdown('# Title\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n'
                                     '[click](javascript:alert(1)) [ok](https://example.org) **bold**\n\n'
                                     '| a | b |\n|---|---|\n| 1 | 2 |')
    assert '<script' not in html and '&lt;script&gt;' in html
    assert '<img' not in html
    assert 'href="javascript' not in html and '<a href="https://example.org">ok</a>' in html
    assert '<strong>bold</strong>' in html and '<h1>Title</h1>' in html and '<td>1</td>' in html


def test_postgresql_answers_from_the_gin_index(db: str) -> None:
    """The search's document expression is the index's own (migration 0023), so PostgreSQL reads the index."""
    if db != 'postgres':
        pytest.skip("the GIN index is PostgreSQL's; SQLite searches its FTS5 table")
    with session_scope() as session:
        session.execute(text('SET LOCAL enable_seqscan = off'))  # a demo's few rows would be read in full
        plan = '\n'.join(row[0] for row in session.execute(text(
            f'EXPLAIN SELECT id FROM kbarticle WHERE ({knowledge.PG_DOCUMENT}) @@ to_tsquery(\'english\', :terms)'),
            {'terms': 'password:*'}))
    assert 'kbsearch_document' in plan, plan
