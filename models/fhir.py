"""Bearer tokens of the FHIR read API: issued and revoked by state admins, each for one location or the whole state.
Only the token's SHA-256 is kept: the token itself is shown once, when it is issued."""
from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from .base import utcnow


class FhirAccessToken(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)  # who uses it, in the admin's words ("NCIR nightly sync")
    token_hash: str = Field(max_length=64, unique=True)  # SHA-256 hex of the token
    token_hint: str = Field(max_length=12)  # the token's first characters, to tell tokens apart on the screen
    location_id: int | None = Field(default=None, foreign_key='location.id', index=True)  # None: the whole state
    created_by_user_id: int | None = Field(default=None, foreign_key='user.id')
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    revoked_by_user_id: int | None = Field(default=None, foreign_key='user.id')
    last_used_at: datetime | None = None
