"""COVID-19 Vaccine Registration (with Pause), its fields and options, and self-registration with email verification."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from models import PortalAccount, Recipient, RecipientSource, Role, User, utcnow
from models.portal import GroupQuestion, RegistrationProgress
from services.accounts.auth import issue_token, link
from services.core import audit, mail
from services.core.db import session_scope
from services.core.errors import NotAllowed
from services.core.i18n import marked as _
from services.core.i18n import normalize_language, translator
from services.portal.choices import CONTACT_FIELDS, HEALTH_QUESTIONS, STEPS
from services.portal.household_members import _recipient
from services.portal.vaccine_groups import Group, _config, evaluate_group, self_registration_enabled
from services.principal import Principal
from services.recipients import codes
from services.recipients.fields import FIELD_LABELS, Problem, check_recipient
from services.recipients.registry import IDENTITY_FIELDS, RecipientRefused, create_recipient

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


def load_registration(*, principal: Principal, recipient_id: int) -> Registration:
    with session_scope(read_only=True) as session:
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


def save_progress(*, principal: Principal, registration: Registration, pause: bool = False) -> None:
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


def contact_problems(contact: dict[str, str]) -> list[Problem]:
    """The Contact and Demographic Detail step: every field is required and checked by the recipient's rules."""
    return check_recipient(contact, required=CONTACT_FIELDS).problems


REQUIRED_FIELD = _('{field}: required')


def contact_field_errors(contact: dict[str, str], lang: str | None) -> dict[str, str]:
    """The Contact step's problems field by field, in the form's order, each worded to stand beside its field
    (a missing field says so on its own rather than in one list of names)."""
    t = translator(lang)
    errors: dict[str, str] = {}
    for problem in contact_problems(contact):
        if problem.fields:  # the missing ones, listed together by the shared rule
            for name in problem.fields:
                errors[name] = t(REQUIRED_FIELD).format(field=t(FIELD_LABELS[name]))
        else:
            errors.setdefault(problem.field, problem.text(lang))
    return {name: errors[name] for name in CONTACT_FIELDS if name in errors}


def complete_registration(*, principal: Principal, registration: Registration, lang: str) -> Group | None:
    """Finish the registration: demographics onto the recipient (sex, race and ethnicity as codes), the vaccine
    group from the admin's rules, and the confirmation email in the reader's language."""
    with session_scope() as session:
        recipient = _recipient(session, principal, registration.recipient_id)  # whose registration, first
        checked = check_recipient(registration.contact, required=CONTACT_FIELDS)
        if checked.problems:
            raise RecipientRefused(checked.problems, lang)
        config = _config(session)
        group = evaluate_group(config, registration.group_answers)
        contact = {name: checked.values[name] for name in CONTACT_FIELDS}
        for name, value in contact.items():
            setattr(recipient, name, value)
        recipient.state = recipient.state or codes.HOME_STATE
        session.add(recipient)
        progress = _locked_progress(session, registration.recipient_id)
        progress.contact_json = json.dumps({name: value or '' for name, value in contact.items()})
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

SIGN_UP_FIELDS = (*IDENTITY_FIELDS, 'email')


def sign_up(*, first_name: str, last_name: str, date_of_birth: date | str | None, email: str, lang: str,
            client_ip: str | None = None) -> None:
    """Create a portal account and its first recipient, and email a verification link (which sets the password
    and signs in). The answer is the same whether or not the address already has an account. The date of birth
    as typed (MM/DD/YYYY) or a date."""
    lang = normalize_language(lang)
    _t = translator(lang)
    if not self_registration_enabled():
        raise NotAllowed(_t('Self-registration is not open yet. Your employer or vaccine provider can invite you.'))
    values = {'first_name': first_name, 'last_name': last_name, 'date_of_birth': date_of_birth, 'email': email}
    checked = check_recipient(values, required=SIGN_UP_FIELDS)
    if checked.problems:
        raise RecipientRefused(checked.problems, lang)
    first_name, last_name, email = (str(checked.values[name]) for name in ('first_name', 'last_name', 'email'))
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
        recipient = create_recipient(session=session, values=values, required=SIGN_UP_FIELDS,
                                     source=RecipientSource.SELF_REGISTRATION, portal_account_id=account.id,
                                     lang=lang)
        token = issue_token(session, user.id or 0, 'verify')
        mail.enqueue(session, to=email, subject=_t('Confirm your email for the COVID-19 Vaccine Portal'),
                     body_text=_t('Hello {name},\n\nTo confirm your email address and choose your password, open this '
                                  'link within 2 days:\n{url}\n\nYour COVID-19 Vaccine Portal username: {email}\n')
                     .format(name=first_name, url=link(f'/set-password/{token}'), email=email),
                     dedupe_key=f'portal:verify:{recipient.id}')
        audit.record(session, action='self_registration', actor_email=email, client_ip=client_ip,
                     entity_type='recipient', entity_id=recipient.id)


