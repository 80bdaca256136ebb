from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from .base import utcnow


class AuditEvent(SQLModel, table=True):
    """Who did what, when, to which record, from where. Rows are only ever added."""
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor_user_id: int | None = Field(default=None, index=True)  # no FK: the trail outlives accounts
    actor_email: str | None = Field(default=None, max_length=254)
    action: str = Field(max_length=64, index=True)
    entity_type: str | None = Field(default=None, max_length=64)
    entity_id: str | None = Field(default=None, max_length=64)
    detail: str = Field(default='')
    client_ip: str | None = Field(default=None, max_length=64)
    # The chain (services.core.audit): this row's hash covers its fields and the previous row's hash, so a changed,
    # inserted or deleted row breaks it where it happened (`main.py verify-audit`).
    prev_hash: str | None = Field(default=None, max_length=64)
    row_hash: str | None = Field(default=None, max_length=64)
    chain_seq: int | None = Field(default=None, unique=True, index=True)  # place in the chain; None until sealed


class AuditSubject(SQLModel, table=True):
    """The people an audit row is about (its recipient, or each person a list or search showed): the index behind
    the audit page's person filter. Derived from the row (its entity or the ids its detail names), so it is not
    part of the chain."""
    recipient_id: int = Field(primary_key=True, sa_column_kwargs={'autoincrement': False})
    event_id: int = Field(primary_key=True, sa_column_kwargs={'autoincrement': False})  # no FK, as actor_user_id


class AuditChainHead(SQLModel, table=True):
    """The last row of the audit chain: updated in the transaction that seals rows (services.core.audit), so a row
    deleted from the end is noticed too. One row, id 1."""
    id: int = Field(default=1, primary_key=True, sa_column_kwargs={'autoincrement': False})
    last_id: int = 0
    last_seq: int = 0
    last_hash: str = Field(default='', max_length=64)


class AuditEventPublic(SQLModel):
    id: int
    at: datetime
    actor_email: str | None
    action: str
    entity_type: str | None
    entity_id: str | None
    detail: str
    client_ip: str | None
