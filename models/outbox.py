from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, LargeBinary, Text
from sqlmodel import Field, SQLModel

from .base import utcnow


class OutboxMessage(SQLModel, table=True):
    """An email written in the same transaction as the change that causes it; the sender delivers it later."""
    # The Outbox screen's recipient and subject searches (services/core/outbox.py, migration 0018): a range of
    # the column, newest first by id. No index on created_at (migration 0008): the screen finds a day by a binary
    # search over ids, and every welcome email of a bulk upload would pay another B-tree insert.
    __table_args__ = (Index('ix_outboxmessage_to_addr_id', 'to_addr', 'id'),
                      Index('ix_outboxmessage_subject_id', 'subject', 'id'))
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    to_addr: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    body_text: str = Field(sa_type=Text)
    body_html: str | None = Field(default=None, sa_type=Text)
    # Guards against the same logical message being queued twice (e.g. a resumed import job).
    dedupe_key: str | None = Field(default=None, max_length=200, unique=True)
    # The token of a password link in body_text (where services.core.mail.SECRET_SLOT stands), until it is sent.
    secret: str | None = Field(default=None, max_length=100)
    status: str = Field(default='pending', max_length=16, index=True)  # pending | sending | sent | failed
    # The sender that claimed it ('sending') and until when: a sender renews its claims while it works, so only
    # the claims of a sender that died (or froze) expire and are taken over; nobody resets claims at start-up.
    claimed_by: str | None = Field(default=None, max_length=80)
    claimed_until: datetime | None = None
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True)
    last_error: str | None = Field(default=None, max_length=1000)
    sent_at: datetime | None = None


class MailPace(SQLModel, table=True):
    """The next free sending slot (seconds since the epoch) of the mail rate cap, shared by every sender of every
    instance through the database when there is no Redis (CVMS_MAIL_RATE_PER_SECOND). One row, id 1."""
    id: int = Field(default=1, primary_key=True, sa_column_kwargs={'autoincrement': False})
    next_at: float = 0.0


class OutboxAttachment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key='outboxmessage.id', index=True)
    filename: str = Field(max_length=200)
    content_type: str = Field(default='text/csv', max_length=100)
    data: bytes = Field(sa_type=LargeBinary)


class OutboxMessagePublic(SQLModel):
    id: int
    created_at: datetime
    to_addr: str
    subject: str
    body_text: str
    status: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    attachment_names: list[str] = []
