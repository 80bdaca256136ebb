"""Knowledge base for the help desk: the list of articles (drafts too) and the editor (Markdown with its preview,
Save draft, Publish, Unpublish). Readers see published articles under /help (pages/helpdesk/help_center.py)."""
from __future__ import annotations

from nicegui import run, ui

from components.error_summary import ErrorSummary, required
from components.guard import acting
from components.page import page
from components.theme import heading
from services.core.errors import NotFound, ServiceError, ValidationFailed
from services.helpdesk import knowledge
from services.permissions import Action
from services.principal import Principal

COLUMNS = [
    {'name': 'title', 'label': 'Title', 'field': 'title', 'align': 'left', 'sortable': True},
    {'name': 'audience', 'label': 'Audience', 'field': 'audience', 'align': 'left', 'sortable': True},
    {'name': 'language', 'label': 'Language', 'field': 'language', 'align': 'left', 'sortable': True},
    {'name': 'status', 'label': 'Status', 'field': 'status', 'align': 'left', 'sortable': True},
    {'name': 'updated', 'label': 'Updated', 'field': 'updated', 'align': 'left', 'sortable': True},
]


@page('/helpdesk/articles', title='Knowledge base', action=Action.WRITE_ARTICLES)
async def articles_page(principal: Principal) -> None:
    ui.label('Articles for providers and recipients. A new article is a draft until you publish it; published '
             'articles show on the help pages and as suggestions while people type a case subject.') \
        .classes('text-sm')
    with ui.row().classes('items-end gap-4 w-full'):
        search = ui.input('Search articles').props('clearable type=search').classes('w-80').mark('article-search')
        ui.button('New article', icon='add', on_click=lambda: ui.navigate.to('/helpdesk/articles/new')) \
            .mark('new-article')
        ui.link('Help pages as readers see them', '/help')

    @ui.refreshable
    async def listing() -> None:
        rows = await run.io_bound(knowledge.list_articles, principal=acting(), search=search.value or '')
        if not rows:
            ui.label('No articles match this search.' if search.value else 'No articles yet: write the first one.') \
                .mark('no-articles')
            return
        table = ui.table(columns=COLUMNS, rows=[
            {'id': a.id, 'title': a.title, 'audience': a.audience_label, 'language': knowledge.LANGUAGES[a.language],
             'status': a.status, 'updated': f'{a.updated_at:%b %d, %Y}'} for a in rows], row_key='id') \
            .classes('w-full').mark('articles')
        table.add_slot('body-cell-title', '''
            <q-td :props="props"><a :href="'/helpdesk/articles/' + props.row.id" class="text-primary underline">
            {{ props.value }}</a></q-td>''')

    await listing()
    search.on_value_change(listing.refresh)


@page('/helpdesk/articles/{article_id}', title='Edit article', action=Action.WRITE_ARTICLES)
async def article_editor(principal: Principal, article_id: str) -> None:
    article: knowledge.Article | None = None
    if article_id != 'new':
        try:
            article = await run.io_bound(knowledge.article_for_editing, principal=principal,
                                         article_id=int(article_id) if article_id.isdigit() else -1)
        except NotFound as missing:
            heading('Article not found')
            ui.label(str(missing))
            ui.link('Back to the knowledge base', '/helpdesk/articles')
            return
    state = {'id': article.id if article else None, 'published': article.published if article else False}
    ui.link('← Knowledge base', '/helpdesk/articles')
    title_heading = heading(article.title if article else 'New article')
    status = ui.label(_status_text(state['published'])).classes('text-sm').props('role=status').mark('status')
    errors = ErrorSummary()
    with ui.row().classes('w-full gap-4 items-start'):
        with ui.column().classes('grow gap-2').style('min-width: 20rem; flex: 1 1 0'):
            title = required(ui.input('Title', value=article.title if article else '').classes('w-full')
                             .props(f'maxlength={knowledge.TITLE_MAX}').mark('title'))
            with ui.row().classes('gap-4'):
                # Selects always hold a value: the asterisk only (axe refuses aria-required on Quasar's select).
                audience = ui.select(knowledge.AUDIENCES, label='Audience *',
                                     value=article.audience if article else 'providers').classes('w-64') \
                    .mark('audience')
                language = ui.select(knowledge.LANGUAGES, label='Language *',
                                     value=article.language if article else 'en').classes('w-40').mark('language')
            body = required(ui.textarea('Article (Markdown)', value=article.body if article else '')
                            .classes('w-full').props('autogrow input-style="min-height: 16rem"').mark('body'))
            ui.label('Markdown: **bold**, *italic*, # headings, - lists, 1. steps, [link text](https://...), tables. '
                     'HTML is shown as text.').classes('text-xs text-gray-700')
        with ui.column().classes('grow gap-2').style('min-width: 20rem; flex: 1 1 0'):
            heading('Preview')
            preview = ui.html(knowledge.render_markdown(body.value)).classes('cvms-article w-full').mark('preview')
    body.on('update:model-value', lambda: preview.set_content(knowledge.render_markdown(body.value or '')),
            throttle=0.3)

    async def save(publish: bool | None) -> None:
        errors.hide()
        try:
            saved = await run.io_bound(knowledge.save_article, principal=acting(), article_id=state['id'],
                                       title=title.value or '', body=body.value or '',
                                       audience=audience.value or '', language=language.value or '')
            if publish is not None:
                await run.io_bound(knowledge.set_published, principal=acting(), article_id=saved, published=publish)
                state['published'] = publish
        except ValidationFailed as failure:
            fields = {'title': title, 'body': body, 'audience': audience, 'language': language}
            problems = getattr(failure, 'errors', {}) or {'title': str(failure)}
            errors.show([(fields[name], message) for name, message in problems.items()], mark_fields=True)
            return
        except ServiceError as refused:
            ui.notify(str(refused), type='negative')
            return
        if state['id'] is None:
            state['id'] = saved
            ui.navigate.history.replace(f'/helpdesk/articles/{saved}')
        title_heading.set_text(title.value.strip())
        status.set_text(_status_text(state['published']))
        buttons.refresh()
        ui.notify({True: 'Article published.', False: 'Article unpublished: it is a draft again.',
                   None: 'Article saved.'}[publish], type='positive')

    @ui.refreshable
    def buttons() -> None:
        with ui.row().classes('gap-2'):
            if state['published']:
                ui.button('Save', on_click=lambda: save(None)).mark('save')
                ui.button('Unpublish', on_click=lambda: save(False)).props('outline').mark('unpublish')
                ui.link('Open as readers see it', knowledge.article_url(state['id'] or 0)).mark('reader-link')
            else:
                ui.button('Save draft', on_click=lambda: save(None)).props('outline').mark('save-draft')
                ui.button('Publish', on_click=lambda: save(True)).mark('publish')

    buttons()


def _status_text(published: bool) -> str:
    return 'Status: Published (readers and case suggestions see it)' if published \
        else 'Status: Draft (only the help desk sees it)'
