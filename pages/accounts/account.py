"""The signed-in person's own account: change password (recipients get the same form in the portal)."""
from __future__ import annotations

from components.change_password import change_password_form
from components.guard import acting
from components.page import page
from services.permissions import Action
from services.principal import Principal


@page('/account/password', title='Change password', action=Action.CHANGE_OWN_PASSWORD)
def change_password_page(principal: Principal) -> None:
    change_password_form(acting)
