"""The state's readiness checklist for vaccination locations, and each location's ticks (training page, Step 2)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from .base import utcnow


class ReadinessItem(SQLModel, table=True):
    """One item of the state's checklist ("Storage unit monitored with a data logger"). Retired items stay (their
    ticks and audit history name them) but no longer count."""
    id: int | None = Field(default=None, primary_key=True)
    label: str = Field(max_length=200)
    sort_order: int = 0
    retired_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class ReadinessCheck(SQLModel, table=True):
    """Where one location stands on one item: ticked or not, by whom and when it last changed (each change is
    also an audit event, so unticking keeps the history)."""
    __table_args__ = (UniqueConstraint('location_id', 'item_id', name='uq_readinesscheck_location_item'),)
    id: int | None = Field(default=None, primary_key=True)
    location_id: int = Field(foreign_key='location.id', index=True)
    item_id: int = Field(foreign_key='readinessitem.id')
    ticked: bool = False
    changed_by_user_id: int | None = Field(default=None, foreign_key='user.id')
    changed_at: datetime = Field(default_factory=utcnow)
