"""The help pages everyone may read, signed in or not: published knowledge base articles for providers and for
recipients, in English or Spanish, with a search box (the database's full-text search), and one article's page
(its Markdown rendered without raw HTML: services.helpdesk.knowledge.render_markdown)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nicegui import run, ui

from components.portal_frame import browser_language
from components.theme import apply_theme, heading, main_region, skip_link
from services.core.errors import NotFound
from services.helpdesk import knowledge

TEXT = {
    'en': {'help': 'Help', 'providers': 'Help for vaccine providers', 'recipients': 'Help for vaccine recipients',
           'search': 'Search the help articles', 'none': 'No article matches this search. Try other words, or ask '
           'the help desk.', 'empty': 'No articles yet.', 'all': 'All articles', 'results': 'Articles matching your '
           'search', 'back': 'Back to the help articles', 'other': 'Español', 'missing': 'Article not found',
           'intro': 'Answers to common questions. Cannot find yours? Ask the help desk.'},
    'es': {'help': 'Ayuda', 'providers': 'Ayuda para proveedores de vacunas',
           'recipients': 'Ayuda para personas que reciben la vacuna', 'search': 'Buscar en los artículos de ayuda',
           'none': 'Ningún artículo coincide con la búsqueda. Pruebe otras palabras o consulte a la mesa de ayuda.',
           'empty': 'Todavía no hay artículos.', 'all': 'Todos los artículos',
           'results': 'Artículos que coinciden con su búsqueda', 'back': 'Volver a los artículos de ayuda',
           'other': 'English', 'missing': 'Artículo no encontrado',
           'intro': 'Respuestas a preguntas frecuentes. ¿No encuentra la suya? Consulte a la mesa de ayuda.'},
}
AUDIENCE_PATHS = {'providers': '/help/providers', 'recipients': '/help/recipients'}


@ui.page('/help', title='Help · CVMS')
def help_home(lang: str = '') -> None:
    lang = _language(lang)
    t = TEXT[lang]
    with _frame(lang, '/help'):
        heading(t['help'], level=1)
        ui.label(t['intro'])
        for audience, path in AUDIENCE_PATHS.items():
            ui.link(t[audience], f'{path}?lang={lang}').classes('text-lg').mark(f'help-{audience}')


@ui.page('/help/providers', title='Help for providers · CVMS')
async def help_for_providers(lang: str = '', q: str = '') -> None:
    await _audience_page('providers', _language(lang), q)


@ui.page('/help/recipients', title='Help for recipients · CVMS')
async def help_for_recipients(lang: str = '', q: str = '') -> None:
    await _audience_page('recipients', _language(lang), q)


@ui.page('/help/articles/{article_id}', title='Help article · CVMS')
async def help_article(article_id: str) -> None:
    try:
        article = await run.io_bound(knowledge.published_article,
                                     article_id=int(article_id) if article_id.isdigit() else -1)
    except NotFound:
        lang = browser_language()
        with _frame(lang, '/help'):
            heading(TEXT[lang]['missing'], level=1)
            ui.link(TEXT[lang]['back'], '/help')
        return
    t = TEXT[article.language]
    back = AUDIENCE_PATHS.get(article.audience, '/help')
    with _frame(article.language, f'{back}'):
        ui.link(f'← {t["back"]}', f'{back}?lang={article.language}')
        heading(article.title, level=1).mark('article-title')
        # Rendered on the server without raw HTML; NiceGUI's DOMPurify sanitizes it again in the browser.
        ui.html(knowledge.render_markdown(article.body)).classes('cvms-article w-full').mark('article-body')


async def _audience_page(audience: str, lang: str, query: str) -> None:
    t = TEXT[lang]
    with _frame(lang, AUDIENCE_PATHS[audience]):
        heading(t[audience], level=1)
        search = ui.input(t['search'], value=query).props('type=search clearable').classes('w-full max-w-xl') \
            .mark('help-search')

        @ui.refreshable
        async def results() -> None:
            if knowledge.search_words(search.value or ''):
                heading(t['results'])
                hits = await run.io_bound(knowledge.search_articles, query=search.value, audience=audience,
                                          language=lang, limit=10)
                message = t['none']
            else:
                heading(t['all'])
                hits = await run.io_bound(knowledge.published_articles, audience=audience, language=lang)
                message = t['empty']
            if not hits:
                ui.label(message).props('role=status').mark('no-help-articles')
                return
            with ui.element('ul').classes('list-disc pl-5').mark('help-articles'):
                for hit in hits:
                    with ui.element('li'):
                        ui.link(hit.title, hit.url)

        await results()
        search.on_value_change(results.refresh)


@contextmanager
def _frame(lang: str, here: str) -> Iterator[None]:
    """The help pages' own frame: open to everyone, so not the staff header or the portal's."""
    apply_theme()
    ui.query('html').props(f'lang={lang}')
    main = main_region('w-full max-w-screen-md mx-auto p-4 column gap-4')
    with ui.header().classes('cvms-header items-center justify-between px-4 py-2'):
        skip_link(main, 'Skip to main content' if lang == 'en' else 'Ir al contenido principal')
        ui.link('CVMS · ' + TEXT[lang]['help'], f'/help?lang={lang}').classes('text-white font-semibold')
        with ui.row().classes('gap-4'):
            other = 'es' if lang == 'en' else 'en'
            ui.link(TEXT[lang]['other'], f'{here}?lang={other}').classes('text-white').props(f'lang={other}')
            ui.link('Log in' if lang == 'en' else 'Iniciar sesión', '/login').classes('text-white')
    with main:
        yield


def _language(lang: str) -> str:
    return lang if lang in knowledge.LANGUAGES else browser_language()
