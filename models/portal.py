"""The recipient portal's own tables: registration progress and answers, vaccine groups and the rules that
lead to them (configured by the state admin), portal settings, and proof-of-vaccination verification codes."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from .base import utcnow


class PortalSettings(SQLModel, table=True):
    """One row (id 1): switches the state admin flips without a deploy."""
    id: int = Field(default=1, primary_key=True)
    self_registration_enabled: bool = False
    updated_at: datetime = Field(default_factory=utcnow)


class VaccineGroup(SQLModel, table=True):
    """A prioritization group ("Group 1: Health care workers and long-term care"). Names in both languages."""
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name_en: str = Field(max_length=200)
    name_es: str = Field(default='', max_length=200)
    sort_order: int = 0
    is_default: bool = False  # the group of a person no rule matches


class GroupQuestion(SQLModel, table=True):
    """A yes/no question of the Vaccine group step."""
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    text_en: str = Field(max_length=400)
    text_es: str = Field(default='', max_length=400)
    sort_order: int = 0
    active: bool = True


class GroupRule(SQLModel, table=True):
    """"When the answer to QUESTION is ANSWER, the person is in GROUP"; the lowest priority number that matches wins."""
    id: int | None = Field(default=None, primary_key=True)
    priority: int = 100
    question_id: int = Field(foreign_key='groupquestion.id', index=True)
    answer: str = Field(default='yes', max_length=8)  # yes | no
    group_id: int = Field(foreign_key='vaccinegroup.id', index=True)


class RegistrationProgress(SQLModel, table=True):
    """A recipient's COVID-19 Vaccine Registration: where they are in the stepper, what they entered so far
    (kept on Pause), and when it was completed. Answers are JSON text; the desk pre-fills its screening with the
    health answers."""
    id: int | None = Field(default=None, primary_key=True)
    recipient_id: int = Field(foreign_key='recipient.id', unique=True)
    step: int = 0
    status: str = Field(default='in_progress', max_length=16)  # in_progress | paused | complete
    contact_json: str = Field(default='{}', sa_type=Text)
    group_answers_json: str = Field(default='{}', sa_type=Text)
    health_answers_json: str = Field(default='{}', sa_type=Text)
    group_id: int | None = Field(default=None, foreign_key='vaccinegroup.id')
    paused_at: datetime | None = None
    completed_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class ProofCode(SQLModel, table=True):
    """The unguessable code in a proof of vaccination's QR link (/verify/<code>); one per recipient."""
    id: int | None = Field(default=None, primary_key=True)
    recipient_id: int = Field(foreign_key='recipient.id', unique=True)
    code: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow)
