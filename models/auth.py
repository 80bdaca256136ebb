"""Tables behind log-in: server-side sessions, emailed password tokens, failed-login throttling."""
from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from .base import utcnow


class AuthSession(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)  # sha256 of the random token kept in the browser storage
    user_id: int = Field(foreign_key='user.id', index=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None
    end_reason: str | None = Field(default=None, max_length=32)
    client_ip: str | None = Field(default=None, max_length=64)


class PasswordToken(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key='user.id', index=True)
    purpose: str = Field(max_length=16)  # welcome | reset | verify
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None


class LoginThrottle(SQLModel, table=True):
    """Recent failed log-ins (and password-reset requests) per account and per client address: they slow further
    attempts, never lock (services.accounts.auth). Rows past their window are pruned by the background work."""
    key: str = Field(primary_key=True, max_length=128)
    failures: int = 0
    last_failure_at: datetime = Field(default_factory=utcnow, index=True)
