"""Recipients' portal logins: one account per email address, holding the whole household."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlmodel import Session, select

from models import OutboxMessage, PasswordToken, PortalAccount, Recipient, Role, User, utcnow
from services.accounts.auth import TOKEN_LIFETIMES, issue_token, link, new_tokens, normalize_email, token_digest
from services.core import mail
from services.core.fast_sql import allocate_ids, fetch_in, insert_rows
from services.core.i18n import translator


@dataclass(frozen=True)
class Attached:
    account_id: int | None
    new_account: bool  # False: added to an existing household (or no account possible)


@lru_cache(maxsize=16)
def _bilingual_template(body: str) -> str:
    """English, then Spanish, as one template (filled once per email of a 100,000-row upload); only English
    while a message has no Spanish translation. The catalogs are read-only once loaded."""
    english, spanish = translator('en')(body), translator('es')(body)
    return english if english == spanish else f'{english}\n---- En español ----\n\n{spanish}'


def _bilingual(body: str, **values: str) -> str:
    """English, then Spanish: the person's language is not known before they choose it in the portal."""
    return _bilingual_template(body).format(**values)


def _(message: str) -> str:
    return message  # marks a catalog message id; translated in _bilingual


WELCOME_BODY = _('Hello {first_name},\n\nYour vaccine provider has registered you in the COVID-19 Vaccine Portal.\n'
                 'Your COVID-19 Vaccine Portal username: {email}\n\n'
                 'Set up your password here (the link works for 7 days):\n{url}\n\n'
                 'Then complete the COVID-19 Vaccine Registration. Registration does not mean that you are currently '
                 'eligible to be vaccinated or that you have an appointment.\n')
HOUSEHOLD_BODY = _('{first_name} has been added to the COVID-19 Vaccine Portal account {email}.\n'
                   'Log in to see and manage everyone in your household: {url}\n')


def welcome_email(*, first_name: str, email: str, set_password_url: str) -> tuple[str, str]:
    subject = 'Welcome to the North Carolina Vaccine Management COVID-19 Vaccine Portal'
    return subject, _bilingual(WELCOME_BODY, first_name=first_name, email=email, url=set_password_url)


def household_email(*, first_name: str, email: str, login_url: str) -> tuple[str, str]:
    subject = 'A family member was added to your COVID-19 Vaccine Portal account'
    return subject, _bilingual(HOUSEHOLD_BODY, first_name=first_name, email=email, url=login_url)


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


@dataclass(frozen=True)
class NewRecipient:
    """A recipient row just inserted in bulk (services.bulk_import), in the order of the file."""
    recipient_id: int
    first_name: str
    last_name: str
    email: str


def accounts_for_emails(session: Session,
                        people: list[tuple[str, str]]) -> tuple[dict[str, int | None], dict[str, int]]:
    """Bulk form of attach_recipient's first half, with the same rules: one portal account per (normalized) email,
    created when missing; an address owned by a staff login gets none. Returns ({email: account id or None},
    {email: user id of each account created here}), so the caller can insert recipients already linked.
    `people` holds (email, full name) in file order; a new account is named after its first person."""
    names: dict[str, str] = {}
    for email, full_name in people:
        if email:
            names.setdefault(normalize_email(email), full_name)
    wanted = sorted(names)
    accounts: dict[str, int | None] = {}
    conn = session.connection()
    # SQLite plans by the statistics of the last ANALYZE: taken while portal accounts were few, they made it
    # scan the whole table for every chunk of an upload that is creating thousands (3.6 s of 28 s at 100,000).
    hint = ' INDEXED BY ix_portalaccount_email' if conn.dialect.name == 'sqlite' else ''
    query = f'SELECT email, id FROM portalaccount{hint} WHERE email IN ({{marks}})'  # noqa: S608 - no user text
    accounts.update(fetch_in(conn, query, wanted))
    missing = [e for e in wanted if e not in accounts]
    staff = {email for (email,) in fetch_in(conn, 'SELECT email FROM "user" WHERE email IN ({marks})', missing)}
    for email in staff:
        accounts[email] = None
    to_create = [e for e in missing if e not in staff]
    created: dict[str, int] = {}
    if to_create:
        now = utcnow()
        user_ids = allocate_ids(conn, User.__table__, len(to_create))
        account_ids = allocate_ids(conn, PortalAccount.__table__, len(to_create))
        insert_rows(conn, User.__table__, ('id', 'email', 'full_name', 'role', 'is_active'),
                    [(i, e, names[e][:200], str(Role.RECIPIENT), True) for i, e in zip(user_ids, to_create,
                                                                                      strict=True)],
                    constants={'created_at': now})
        insert_rows(conn, PortalAccount.__table__, ('id', 'user_id', 'email', 'language'),
                    [(a, u, e, 'en') for a, u, e in zip(account_ids, user_ids, to_create, strict=True)],
                    constants={'created_at': now})
        created = dict(zip(to_create, user_ids, strict=True))
        accounts.update(zip(to_create, account_ids, strict=True))
    return accounts, created


def queue_welcome_emails(session: Session, people: list[NewRecipient], accounts: dict[str, int | None],
                         created_users: dict[str, int]) -> int:
    """Bulk form of attach_recipient's second half: the first recipient of a new account gets the welcome email
    with a set-password link, everyone else the household email; dedupe keys as attach_recipient's."""
    now = utcnow()
    expires = now + TOKEN_LIFETIMES['welcome']
    tokens, messages, names = [], [], {}
    login_url, set_password_url = link('/login'), link('/set-password/')  # per file, not per row
    fresh = new_tokens(len(created_users))
    for person in people:
        if not person.email:
            continue
        email = normalize_email(person.email)
        if accounts.get(email) is None:  # a staff login owns this address: no portal account, no email
            continue
        user_id = created_users.get(email)
        if user_id is not None and email not in names:
            names[email] = person.first_name
            token = next(fresh)
            tokens.append((token_digest(token), user_id, 'welcome'))
            # The token is stored apart from the body, as mail.enqueue does (no search of every body for it).
            subject, body = welcome_email(first_name=person.first_name, email=email,
                                          set_password_url=set_password_url + mail.SECRET_SLOT)
        else:
            subject, body = household_email(first_name=person.first_name, email=email, login_url=login_url)
            token = None
        messages.append((email, subject, body, f'welcome:recipient:{person.recipient_id}', token))
    conn = session.connection()
    insert_rows(conn, PasswordToken.__table__, ('token_hash', 'user_id', 'purpose'), tokens,
                constants={'created_at': now, 'expires_at': expires})
    insert_rows(conn, OutboxMessage.__table__, ('to_addr', 'subject', 'body_text', 'dedupe_key', 'secret'), messages,
                constants={'status': 'pending', 'attempts': 0, 'created_at': now, 'next_attempt_at': now})
    return len(messages)
