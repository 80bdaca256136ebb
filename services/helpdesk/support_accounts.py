"""Support portal accounts for providers: registration with a provider PIN (NCA + six digits) or the generic code
for providers not yet enrolled, and an email with the username and a set-password link (never a password).
Staff who already have an account use it."""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import select

from models import Organization, Role, User
from services.accounts.auth import issue_token, link, normalize_email
from services.core import audit, mail
from services.core.db import session_scope
from services.helpdesk.cases import FieldProblems
from services.recipients.fields import email_problem

GENERIC_CODE = 'VAC2021'  # the help desk gives it to providers not yet enrolled: their cases say so
PIN_PATTERN = re.compile(r'NCA\d{6}')


@dataclass(frozen=True)
class Registered:
    email: str
    organization_name: str  # '' for the generic code: an "Unregistered Provider"


def register_provider(*, first_name: str, last_name: str, email: str, registration_code: str,
                      client_ip: str | None = None) -> Registered:
    """Create a Support Portal User account. The code is the organization's provider PIN (its cases carry the
    organization) or GENERIC_CODE (its cases are marked Unregistered Provider). FieldProblems names each field
    to fix. The welcome email carries the username and a 7-day set-password link."""
    email = normalize_email(email)
    code = registration_code.strip().upper()
    problems: dict[str, str] = {}
    if not first_name.strip():
        problems['first_name'] = 'Enter your first name.'
    if not last_name.strip():
        problems['last_name'] = 'Enter your last name.'
    if not email:
        problems['email'] = 'Enter your business email address.'
    elif email_problem(email) is not None:
        problems['email'] = 'Enter a valid business email address, like name@clinic.org.'
    if not code:
        problems['registration_code'] = 'Enter your registration code: your provider PIN (NCA and six digits).'
    elif code != GENERIC_CODE and not PIN_PATTERN.fullmatch(code):
        problems['registration_code'] = ('A registration code is your provider PIN: NCA and six digits, like '
                                         'NCA650001. Not enrolled yet? Ask the help desk for the generic code.')
    with session_scope() as session:
        organization = None
        if code and code != GENERIC_CODE and 'registration_code' not in problems:
            organization = session.exec(select(Organization).where(Organization.provider_pin == code)).first()
            if organization is None:
                problems['registration_code'] = 'No enrolled provider has this PIN. Check it on your enrollment email.'
        if email and 'email' not in problems and session.exec(select(User.id).where(User.email == email)).first():
            problems['email'] = ('An account with this email already exists: log in with it (or use "Forgot '
                                 'password?").')
        if problems:
            raise FieldProblems(problems)
        name = f'{first_name.strip()} {last_name.strip()}'
        user = User(email=email, full_name=name[:200], role=Role.SUPPORT_USER,
                    organization_id=organization.id if organization else None)
        session.add(user)
        session.flush()
        audit.record(session, action='support_account_registered', actor_email=email, client_ip=client_ip,
                     entity_type='user', entity_id=user.id,
                     detail=f'provider PIN {code}' if organization else 'generic code: unregistered provider')
        token = issue_token(session, user.id or 0, 'welcome')
        mail.enqueue(session, to=email, subject='Your Vaccine Support Portal account',
                     body_text=(f'Hello {first_name.strip()},\n\nYour Vaccine Support Portal account is ready.\n'
                                f'Username: {email}\n\nSet your password within 7 days: '
                                f'{link(f"/set-password/{token}")}\n\nThen open cases for the state help desk at '
                                f'{link("/support")}.\n'),
                     dedupe_key=f'welcome:user:{user.id}')
        return Registered(email=email, organization_name=organization.name if organization else '')
