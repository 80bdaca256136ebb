"""The help desk's knowledge base: articles agents write (Markdown; for providers, recipients or both; English or
Spanish; a draft until published) and everyone reads, found with the database's own full-text search.

Search (migration 0023): SQLite's FTS5 table `kbsearch_fts` (porter stemming, accents aside; ranked by bm25 with the
title weighing more), PostgreSQL's text search on a GIN-indexed tsvector (English or Spanish stemming by the
article's language; ranked by ts_rank, title weight A). Each typed word matches as a prefix ("passw" finds
"password") and any word may match, best first: the case intake form suggests articles while the subject is typed.
Bodies render without raw HTML and with safe links only (`render_markdown`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from markdown_it import MarkdownIt
from sqlalchemy import bindparam, text
from sqlmodel import Session, col, select

from models import utcnow
from models.knowledge import KbArticle
from services.core import audit
from services.core.db import session_scope
from services.core.errors import NotFound, ValidationFailed
from services.permissions import Action, require
from services.principal import Principal

AUDIENCES = {'providers': 'Providers', 'recipients': 'Recipients', 'both': 'Providers and recipients'}
LANGUAGES = {'en': 'English', 'es': 'Español'}
TITLE_MAX = 200
BODY_MAX = 50_000
MAX_WORDS = 12  # a subject line's words; more only slow the search down

# The same expression as migration 0023's GIN index (a query uses the index only when its expression matches).
PG_DOCUMENT = ("setweight(to_tsvector(CASE WHEN language = 'es' THEN 'spanish'::regconfig ELSE 'english'::regconfig "
               "END, title), 'A') || setweight(to_tsvector(CASE WHEN language = 'es' THEN 'spanish'::regconfig "
               "ELSE 'english'::regconfig END, body), 'B')")

# The searches: constant SQL text (the document expression above); every value is bound.
PG_SEARCH = ('SELECT a.id, a.title, a.audience, a.language FROM kbarticle a, '  # noqa: S608
             f'to_tsquery(CAST(:config AS regconfig), :terms) q WHERE ({PG_DOCUMENT}) @@ q '
             'AND (a.published OR :drafts) AND a.language = :language AND a.audience IN :audiences '
             f'ORDER BY ts_rank(({PG_DOCUMENT}), q) DESC, a.id LIMIT :limit')
SQLITE_SEARCH = ('SELECT a.id, a.title, a.audience, a.language FROM kbsearch_fts '
                 'JOIN kbarticle a ON a.id = kbsearch_fts.rowid WHERE kbsearch_fts MATCH :terms '
                 'AND (a.published OR :drafts) AND a.language = :language AND a.audience IN :audiences '
                 'ORDER BY bm25(kbsearch_fts, 5.0, 1.0), a.id LIMIT :limit')


@dataclass(frozen=True)
class ArticleHit:
    """A search result: what the intake form's suggestions and the search box show."""
    id: int
    title: str
    url: str
    audience: str
    language: str


@dataclass(frozen=True)
class Article:
    id: int
    title: str
    body: str
    audience: str
    language: str
    published: bool
    updated_at: datetime
    updated_by_email: str

    @property
    def url(self) -> str:
        return article_url(self.id)

    @property
    def audience_label(self) -> str:
        return AUDIENCES.get(self.audience, self.audience)

    @property
    def status(self) -> str:
        return 'Published' if self.published else 'Draft'


def article_url(article_id: int) -> str:
    return f'/help/articles/{article_id}'


# ---------------------------------------------------------------- reading (everyone: published articles only)

def search_articles(*, query: str, audience: str, language: str, limit: int = 5) -> list[ArticleHit]:
    """Published articles for `audience` ('providers', 'recipients'; 'both' or '' for every audience) in
    `language` matching any word of `query` (as a prefix), best first. Public: drafts never show."""
    words = search_words(query)
    if not words:
        return []
    limit = max(1, min(limit, 50))
    audiences = _audiences(audience)
    language = language if language in LANGUAGES else 'en'
    with session_scope(read_only=True) as session:
        rows = _search(session, words, audiences, language, limit)
    return [ArticleHit(id=row[0], title=row[1], url=article_url(row[0]), audience=row[2], language=row[3])
            for row in rows]


def published_articles(*, audience: str, language: str) -> list[ArticleHit]:
    """Every published article for the audience in the language, by title: the help pages' list."""
    with session_scope(read_only=True) as session:
        rows = session.exec(select(KbArticle.id, KbArticle.title, KbArticle.audience, KbArticle.language)
                            .where(col(KbArticle.published))
                            .where(col(KbArticle.audience).in_(_audiences(audience)))
                            .where(KbArticle.language == (language if language in LANGUAGES else 'en'))
                            .order_by(col(KbArticle.title))).all()
    return [ArticleHit(id=r[0], title=r[1], url=article_url(r[0]), audience=r[2], language=r[3]) for r in rows]


def published_article(*, article_id: int) -> Article:
    """A published article, for anyone; a draft or a missing one is NotFound (drafts are not public)."""
    with session_scope(read_only=True) as session:
        article = session.get(KbArticle, article_id)
        if article is None or not article.published:
            raise NotFound('This article does not exist or is not published.')
        return _public(article)


def render_markdown(body: str) -> str:
    """The article's HTML: CommonMark and tables, raw HTML shown as text (never run), links only to http(s),
    mailto and relative addresses (markdown-it refuses javascript:, vbscript:, file: and data: links)."""
    return _renderer().render(body or '')


# ---------------------------------------------------------------- writing (help desk agents, state admins)

def list_articles(*, principal: Principal, search: str = '') -> list[Article]:
    """Every article, drafts too, newest change first; `search` narrows by title or body (the full-text search,
    drafts included)."""
    require(principal, Action.WRITE_ARTICLES)
    with session_scope(read_only=True) as session:
        query = select(KbArticle).order_by(col(KbArticle.updated_at).desc(), col(KbArticle.id).desc())
        words = search_words(search)
        if words:
            ids = [row[0] for lang in LANGUAGES
                   for row in _search(session, words, tuple(AUDIENCES), lang, 200, published_only=False)]
            query = query.where(col(KbArticle.id).in_(ids or [-1]))
        return [_public(a) for a in session.exec(query.limit(500)).all()]


def article_for_editing(*, principal: Principal, article_id: int) -> Article:
    require(principal, Action.WRITE_ARTICLES)
    with session_scope(read_only=True) as session:
        return _public(_article(session, article_id))


def save_article(*, principal: Principal, article_id: int | None, title: str, body: str, audience: str,
                 language: str) -> int:
    """Create (article_id None) or change an article; a new one is a draft. Returns its id. ValidationFailed
    names each field to fix (`errors`: {field: message})."""
    require(principal, Action.WRITE_ARTICLES)
    title, body = (title or '').strip(), (body or '').strip()
    errors = {}
    if not title:
        errors['title'] = 'Enter a title.'
    elif len(title) > TITLE_MAX:
        errors['title'] = f'The title is too long (at most {TITLE_MAX} characters).'
    if not body:
        errors['body'] = 'Write the article.'
    elif len(body) > BODY_MAX:
        errors['body'] = f'The article is too long (at most {BODY_MAX:,} characters).'
    if audience not in AUDIENCES:
        errors['audience'] = 'Choose who the article is for.'
    if language not in LANGUAGES:
        errors['language'] = 'Choose the language of the article.'
    if errors:
        failure = ValidationFailed(' '.join(errors.values()))
        failure.errors = errors  # type: ignore[attr-defined]
        raise failure
    with session_scope() as session:
        article = KbArticle(author_user_id=principal.user_id or None) if article_id is None \
            else _article(session, article_id)
        article.title, article.body, article.audience, article.language = title, body, audience, language
        article.updated_at, article.updated_by_email = utcnow(), principal.email
        session.add(article)
        session.flush()
        audit.record(session, action='kb_article_saved', actor=principal, entity_type='kbarticle',
                     entity_id=article.id, detail=f'{"created" if article_id is None else "changed"}: {title[:200]}')
        return article.id or 0


def set_published(*, principal: Principal, article_id: int, published: bool) -> None:
    """Publish a draft (readers and suggestions see it) or take an article back to draft."""
    require(principal, Action.WRITE_ARTICLES)
    with session_scope() as session:
        article = _article(session, article_id)
        article.published = published
        article.published_at = utcnow() if published else None
        article.updated_at, article.updated_by_email = utcnow(), principal.email
        session.add(article)
        audit.record(session, action='kb_article_published' if published else 'kb_article_unpublished',
                     actor=principal, entity_type='kbarticle', entity_id=article_id, detail=article.title[:200])


# ---------------------------------------------------------------- search in each database

def search_words(query: str) -> list[str]:
    """The words of a query, letters and digits only: nothing of the search syntax of either database survives."""
    return re.findall(r'[^\W_]+', (query or '').lower())[:MAX_WORDS]


def _search(session: Session, words: list[str], audiences: tuple[str, ...], language: str, limit: int, *,
            published_only: bool = True) -> list[tuple]:
    if session.get_bind().dialect.name == 'postgresql':
        statement = text(PG_SEARCH)
        params = {'config': 'spanish' if language == 'es' else 'english',
                  'terms': ' | '.join(f'{w}:*' for w in words)}
    else:
        statement = text(SQLITE_SEARCH)
        params = {'terms': ' OR '.join(f'"{w}"*' for w in words)}
    statement = statement.bindparams(bindparam('audiences', expanding=True))
    return [tuple(row) for row in session.execute(statement, {
        **params, 'language': language, 'audiences': list(audiences), 'limit': limit, 'drafts': not published_only})]


def _audiences(audience: str) -> tuple[str, ...]:
    if audience in ('providers', 'recipients'):
        return (audience, 'both')
    return tuple(AUDIENCES)


def _article(session: Session, article_id: int) -> KbArticle:
    article = session.get(KbArticle, article_id)
    if article is None:
        raise NotFound('This article does not exist.')
    return article


def _public(article: KbArticle) -> Article:
    return Article(id=article.id or 0, title=article.title, body=article.body, audience=article.audience,
                   language=article.language, published=article.published, updated_at=article.updated_at,
                   updated_by_email=article.updated_by_email)


@lru_cache(maxsize=1)
def _renderer() -> MarkdownIt:
    return MarkdownIt('commonmark', {'html': False, 'linkify': False}).enable('table')
