"""Who is acting: a plain, immutable value passed from pages, the CLI or jobs into every service call."""
from __future__ import annotations

from dataclasses import dataclass

from models import Role


@dataclass(frozen=True)
class Principal:
    user_id: int
    email: str
    role: str
    full_name: str = ''
    organization_id: int | None = None
    location_id: int | None = None
    portal_account_id: int | None = None
    client_ip: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == Role.STATE_ADMIN


SYSTEM = Principal(user_id=0, email='system', role=Role.STATE_ADMIN, full_name='System')
