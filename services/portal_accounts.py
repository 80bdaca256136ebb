"""Recipients' portal logins: one account per email address, holding the whole household."""
from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from models import PortalAccount, Recipient, Role, User

from . import mail
from .auth import issue_token, link, normalize_email


@dataclass(frozen=True)
class Attached:
    account_id: int | None
    new_account: bool  # False: added to an existing household (or no account possible)


def welcome_email(*, first_name: str, email: str, set_password_url: str) -> tuple[str, str]:
    subject = 'Welcome to the North Carolina Vaccine Management COVID-19 Vaccine Portal'
    body = (f'Hello {first_name},\n\nYour vaccine provider has registered you in the COVID-19 Vaccine Portal.\n'
            f'Your COVID-19 Vaccine Portal username: {email}\n\n'
            f'Set up your password here (the link works for 7 days):\n{set_password_url}\n\n'
            'Then complete the COVID-19 Vaccine Registration. Registration does not mean that you are currently '
            'eligible to be vaccinated or that you have an appointment.\n')
    return subject, body


def household_email(*, first_name: str, email: str, login_url: str) -> tuple[str, str]:
    subject = 'A family member was added to your COVID-19 Vaccine Portal account'
    body = (f'{first_name} has been added to the COVID-19 Vaccine Portal account {email}.\n'
            f'Log in to see and manage everyone in your household: {login_url}\n')
    return subject, body


def attach_recipient(session: Session, recipient: Recipient) -> Attached:
    """Link a recipient to the portal account of its email (creating it if needed) and queue the
    welcome or household email, at most once per recipient."""
    if not recipient.email:
        return Attached(None, False)
    email = normalize_email(recipient.email)
    account = session.exec(select(PortalAccount).where(PortalAccount.email == email)).first()
    if account is None:
        user = session.exec(select(User).where(User.email == email)).first()
        if user is not None:  # a staff login owns this address: the recipient is kept, without a portal login
            return Attached(None, False)
        user = User(email=email, role=Role.RECIPIENT, full_name=f'{recipient.first_name} {recipient.last_name}')
        session.add(user)
        session.flush()
        account = PortalAccount(user_id=user.id or 0, email=email)
        session.add(account)
        session.flush()
        recipient.portal_account_id = account.id
        session.add(recipient)
        token = issue_token(session, user.id or 0, 'welcome')
        subject, body = welcome_email(first_name=recipient.first_name, email=email,
                                      set_password_url=link(f'/set-password/{token}'))
        mail.enqueue(session, to=email, subject=subject, body_text=body, dedupe_key=f'welcome:recipient:{recipient.id}')
        return Attached(account.id, True)
    recipient.portal_account_id = account.id
    session.add(recipient)
    subject, body = household_email(first_name=recipient.first_name, email=email, login_url=link('/login'))
    mail.enqueue(session, to=email, subject=subject, body_text=body, dedupe_key=f'welcome:recipient:{recipient.id}')
    return Attached(account.id, False)
