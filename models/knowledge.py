"""The help desk's knowledge base: articles agents write for providers, recipients or both, in English or Spanish.
Full-text search is the database's own (migration 0023: SQLite FTS5, PostgreSQL text search with a GIN index),
outside these models: services/helpdesk/knowledge.py."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from .base import utcnow


class KbArticle(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    body: str = Field(default='', sa_type=Text)  # Markdown, rendered without raw HTML
    audience: str = Field(default='both', max_length=16, index=True)  # providers | recipients | both
    language: str = Field(default='en', max_length=8)  # en | es
    published: bool = Field(default=False, index=True)  # False: a draft, only agents see it
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    published_at: datetime | None = None
    author_user_id: int | None = Field(default=None, foreign_key='user.id')
    updated_by_email: str = Field(default='', max_length=254)
