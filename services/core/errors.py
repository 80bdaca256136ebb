"""Errors services raise; pages turn them into messages a person can act on."""
from __future__ import annotations


class ServiceError(Exception):
    """A refusal with a message meant for the person at the screen."""


class NotAllowed(ServiceError):
    def __init__(self, message: str = 'You are not allowed to do this.') -> None:
        super().__init__(message)
        self.after_rollback = None  # set by permissions.deny: audit work for services.db.session_scope


class NotFound(ServiceError):
    pass


class ValidationFailed(ServiceError):
    pass
