"""SQLModel tables and their Create/Public shapes. Importing this package registers every table:
each module of this package is imported, so a new table module needs no line here."""
import importlib as _importlib
import pkgutil as _pkgutil

from .audit import AuditChainHead, AuditEvent, AuditEventPublic
from .auth import AuthSession, LoginThrottle, PasswordToken
from .base import EnrollmentStatus, OrganizationKind, RecipientSource, Role, utcnow
from .location import Location, LocationCreate, LocationPublic
from .organization import Organization, OrganizationCreate, OrganizationPublic
from .outbox import MailPace, OutboxAttachment, OutboxMessage, OutboxMessagePublic
from .portal_account import PortalAccount, PortalAccountPublic
from .recipient import Recipient, RecipientCreate, RecipientPublic
from .user import User, UserCreate, UserPublic

__all__ = [
    'AuditChainHead', 'AuditEvent', 'AuditEventPublic', 'AuthSession', 'EnrollmentStatus', 'Location', 'LocationCreate',
    'LocationPublic', 'LoginThrottle', 'Organization', 'OrganizationCreate', 'OrganizationKind',
    'OrganizationPublic', 'MailPace', 'OutboxAttachment', 'OutboxMessage', 'OutboxMessagePublic', 'PasswordToken',
    'PortalAccount', 'PortalAccountPublic', 'Recipient', 'RecipientCreate', 'RecipientPublic', 'RecipientSource',
    'Role', 'User', 'UserCreate', 'UserPublic', 'utcnow',
]

for _module in _pkgutil.iter_modules(__path__):
    _importlib.import_module(f'{__name__}.{_module.name}')
