"""Vaccine groups and their questions, configured by the state admin, and the portal settings."""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlmodel import Session, col, select

from models import utcnow
from models.portal import GroupQuestion, GroupRule, PortalSettings, VaccineGroup
from services.core import audit
from services.core.db import get_engine, session_scope
from services.core.errors import NotFound, ValidationFailed
from services.permissions import Action, require
from services.portal.choices import ANSWER_OPTIONS
from services.principal import Principal

# ---------------------------------------------------------------- vaccine groups (configured by the state admin)

DEFAULT_GROUPS = [
    ('G1', 'Group 1: Health care workers and long-term care staff and residents',
     'Grupo 1: Trabajadores de la salud y personal y residentes de centros de cuidado a largo plazo'),
    ('G2', 'Group 2: Older adults (65 years and older)', 'Grupo 2: Adultos mayores (65 años o más)'),
    ('G3', 'Group 3: Frontline essential workers', 'Grupo 3: Trabajadores esenciales de primera línea'),
    ('G4', 'Group 4: Adults at high risk of severe illness and people in close group living settings',
     'Grupo 4: Adultos con alto riesgo de enfermedad grave y personas que viven en entornos grupales'),
    ('G5', 'Group 5: Everyone', 'Grupo 5: Todas las personas'),
]
DEFAULT_QUESTIONS = [
    ('health_worker', 'Do you work in health care with in-person patient contact, or live or work in a long-term '
                      'care facility?',
     '¿Trabaja en el cuidado de la salud con contacto en persona con pacientes, o vive o trabaja en un centro de '
     'cuidado a largo plazo?', 'G1'),
    ('age_65', 'Are you 65 years of age or older?', '¿Tiene 65 años o más?', 'G2'),
    ('frontline', 'Are you a frontline essential worker (for example teacher, grocery, food processing, public '
                  'safety)?',
     '¿Es usted un trabajador esencial de primera línea (por ejemplo maestro, supermercado, procesamiento de '
     'alimentos, seguridad pública)?', 'G3'),
    ('high_risk', 'Do you have a medical condition that increases the risk of severe COVID-19 illness, or live in '
                  'a close group setting?',
     '¿Tiene una condición médica que aumenta el riesgo de enfermedad grave por COVID-19, o vive en un entorno '
     'grupal?', 'G4'),
]


@contextmanager
def _then_forget_groups() -> Iterator[None]:
    """Around an admin's change to the groups: the cached configuration goes once the change is committed."""
    try:
        yield
    finally:
        forget_group_config()


def ensure_default_groups(session: Session) -> None:
    """A fresh system starts with the state's published groups; the state admin edits them afterwards."""
    if session.exec(select(VaccineGroup.id).limit(1)).first() is not None:
        return
    groups = {}
    for order, (code, name_en, name_es) in enumerate(DEFAULT_GROUPS, start=1):
        groups[code] = VaccineGroup(code=code, name_en=name_en, name_es=name_es, sort_order=order,
                                    is_default=code == 'G5')
        session.add(groups[code])
    session.flush()
    for order, (code, text_en, text_es, group_code) in enumerate(DEFAULT_QUESTIONS, start=1):
        question = GroupQuestion(code=code, text_en=text_en, text_es=text_es, sort_order=order)
        session.add(question)
        session.flush()
        session.add(GroupRule(priority=order * 10, question_id=question.id or 0, answer='yes',
                              group_id=groups[group_code].id or 0))


@dataclass(frozen=True)
class Question:
    id: int
    code: str
    text_en: str
    text_es: str
    sort_order: int
    active: bool

    def text(self, lang: str) -> str:
        return (self.text_es or self.text_en) if lang == 'es' else self.text_en


@dataclass(frozen=True)
class Group:
    id: int
    code: str
    name_en: str
    name_es: str
    sort_order: int
    is_default: bool

    def name(self, lang: str) -> str:
        return (self.name_es or self.name_en) if lang == 'es' else self.name_en


@dataclass(frozen=True)
class Rule:
    id: int
    priority: int
    question_id: int
    answer: str
    group_id: int


@dataclass(frozen=True)
class GroupConfig:
    groups: list[Group]
    questions: list[Question]
    rules: list[Rule]


def _config(session: Session) -> GroupConfig:
    ensure_default_groups(session)
    groups = [Group(g.id or 0, g.code, g.name_en, g.name_es, g.sort_order, g.is_default)
              for g in session.exec(select(VaccineGroup).order_by(col(VaccineGroup.sort_order)))]
    questions = [Question(q.id or 0, q.code, q.text_en, q.text_es, q.sort_order, q.active)
                 for q in session.exec(select(GroupQuestion).order_by(col(GroupQuestion.sort_order)))]
    rules = [Rule(r.id or 0, r.priority, r.question_id, r.answer, r.group_id)
             for r in session.exec(select(GroupRule).order_by(col(GroupRule.priority), col(GroupRule.id)))]
    return GroupConfig(groups, questions, rules)


# Every registration page and portal home reads the groups, which a state admin changes rarely: the answer is kept
# a few seconds per database (as the self-registration switch below); a change made here clears it at once, one made
# on another instance shows there within SETTING_SECONDS.
_group_config: tuple[object, float, GroupConfig] | None = None  # (engine, read at, config)


def group_config() -> GroupConfig:
    """What the Vaccine group step asks (anyone signed in may read it)."""
    global _group_config  # one answer for the whole process, like the groups themselves
    engine, now = get_engine(), time.monotonic()
    cached = _group_config
    if cached is not None and cached[0] is engine and now - cached[1] < SETTING_SECONDS:
        return cached[2]
    with session_scope() as session:  # not read-only: a fresh system gets its default groups here
        config = _config(session)
    _group_config = (engine, now, config)
    return config


def forget_group_config() -> None:
    global _group_config
    _group_config = None


def evaluate_group(config: GroupConfig, answers: dict[str, str]) -> Group | None:
    """The group of the first rule (lowest priority number) whose question got its answer; else the default."""
    questions = {q.id: q for q in config.questions if q.active}
    groups = {g.id: g for g in config.groups}
    for rule in config.rules:
        question = questions.get(rule.question_id)
        if question is not None and answers.get(question.code) == rule.answer and rule.group_id in groups:
            return groups[rule.group_id]
    return next((g for g in config.groups if g.is_default), None)


def save_group(*, principal: Principal, group_id: int | None, code: str, name_en: str, name_es: str,
               sort_order: int, is_default: bool) -> int:
    require(principal, Action.MANAGE_SETTINGS)
    code, name_en = code.strip().upper(), name_en.strip()
    if not code or not name_en:
        raise ValidationFailed('A group needs a code and an English name.')
    with _then_forget_groups(), session_scope() as session:
        group = session.get(VaccineGroup, group_id) if group_id else VaccineGroup(code=code, name_en=name_en)
        if group is None:
            raise NotFound('No such group.')
        clash = session.exec(select(VaccineGroup.id).where(VaccineGroup.code == code)).first()
        if clash is not None and clash != group.id:
            raise ValidationFailed(f'Another group already has the code {code}.')
        group.code, group.name_en, group.name_es, group.sort_order = code, name_en, name_es.strip(), sort_order
        if is_default:  # only one default group
            for other in session.exec(select(VaccineGroup).where(col(VaccineGroup.is_default))):
                other.is_default = False
                session.add(other)
        group.is_default = is_default
        session.add(group)
        session.flush()
        audit.record(session, action='vaccine_group_saved', actor=principal, entity_type='vaccine_group',
                     entity_id=group.id, detail=f'{code}: {name_en}')
        return group.id or 0


def save_question(*, principal: Principal, question_id: int | None, code: str, text_en: str, text_es: str,
                  sort_order: int, active: bool) -> int:
    require(principal, Action.MANAGE_SETTINGS)
    code, text_en = code.strip().lower(), text_en.strip()
    if not code or not text_en:
        raise ValidationFailed('A question needs a code and an English text.')
    with _then_forget_groups(), session_scope() as session:
        question = session.get(GroupQuestion, question_id) if question_id else GroupQuestion(code=code, text_en=text_en)
        if question is None:
            raise NotFound('No such question.')
        clash = session.exec(select(GroupQuestion.id).where(GroupQuestion.code == code)).first()
        if clash is not None and clash != question.id:
            raise ValidationFailed(f'Another question already has the code {code}.')
        question.code, question.text_en, question.text_es = code, text_en, text_es.strip()
        question.sort_order, question.active = sort_order, active
        session.add(question)
        session.flush()
        audit.record(session, action='group_question_saved', actor=principal, entity_type='group_question',
                     entity_id=question.id, detail=code)
        return question.id or 0


def add_rule(*, principal: Principal, question_id: int, answer: str, group_id: int, priority: int) -> int:
    require(principal, Action.MANAGE_SETTINGS)
    if answer not in ANSWER_OPTIONS:
        raise ValidationFailed('The answer must be yes or no.')
    with _then_forget_groups(), session_scope() as session:
        if session.get(GroupQuestion, question_id) is None or session.get(VaccineGroup, group_id) is None:
            raise ValidationFailed('Choose a question and a group.')
        rule = GroupRule(priority=priority, question_id=question_id, answer=answer, group_id=group_id)
        session.add(rule)
        session.flush()
        audit.record(session, action='group_rule_added', actor=principal, entity_type='group_rule', entity_id=rule.id,
                     detail=f'question {question_id} = {answer} -> group {group_id} (priority {priority})')
        return rule.id or 0


def delete_rule(*, principal: Principal, rule_id: int) -> None:
    require(principal, Action.MANAGE_SETTINGS)
    with _then_forget_groups(), session_scope() as session:
        rule = session.get(GroupRule, rule_id)
        if rule is not None:
            session.delete(rule)
            audit.record(session, action='group_rule_deleted', actor=principal, entity_type='group_rule',
                         entity_id=rule_id)


# ---------------------------------------------------------------- portal settings

# Every log-in and sign-up page asks whether self-registration is open: under load that query took a tenth of the
# web process (README "Capacity"). The answer is kept a few seconds per database; a change made here clears it at
# once, one made on another instance shows there within SETTING_SECONDS.
SETTING_SECONDS = 5.0
_self_registration: tuple[object, float, bool] | None = None  # (engine, read at, open?)


def self_registration_enabled() -> bool:
    global _self_registration  # one answer for the whole process, like the setting itself
    engine, now = get_engine(), time.monotonic()
    cached = _self_registration
    if cached is not None and cached[0] is engine and now - cached[1] < SETTING_SECONDS:
        return cached[2]
    with session_scope(read_only=True) as session:
        row = session.get(PortalSettings, 1)
        enabled = bool(row and row.self_registration_enabled)
    _self_registration = (engine, now, enabled)
    return enabled


def set_self_registration(*, principal: Principal, enabled: bool) -> None:
    require(principal, Action.MANAGE_SETTINGS)
    with session_scope() as session:
        row = session.get(PortalSettings, 1) or PortalSettings(id=1)
        row.self_registration_enabled, row.updated_at = enabled, utcnow()
        session.add(row)
        audit.record(session, action='self_registration_' + ('enabled' if enabled else 'disabled'), actor=principal)
    forget_self_registration()  # after the commit: the next page here reads the new value


def forget_self_registration() -> None:
    global _self_registration
    _self_registration = None


