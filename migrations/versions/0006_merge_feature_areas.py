"""Merge the bulk registration, clinic day (after inventory) and portal branches (see docs/adr/0001).

Revision ID: 0006_merge
Revises: 0002_bulk, 0004_clinic, 0005_portal
Create Date: 2026-11-21
"""
from collections.abc import Sequence

revision: str = '0006_merge'
down_revision: str | Sequence[str] | None = ('0002_bulk', '0004_clinic', '0005_portal')
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
