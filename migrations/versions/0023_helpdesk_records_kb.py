"""help desk: inactive and merged recipient records; the knowledge base with the database's own full-text search

Revision ID: 0023_helpdesk_records_kb
Revises: 0022_fhir
Create Date: 2026-12-02

Knowledge base search (services/helpdesk/knowledge.py) is the database's own: on SQLite an FTS5 table over the
articles' title and body, kept by triggers (external content: the text is stored once, in kbarticle); on
PostgreSQL a GIN index on the articles' tsvector, English or Spanish stemming by the article's language. Both are
named kbsearch_* so the schema comparison and autogenerate leave them alone (services.core.db.engine_object).
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

UTCDateTime = sqlmodel.sql.sqltypes.UTCDateTime
AutoString = sqlmodel.sql.sqltypes.AutoString

revision: str = '0023_helpdesk_records_kb'
down_revision: str | Sequence[str] | None = '0022_fhir'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same expression as services/helpdesk/knowledge.PG_DOCUMENT (a query uses the index only when it matches).
PG_DOCUMENT = ("setweight(to_tsvector(CASE WHEN language = 'es' THEN 'spanish'::regconfig ELSE 'english'::regconfig "
               "END, title), 'A') || setweight(to_tsvector(CASE WHEN language = 'es' THEN 'spanish'::regconfig "
               "ELSE 'english'::regconfig END, body), 'B')")


def upgrade() -> None:
    op.create_table(
        'inactiverecipient',
        sa.Column('recipient_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=True),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('by_user_id', sa.Integer(), nullable=True),
        sa.Column('by_email', AutoString(length=254), nullable=False),
        sa.ForeignKeyConstraint(['recipient_id'], ['recipient.id']),
        sa.PrimaryKeyConstraint('recipient_id'),
    )
    op.create_index('ix_inactiverecipient_location_id', 'inactiverecipient', ['location_id'])
    op.create_table(
        'recipientmerge',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.Column('source_id', sa.Integer(), nullable=False),
        sa.Column('survivor_id', sa.Integer(), nullable=False),
        sa.Column('source_json', sa.Text(), nullable=False),
        sa.Column('moved_json', sa.Text(), nullable=False),
        sa.Column('same_person', AutoString(length=300), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('by_user_id', sa.Integer(), nullable=True),
        sa.Column('by_email', AutoString(length=254), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_recipientmerge_source_id', 'recipientmerge', ['source_id'])
    op.create_index('ix_recipientmerge_survivor_id', 'recipientmerge', ['survivor_id'])
    op.create_table(
        'kbarticle',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('title', AutoString(length=200), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('audience', AutoString(length=16), nullable=False),
        sa.Column('language', AutoString(length=8), nullable=False),
        sa.Column('published', sa.Boolean(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.Column('published_at', UTCDateTime(), nullable=True),
        sa.Column('author_user_id', sa.Integer(), nullable=True),
        sa.Column('updated_by_email', AutoString(length=254), nullable=False),
        sa.ForeignKeyConstraint(['author_user_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_kbarticle_audience', 'kbarticle', ['audience'])
    op.create_index('ix_kbarticle_published', 'kbarticle', ['published'])
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'CREATE INDEX kbsearch_document ON kbarticle USING gin (({PG_DOCUMENT}))')
    else:
        op.execute("CREATE VIRTUAL TABLE kbsearch_fts USING fts5(title, body, content='kbarticle', "
                   "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')")
        op.execute('CREATE TRIGGER kbsearch_insert AFTER INSERT ON kbarticle BEGIN '
                   'INSERT INTO kbsearch_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END')
        op.execute('CREATE TRIGGER kbsearch_delete AFTER DELETE ON kbarticle BEGIN '
                   "INSERT INTO kbsearch_fts(kbsearch_fts, rowid, title, body) VALUES ('delete', old.id, old.title, "
                   'old.body); END')
        op.execute('CREATE TRIGGER kbsearch_update AFTER UPDATE OF title, body ON kbarticle BEGIN '
                   "INSERT INTO kbsearch_fts(kbsearch_fts, rowid, title, body) VALUES ('delete', old.id, old.title, "
                   'old.body); INSERT INTO kbsearch_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX IF EXISTS kbsearch_document')
    else:
        for trigger in ('kbsearch_insert', 'kbsearch_delete', 'kbsearch_update'):
            op.execute(f'DROP TRIGGER IF EXISTS {trigger}')
        op.execute('DROP TABLE IF EXISTS kbsearch_fts')
    op.drop_table('kbarticle')
    op.drop_table('recipientmerge')
    op.drop_table('inactiverecipient')
