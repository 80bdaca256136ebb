"""The recipient portal's rules: household, language, COVID-19 Vaccine Registration (with Pause), vaccine groups
configured by the state admin, self-registration with email verification, and program status.

Every function that acts for a person takes the principal and checks it may touch that recipient; recipients
only ever see their own household. Text a recipient reads (emails included) goes through services.i18n."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models import PortalAccount, Recipient, RecipientSource, Role, User, utcnow
from models.portal import GroupQuestion, GroupRule, PortalSettings, RegistrationProgress, VaccineGroup

from . import audit, mail
from .auth import issue_token, link, normalize_email
from .clinic import SCREENING_QUESTIONS
from .db import session_scope
from .errors import NotAllowed, NotFound, ValidationFailed
from .i18n import normalize_language, translator
from .identity import fold, identity_key
from .permissions import Action, can_access_recipient, require
from .principal import Principal
from .validation import email_problem


def _(message: str) -> str:
    """Marks text for the catalog; it is translated where it is shown (with the reader's language)."""
    return message


# Option values are stored; their labels are message ids translated on the page.
SEX_OPTIONS = {'female': _('Female'), 'male': _('Male'), 'other': _('Other'), 'unknown': _('Prefer not to say')}
RACE_OPTIONS = {
    'american_indian': _('American Indian or Alaska Native'), 'asian': _('Asian'),
    'black': _('Black or African American'), 'pacific_islander': _('Native Hawaiian or Other Pacific Islander'),
    'white': _('White'), 'other': _('Other race'), 'unknown': _('Prefer not to say'),
}
ETHNICITY_OPTIONS = {'hispanic': _('Hispanic or Latino'), 'not_hispanic': _('Not Hispanic or Latino'),
                     'unknown': _('Prefer not to say')}
PREFERRED_LANGUAGE_OPTIONS = {'en': _('English'), 'es': _('Spanish'), 'other': _('Other language')}
ANSWER_OPTIONS = {'yes': _('Yes'), 'no': _('No')}
HEALTH_ANSWER_OPTIONS = {'yes': _('Yes'), 'no': _('No'), 'unknown': _("Don't know")}
# The health questionnaire is the clinic's screening (one list: the desk sees the same questions and keys).
HEALTH_QUESTIONS = dict(SCREENING_QUESTIONS)
NC_COUNTIES = (
    'Alamance', 'Alexander', 'Alleghany', 'Anson', 'Ashe', 'Avery', 'Beaufort', 'Bertie', 'Bladen', 'Brunswick',
    'Buncombe', 'Burke', 'Cabarrus', 'Caldwell', 'Camden', 'Carteret', 'Caswell', 'Catawba', 'Chatham', 'Cherokee',
    'Chowan', 'Clay', 'Cleveland', 'Columbus', 'Craven', 'Cumberland', 'Currituck', 'Dare', 'Davidson', 'Davie',
    'Duplin', 'Durham', 'Edgecombe', 'Forsyth', 'Franklin', 'Gaston', 'Gates', 'Graham', 'Granville', 'Greene',
    'Guilford', 'Halifax', 'Harnett', 'Haywood', 'Henderson', 'Hertford', 'Hoke', 'Hyde', 'Iredell', 'Jackson',
    'Johnston', 'Jones', 'Lee', 'Lenoir', 'Lincoln', 'Macon', 'Madison', 'Martin', 'McDowell', 'Mecklenburg',
    'Mitchell', 'Montgomery', 'Moore', 'Nash', 'New Hanover', 'Northampton', 'Onslow', 'Orange', 'Pamlico',
    'Pasquotank', 'Pender', 'Perquimans', 'Person', 'Pitt', 'Polk', 'Randolph', 'Richmond', 'Robeson', 'Rockingham',
    'Rowan', 'Rutherford', 'Sampson', 'Scotland', 'Stanly', 'Stokes', 'Surry', 'Swain', 'Transylvania', 'Tyrrell',
    'Union', 'Vance', 'Wake', 'Warren', 'Washington', 'Watauga', 'Wayne', 'Wilkes', 'Wilson', 'Yadkin', 'Yancey',
)
CONTACT_FIELDS = ('address_line1', 'city', 'county', 'zip_code', 'phone', 'sex', 'race', 'ethnicity',
                  'preferred_language')
CONTACT_REQUIRED = {'address_line1': _('Street address'), 'city': _('City'), 'county': _('County'),
                    'zip_code': _('ZIP code'), 'phone': _('Phone'), 'sex': _('Sex'), 'race': _('Race'),
                    'ethnicity': _('Ethnicity'), 'preferred_language': _('Preferred language')}
STEPS = (_('Introduction'), _('Contact and Demographic Detail'), _('Vaccine group'), _('Health questionnaire'),
         _('Confirmation'))

STATUS_NOT_ENROLLED, STATUS_ENROLLED, STATUS_VACCINATED = 'not_enrolled', 'enrolled', 'vaccinated'
STATUS_LABELS = {STATUS_NOT_ENROLLED: _('Not Enrolled'), STATUS_ENROLLED: _('Enrolled'),
                 STATUS_VACCINATED: _('Vaccinated')}


# ---------------------------------------------------------------- account, language, household

@dataclass(frozen=True)
class HouseholdMember:
    id: int
    first_name: str
    last_name: str
    date_of_birth: date

    @property
    def name(self) -> str:
        return f'{self.first_name} {self.last_name}'


def _account(session: Session, principal: Principal) -> PortalAccount:
    require(principal, Action.USE_PORTAL)
    account = session.get(PortalAccount, principal.portal_account_id) if principal.portal_account_id else None
    if account is None:
        raise NotFound('No portal account is linked to this login.')
    return account


def language_of(principal: Principal) -> str:
    with session_scope() as session:
        return normalize_language(_account(session, principal).language)


def set_language(principal: Principal, lang: str) -> str:
    lang = normalize_language(lang)
    with session_scope() as session:
        account = _account(session, principal)
        account.language = lang
        session.add(account)
    return lang


def household(principal: Principal) -> list[HouseholdMember]:
    with session_scope() as session:
        account = _account(session, principal)
        people = session.exec(select(Recipient).where(Recipient.portal_account_id == account.id)
                              .order_by(col(Recipient.id))).all()
        return [HouseholdMember(p.id or 0, p.first_name, p.last_name, p.date_of_birth) for p in people]


def _recipient(session: Session, principal: Principal, recipient_id: int) -> Recipient:
    require(principal, Action.USE_PORTAL)
    recipient = session.get(Recipient, recipient_id)
    if recipient is None or not can_access_recipient(principal, location_id=recipient.location_id,
                                                     organization_id=recipient.organization_id,
                                                     portal_account_id=recipient.portal_account_id):
        raise NotAllowed()
    return recipient


def check_name(value: str, label: str, lang: str) -> str:
    _t = translator(lang)
    value = ' '.join(value.split())
    if not value:
        raise ValidationFailed(_t('{field} is required.').format(field=_t(label)))
    if len(value) > 80 or any(not (ch.isalnum() or ch in " -'’.") for ch in value):
        raise ValidationFailed(_t('{field}: use letters, spaces, hyphens, apostrophes and periods only.')
                               .format(field=_t(label)))
    return value


def check_birth_date(value: date | None, lang: str) -> date:
    if value is None or value > date.today() or value.year < 1900:
        _t = translator(lang)
        raise ValidationFailed(_t('Enter a real date of birth (MM/DD/YYYY).'))
    return value


def _new_recipient(session: Session, *, first_name: str, last_name: str, date_of_birth: date, email: str,
                   account_id: int | None, source: str, created_by: int | None, lang: str) -> Recipient:
    key = identity_key(first_name, last_name, date_of_birth)
    if session.exec(select(Recipient.id).where(Recipient.identity_key == key)).first() is not None:
        _t = translator(lang)
        raise ValidationFailed(_t('A person with this name and date of birth is already registered. If this is you, '
                                  'use the email from your vaccine provider or "Forgot password?".'))
    recipient = Recipient(first_name=first_name, last_name=last_name, date_of_birth=date_of_birth, email=email,
                          identity_key=key, first_name_key=fold(first_name), last_name_key=fold(last_name),
                          source=source, portal_account_id=account_id, created_by_user_id=created_by)
    session.add(recipient)
    session.flush()
    return recipient


def add_dependent(principal: Principal, *, first_name: str, last_name: str, date_of_birth: date | None,
                  lang: str = 'en') -> int:
    """Add a family member (a child, a parent in one's care) to the account holder's household."""
    first_name = check_name(first_name, _('First name'), lang)
    last_name = check_name(last_name, _('Last name'), lang)
    born = check_birth_date(date_of_birth, lang)
    with session_scope() as session:
        account = _account(session, principal)
        recipient = _new_recipient(session, first_name=first_name, last_name=last_name, date_of_birth=born,
                                   email=account.email, account_id=account.id, source=RecipientSource.SELF_REGISTRATION,
                                   created_by=principal.user_id, lang=lang)
        audit.record(session, action='portal_dependent_added', actor=principal, entity_type='recipient',
                     entity_id=recipient.id)
        return recipient.id or 0


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


def group_config() -> GroupConfig:
    """What the Vaccine group step asks (anyone signed in may read it)."""
    with session_scope() as session:
        return _config(session)


def evaluate_group(config: GroupConfig, answers: dict[str, str]) -> Group | None:
    """The group of the first rule (lowest priority number) whose question got its answer; else the default."""
    questions = {q.id: q for q in config.questions if q.active}
    groups = {g.id: g for g in config.groups}
    for rule in config.rules:
        question = questions.get(rule.question_id)
        if question is not None and answers.get(question.code) == rule.answer and rule.group_id in groups:
            return groups[rule.group_id]
    return next((g for g in config.groups if g.is_default), None)


def save_group(principal: Principal, *, group_id: int | None, code: str, name_en: str, name_es: str,
               sort_order: int, is_default: bool) -> int:
    require(principal, Action.MANAGE_SETTINGS)
    code, name_en = code.strip().upper(), name_en.strip()
    if not code or not name_en:
        raise ValidationFailed('A group needs a code and an English name.')
    with session_scope() as session:
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


def save_question(principal: Principal, *, question_id: int | None, code: str, text_en: str, text_es: str,
                  sort_order: int, active: bool) -> int:
    require(principal, Action.MANAGE_SETTINGS)
    code, text_en = code.strip().lower(), text_en.strip()
    if not code or not text_en:
        raise ValidationFailed('A question needs a code and an English text.')
    with session_scope() as session:
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


def add_rule(principal: Principal, *, question_id: int, answer: str, group_id: int, priority: int) -> int:
    require(principal, Action.MANAGE_SETTINGS)
    if answer not in ANSWER_OPTIONS:
        raise ValidationFailed('The answer must be yes or no.')
    with session_scope() as session:
        if session.get(GroupQuestion, question_id) is None or session.get(VaccineGroup, group_id) is None:
            raise ValidationFailed('Choose a question and a group.')
        rule = GroupRule(priority=priority, question_id=question_id, answer=answer, group_id=group_id)
        session.add(rule)
        session.flush()
        audit.record(session, action='group_rule_added', actor=principal, entity_type='group_rule', entity_id=rule.id,
                     detail=f'question {question_id} = {answer} -> group {group_id} (priority {priority})')
        return rule.id or 0


def delete_rule(principal: Principal, rule_id: int) -> None:
    require(principal, Action.MANAGE_SETTINGS)
    with session_scope() as session:
        rule = session.get(GroupRule, rule_id)
        if rule is not None:
            session.delete(rule)
            audit.record(session, action='group_rule_deleted', actor=principal, entity_type='group_rule',
                         entity_id=rule_id)


# ---------------------------------------------------------------- portal settings

def self_registration_enabled() -> bool:
    with session_scope() as session:
        row = session.get(PortalSettings, 1)
        return bool(row and row.self_registration_enabled)


def set_self_registration(principal: Principal, enabled: bool) -> None:
    require(principal, Action.MANAGE_SETTINGS)
    with session_scope() as session:
        row = session.get(PortalSettings, 1) or PortalSettings(id=1)
        row.self_registration_enabled, row.updated_at = enabled, utcnow()
        session.add(row)
        audit.record(session, action='self_registration_' + ('enabled' if enabled else 'disabled'), actor=principal)


# ---------------------------------------------------------------- COVID-19 Vaccine Registration

@dataclass
class Registration:
    recipient_id: int
    name: str
    step: int = 0
    status: str = 'new'  # new | in_progress | paused | complete
    contact: dict[str, str] = field(default_factory=dict)
    group_answers: dict[str, str] = field(default_factory=dict)
    health_answers: dict[str, str] = field(default_factory=dict)
    group_id: int | None = None


def _contact_from(recipient: Recipient) -> dict[str, str]:
    return {name: getattr(recipient, name) or '' for name in CONTACT_FIELDS}


def load_registration(principal: Principal, recipient_id: int) -> Registration:
    with session_scope() as session:
        recipient = _recipient(session, principal, recipient_id)
        progress = session.exec(select(RegistrationProgress)
                                .where(RegistrationProgress.recipient_id == recipient_id)).first()
        registration = Registration(recipient_id, f'{recipient.first_name} {recipient.last_name}',
                                    contact=_contact_from(recipient))
        if progress is not None:
            registration.step, registration.status, registration.group_id = (progress.step, progress.status,
                                                                            progress.group_id)
            registration.contact.update({k: v for k, v in json.loads(progress.contact_json).items() if v})
            registration.group_answers = json.loads(progress.group_answers_json)
            registration.health_answers = json.loads(progress.health_answers_json)
        return registration


def _clean(values: dict[str, str], allowed: set[str] | tuple[str, ...]) -> dict[str, str]:
    return {k: str(v).strip()[:200] for k, v in values.items() if k in allowed and v is not None}


def save_progress(principal: Principal, registration: Registration, *, pause: bool = False) -> None:
    """Keep what was entered so far (also on Pause); a completed registration stays complete."""
    with session_scope() as session:
        _recipient(session, principal, registration.recipient_id)
        progress = _locked_progress(session, registration.recipient_id)
        progress.step = max(0, min(registration.step, len(STEPS) - 1))
        progress.contact_json = json.dumps(_clean(registration.contact, CONTACT_FIELDS))
        progress.group_answers_json = json.dumps(_clean(registration.group_answers, set(_question_codes(session))))
        progress.health_answers_json = json.dumps(_clean(registration.health_answers, set(HEALTH_QUESTIONS)))
        if progress.status != 'complete':
            progress.status = 'paused' if pause else 'in_progress'
            progress.paused_at = utcnow() if pause else progress.paused_at
        progress.updated_at = utcnow()
        session.add(progress)
        if pause:
            audit.record(session, action='portal_registration_paused', actor=principal, entity_type='recipient',
                         entity_id=registration.recipient_id, detail=f'step {progress.step}')


def _locked_progress(session: Session, recipient_id: int) -> RegistrationProgress:
    """The person's progress row, created if missing and locked for this unit of work: two saves at once (a double
    click, two devices) update one row instead of both inserting."""
    query = select(RegistrationProgress).where(RegistrationProgress.recipient_id == recipient_id).with_for_update()
    progress = session.exec(query).first()
    if progress is None:
        try:
            with session.begin_nested():
                session.add(RegistrationProgress(recipient_id=recipient_id))
        except IntegrityError:
            pass  # the other save created it first
        progress = session.exec(query).one()
    return progress


def _question_codes(session: Session) -> list[str]:
    return list(session.exec(select(GroupQuestion.code)))


def contact_problems(contact: dict[str, str]) -> list[str]:
    """Message ids of the missing or wrong fields of the Contact and Demographic Detail step."""
    problems = [label for name, label in CONTACT_REQUIRED.items() if not (contact.get(name) or '').strip()]
    zip_code = (contact.get('zip_code') or '').strip()
    if zip_code and not (len(zip_code) in (5, 10) and zip_code[:5].isdigit()):
        problems.append(_('ZIP code'))
    digits = [ch for ch in contact.get('phone') or '' if ch.isdigit()]
    if contact.get('phone') and len(digits) not in (10, 11):
        problems.append(_('Phone'))
    return problems


def complete_registration(principal: Principal, registration: Registration, *, lang: str) -> Group | None:
    """Finish the registration: demographics onto the recipient, the vaccine group from the admin's rules,
    and the confirmation email in the reader's language."""
    if problems := contact_problems(registration.contact):
        _t = translator(lang)
        raise ValidationFailed(_t('Check these fields: {fields}').format(fields=', '.join(_t(p) for p in problems)))
    with session_scope() as session:
        recipient = _recipient(session, principal, registration.recipient_id)
        config = _config(session)
        group = evaluate_group(config, registration.group_answers)
        contact = _clean(registration.contact, CONTACT_FIELDS)
        for name in CONTACT_FIELDS:
            setattr(recipient, name, contact.get(name) or None)
        recipient.state = recipient.state or 'NC'
        session.add(recipient)
        progress = _locked_progress(session, registration.recipient_id)
        progress.contact_json = json.dumps(contact)
        progress.group_answers_json = json.dumps(_clean(registration.group_answers, set(_question_codes(session))))
        progress.health_answers_json = json.dumps(_clean(registration.health_answers, set(HEALTH_QUESTIONS)))
        progress.group_id = group.id if group else None
        progress.status, progress.step = 'complete', len(STEPS) - 1
        progress.completed_at = progress.updated_at = utcnow()
        session.add(progress)
        audit.record(session, action='portal_registration_completed', actor=principal, entity_type='recipient',
                     entity_id=recipient.id, detail=f'group {group.code if group else "-"}')
        if recipient.portal_account_id:
            account = session.get(PortalAccount, recipient.portal_account_id)
            if account is not None:
                _t = translator(account.language)
                mail.enqueue(session, to=account.email, subject=_t('Your COVID-19 Vaccine Registration is complete'),
                             body_text=_registration_email(_t, recipient.first_name,
                                                           group.name(account.language) if group else ''),
                             dedupe_key=f'portal:registered:{recipient.id}')
        return group


REGISTRATION_CAVEAT = _('Thank you for completing the registration process. Please remember that registration does '
                        'not mean that you are currently eligible to be vaccinated or that you have an appointment. '
                        'A free COVID-19 vaccine will be available to all who want it, but supplies are currently '
                        'limited.')


def _registration_email(_t, first_name: str, group_name: str) -> str:  # noqa: ANN001
    lines = [_t('Hello {name},').format(name=first_name), '', _t('Your registration is complete'), '',
             _t(REGISTRATION_CAVEAT)]
    if group_name:
        lines += ['', _t('Your vaccine group: {group}').format(group=group_name)]
    lines += ['', _t('Book an appointment and see your vaccination record at {url}').format(url=link('/portal')), '']
    return '\n'.join(lines)


# ---------------------------------------------------------------- self-registration

def sign_up(*, first_name: str, last_name: str, date_of_birth: date | None, email: str, lang: str,
            client_ip: str | None = None) -> None:
    """Create a portal account and its first recipient, and email a verification link (which sets the password
    and signs in). The answer is the same whether or not the address already has an account."""
    lang = normalize_language(lang)
    _t = translator(lang)
    if not self_registration_enabled():
        raise NotAllowed(_t('Self-registration is not open yet. Your employer or vaccine provider can invite you.'))
    first_name = check_name(first_name, _('First name'), lang)
    last_name = check_name(last_name, _('Last name'), lang)
    born = check_birth_date(date_of_birth, lang)
    email = normalize_email(email)
    if email_problem(email) is not None:
        raise ValidationFailed(_t('Enter a valid email address.'))
    with session_scope() as session:
        if session.exec(select(User.id).where(User.email == email)).first() is not None:
            mail.enqueue(session, to=email, subject=_t('You already have a COVID-19 Vaccine Portal account'),
                         body_text=_t('Someone tried to create a COVID-19 Vaccine Portal account with this email '
                                      'address, which already has one. Log in at {url} or use "Forgot password?". '
                                      'If it was not you, ignore this email.').format(url=link('/login')) + '\n')
            audit.record(session, action='self_registration_existing_email', actor_email=email, client_ip=client_ip)
            return
        user = User(email=email, role=Role.RECIPIENT, full_name=f'{first_name} {last_name}')
        session.add(user)
        session.flush()
        account = PortalAccount(user_id=user.id or 0, email=email, language=lang)
        session.add(account)
        session.flush()
        recipient = _new_recipient(session, first_name=first_name, last_name=last_name, date_of_birth=born,
                                   email=email, account_id=account.id, source=RecipientSource.SELF_REGISTRATION,
                                   created_by=None, lang=lang)
        token = issue_token(session, user.id or 0, 'verify')
        mail.enqueue(session, to=email, subject=_t('Confirm your email for the COVID-19 Vaccine Portal'),
                     body_text=_t('Hello {name},\n\nTo confirm your email address and choose your password, open this '
                                  'link within 2 days:\n{url}\n\nYour COVID-19 Vaccine Portal username: {email}\n')
                     .format(name=first_name, url=link(f'/set-password/{token}'), email=email),
                     dedupe_key=f'portal:verify:{recipient.id}')
        audit.record(session, action='self_registration', actor_email=email, client_ip=client_ip,
                     entity_type='recipient', entity_id=recipient.id)


# ---------------------------------------------------------------- Vaccine Program Status

@dataclass(frozen=True)
class Dose:
    dose_number: int
    product_name: str
    lot_number: str
    administered_on: date
    location_name: str


@dataclass(frozen=True)
class NextAppointment:
    appointment_id: int
    case_number: str
    when: str
    location_name: str
    dose_number: int


@dataclass(frozen=True)
class ProgramSummary:
    status: str
    registration_status: str
    group: Group | None
    doses: list[Dose]
    next_appointment: NextAppointment | None
    next_dose_due: date | None
    doses_in_series: int | None

    def group_name(self, lang: str) -> str:
        return self.group.name(lang) if self.group else ''


def group_of(registration: Registration) -> Group | None:
    if registration.group_id is None:
        return None
    return next((g for g in group_config().groups if g.id == registration.group_id), None)


def program_summary(principal: Principal, recipient_id: int) -> ProgramSummary:
    """Not Enrolled / Enrolled / Vaccinated, and what to do next (the portal home)."""
    from . import scheduling  # the clinic-day area owns appointments and doses

    registration = load_registration(principal, recipient_id)
    record = vaccination_record(principal, recipient_id)
    upcoming = [a for a in scheduling.appointments_of(principal, recipient_id=recipient_id)
                if a.status in ('scheduled', 'checked_in')]
    upcoming.sort(key=lambda a: a.scheduled_at)
    next_appointment = None
    if upcoming:
        first = upcoming[0]
        next_appointment = NextAppointment(first.id, first.case_number, first.local_time, first.location_name,
                                           first.dose_number)
    if record.doses:
        status = STATUS_VACCINATED
    elif registration.status == 'complete':
        status = STATUS_ENROLLED
    else:
        status = STATUS_NOT_ENROLLED
    return ProgramSummary(status, registration.status, group_of(registration), record.doses, next_appointment,
                          record.next_dose_due, record.doses_in_series)


@dataclass(frozen=True)
class VaccinationRecord:
    name: str
    date_of_birth: date
    doses: list[Dose]
    next_dose_due: date | None
    doses_in_series: int | None


def _doses(recipient_id: int, principal: Principal | None) -> list[Dose]:
    """The clinic-day area's record of valid doses (it owns administrations), in the portal's shape."""
    from . import clinic

    return [Dose(d.dose_number, d.product_name, d.lot_number, d.administered_on, d.location_name)
            for d in clinic.vaccination_record(recipient_id, principal=principal)]


def doses_for_verification(recipient_id: int) -> list[Dose]:
    """For the public verification page only, which has no principal and shows initials, doses and dates."""
    return _doses(recipient_id, None)


def vaccination_record(principal: Principal, recipient_id: int) -> VaccinationRecord:
    """A household member's proof of vaccination, with the next dose's due date for an unfinished series."""
    from models.inventory import Product

    with session_scope() as session:
        recipient = _recipient(session, principal, recipient_id)
        name, born = f'{recipient.first_name} {recipient.last_name}', recipient.date_of_birth
    doses = _doses(recipient_id, principal)
    next_due, series = None, None
    if doses:
        from . import clinic

        last = clinic.vaccination_record(recipient_id, principal=principal)[-1]
        with session_scope() as session:
            product = session.get(Product, last.product_id)
        if product is not None:
            series = product.doses_in_series
            if last.dose_number < product.doses_in_series and product.days_between_doses:
                next_due = last.administered_on + timedelta(days=product.days_between_doses)
    return VaccinationRecord(name, born, doses, next_due, series)


# ---------------------------------------------------------------- appointments (the clinic-day area's booking rules)

@dataclass(frozen=True)
class LocationChoice:
    location_id: int
    location_name: str
    address: str
    city: str
    county: str
    soonest: str


def locations_with_open_slots(*, county: str | None = None, city: str | None = None,
                              on_or_after: date | None = None) -> list[LocationChoice]:
    """Locations with an open slot, the one with the soonest slot first (filter by county or city)."""
    from . import scheduling

    seen: dict[int, LocationChoice] = {}
    for slot in scheduling.open_slots(county=county or None, city=(city or '').strip() or None,
                                      on_or_after=on_or_after, limit=1000):
        if slot.location_id not in seen:
            seen[slot.location_id] = LocationChoice(slot.location_id, slot.location_name, slot.address, slot.city,
                                                    slot.county, slot.local_time)
    return list(seen.values())


def slots_at(location_id: int, *, on_or_after: date | None = None, limit: int = 60) -> list:  # noqa: ANN401
    from . import scheduling

    return scheduling.open_slots(location_id=location_id, on_or_after=on_or_after, limit=limit)


def upcoming_appointments(principal: Principal, recipient_id: int) -> list:  # noqa: ANN401
    from . import scheduling

    rows = [a for a in scheduling.appointments_of(principal, recipient_id=recipient_id)
            if a.status in ('scheduled', 'checked_in')]
    return sorted(rows, key=lambda a: a.scheduled_at)


def book(principal: Principal, recipient_id: int, slot_id: int):  # noqa: ANN201
    """A recipient books for a household member, once registered (the guide: register before booking).
    The next dose is never offered before its due date."""
    from . import scheduling

    registration = load_registration(principal, recipient_id)
    lang = language_of(principal)
    _t = translator(lang)
    if registration.status != 'complete' and not _doses(recipient_id, principal):
        raise ValidationFailed(_t('Complete the COVID-19 Vaccine Registration before booking an appointment.'))
    record = vaccination_record(principal, recipient_id)
    if record.doses_in_series and len(record.doses) >= record.doses_in_series:
        raise ValidationFailed(_t('Your vaccine series is complete.'))
    if record.next_dose_due is not None:
        allowed = scheduling.open_slots(on_or_after=record.next_dose_due, limit=1000)
        if not any(s.slot_id == slot_id for s in allowed):
            raise ValidationFailed(_t('Your next dose is due on or after {date}.')
                                   .format(date=f'{record.next_dose_due:%m/%d/%Y}'))
    return scheduling.book_appointment(principal, recipient_id=recipient_id, slot_id=slot_id)


def reschedule_booking(principal: Principal, appointment_id: int, slot_id: int):  # noqa: ANN201
    from . import scheduling

    return scheduling.reschedule_appointment(principal, appointment_id=appointment_id, slot_id=slot_id)


def cancel_booking(principal: Principal, appointment_id: int):  # noqa: ANN201
    from . import scheduling

    return scheduling.cancel_appointment(principal, appointment_id=appointment_id, reason='Cancelled by the recipient')
