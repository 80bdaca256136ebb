"""Articles suggested while a requester types (the intake's subject, the recipient form's question)."""
from __future__ import annotations

from services.core.errors import ServiceError
from services.helpdesk.knowledge import ArticleHit, search_articles

MIN_CHARS = 3  # fewer typed characters suggest nothing


def articles_for(text: str, audience: str, language: str, limit: int = 5) -> list[ArticleHit]:
    """The published knowledge base articles matching what was typed; none when too little is typed."""
    if len(text.strip()) < MIN_CHARS:
        return []
    try:
        return search_articles(query=text, audience=audience, language=language, limit=limit)
    except ServiceError:
        return []
