"""Coded demographic values (services.recipients.codes): what people type or pick becomes the standard code, the code
is shown as its label in English or Spanish, X only where the state allows it; migration 0013 turns the values
stored before the codes into codes, on SQLite and PostgreSQL."""
from __future__ import annotations

import importlib.util
import json
from datetime import date
from pathlib import Path

import pytest
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from models import Recipient
from models.portal import RegistrationProgress
from services.clinic import common, walkin
from services.core import db as db_module
from services.core.db import session_scope
from services.core.errors import ValidationFailed
from services.core.settings import reset_settings
from services.recipients import codes
from services.recipients.identity import fold, identity_key
from tests.factories import PROVIDER, principal

MIGRATION = Path(__file__).resolve().parents[2] / 'migrations/versions/0013_recipient_codes.py'


@pytest.mark.parametrize(('field', 'typed', 'code'), [
    ('sex', 'Female', 'F'), ('sex', 'female', 'F'), ('sex', 'F', 'F'), ('sex', 'f', 'F'), ('sex', ' FEMALE ', 'F'),
    ('sex', 'Femenino', 'F'), ('sex', 'Male', 'M'), ('sex', 'm', 'M'), ('sex', 'Unknown', 'U'),
    ('sex', 'Prefer not to say', 'U'), ('sex', 'Desconocido o prefiero no decirlo', 'U'),
    ('race', 'White', '2106-3'), ('race', 'blanco', '2106-3'), ('race', '2106-3', '2106-3'),
    ('race', 'American Indian or Alaska Native', '1002-5'), ('race', 'Asian', '2028-9'),
    ('race', 'Black or African American', '2054-5'), ('race', 'Native Hawaiian or Other Pacific Islander', '2076-8'),
    ('race', 'Other race', '2131-1'), ('race', 'unk', 'UNK'), ('race', 'Prefer not to say', 'UNK'),
    ('ethnicity', 'Hispanic or Latino', '2135-2'), ('ethnicity', 'Hispano o latino', '2135-2'),
    ('ethnicity', '2186-5', '2186-5'), ('ethnicity', 'Not Hispanic or Latino', '2186-5'),
    ('ethnicity', 'UNK', 'UNK'),
    # what the portal stored before the codes
    ('race', 'asian', '2028-9'), ('race', 'pacific_islander', '2076-8'), ('ethnicity', 'not_hispanic', '2186-5'),
    ('sex', '', None), ('race', None, None),
])
def test_what_people_type_becomes_the_code(field: str, typed: str | None, code: str | None) -> None:
    assert codes.to_code(field, typed) == code


@pytest.mark.parametrize(('field', 'typed'), [('sex', 'X'), ('sex', 'Woman'), ('race', 'Latino'),
                                              ('ethnicity', '2106-3'), ('race', 'F')])
def test_a_value_no_code_has_is_refused(field: str, typed: str) -> None:
    with pytest.raises(codes.UnknownValue):
        codes.to_code(field, typed)


def test_labels_in_english_and_spanish() -> None:
    assert codes.label('sex', 'F') == 'Female' and codes.label('sex', 'F', 'es') == 'Femenino'
    assert codes.label('race', '2054-5', 'es') == 'Negro o afroamericano'
    assert codes.label('ethnicity', 'UNK', 'en') == 'Unknown or prefer not to say'
    assert codes.label('ethnicity', 'UNK', 'es') == 'Desconocido o prefiero no decirlo'
    assert codes.label('race', None) == '' and codes.label('race', 'something old') == 'something old'
    assert codes.options('sex') == {'F': 'Female', 'M': 'Male', 'U': 'Unknown or prefer not to say'}
    assert list(codes.options('race', 'es').values()) == [
        'Indígena americano o nativo de Alaska', 'Asiático', 'Negro o afroamericano',
        'Nativo de Hawái o de otras islas del Pacífico', 'Blanco', 'Otra raza', 'Desconocido o prefiero no decirlo']
    assert list(codes.options('ethnicity')) == ['2135-2', '2186-5', 'UNK']


@pytest.fixture
def sex_x_allowed(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    monkeypatch.setenv('CVMS_ALLOW_SEX_X', 'true')
    reset_settings()
    yield
    monkeypatch.delenv('CVMS_ALLOW_SEX_X')
    reset_settings()


def test_x_where_the_state_allows_it(sex_x_allowed) -> None:
    assert codes.to_code('sex', 'X') == 'X' and codes.to_code('sex', 'non-binary') == 'X'
    assert codes.options('sex', 'es') == {'F': 'Femenino', 'M': 'Masculino', 'X': 'No binario (X)',
                                          'U': 'Desconocido o prefiero no decirlo'}


def test_the_desk_stores_codes_and_x_only_where_allowed(demo, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = {key: 'no' for key, _ in common.SCREENING_QUESTIONS}

    def register(first: str, sex: str) -> Recipient:
        visit = walkin.register_at_point_of_care(principal=principal(PROVIDER), data=walkin.PointOfCareRegistration(
            first_name=first, last_name='Coded', date_of_birth='04/05/1990', sex=sex, race='Asian',
            ethnicity='Not Hispanic or Latino', screening=answers))
        with session_scope() as session:
            return session.get(Recipient, visit.recipient_id)

    dana = register('Dana', 'Female')
    assert (dana.sex, dana.race, dana.ethnicity) == ('F', '2028-9', '2186-5')
    with pytest.raises(ValidationFailed, match='Sex: invalid value: X'):
        register('Sam', 'X')
    monkeypatch.setenv('CVMS_ALLOW_SEX_X', '1')
    reset_settings()
    try:
        assert register('Sam', 'X').sex == 'X'
    finally:
        monkeypatch.delenv('CVMS_ALLOW_SEX_X')
        reset_settings()


def _migration():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location('recipient_codes_migration', MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(step: str) -> None:
    """This migration's step alone, on the test database (it changes values, not the schema)."""
    with db_module.get_engine().begin() as connection:
        with Operations.context(MigrationContext.configure(connection)):
            getattr(_migration(), step)()


LEGACY = [  # (sex, race, ethnicity) as the desk and the portal stored them
    ('Female', 'Black or African American', 'Hispanic or Latino'),
    ('female', 'pacific_islander', 'not_hispanic'),
    ('Unknown', 'Other race', 'Prefer not to say'),  # the desk's sex 'Prefer not to say' never fit (16)
    ('other', 'unknown', 'unknown'),
    ('Male', 'White', ''),
    ('who knows', 'American Indian or Alaska Native', None),
    (None, None, None),
]
CODED = [('F', '2054-5', '2135-2'), ('F', '2076-8', '2186-5'), ('U', '2131-1', 'UNK'), ('U', 'UNK', 'UNK'),
         ('M', '2106-3', None), ('U', '1002-5', None), (None, None, None)]


def test_migration_turns_stored_values_into_codes(db) -> None:
    with session_scope() as session:
        ids = []
        for number, (sex, race, ethnicity) in enumerate(LEGACY):
            first, born = f'Legacy{number}', date(1970, 1, 1 + number)
            person = Recipient(first_name=first, last_name='Person', date_of_birth=born, sex=sex, race=race,
                               ethnicity=ethnicity, identity_key=identity_key(first, 'Person', born),
                               first_name_key=fold(first), last_name_key='person')
            session.add(person)
            session.flush()
            ids.append(person.id)
        session.add(RegistrationProgress(recipient_id=ids[1], contact_json=json.dumps(
            {'city': 'Raleigh', 'sex': 'female', 'race': 'asian', 'ethnicity': 'hispanic', 'phone': ''})))
    _run('upgrade')
    with session_scope() as session:
        assert [(session.get(Recipient, i).sex, session.get(Recipient, i).race, session.get(Recipient, i).ethnicity)
                for i in ids] == CODED
        contact = json.loads(session.exec(text('SELECT contact_json FROM registrationprogress')).one()[0])
        assert contact == {'city': 'Raleigh', 'sex': 'F', 'race': '2028-9', 'ethnicity': '2135-2', 'phone': ''}
    _run('upgrade')  # again: codes stay codes
    with session_scope() as session:
        assert [(session.get(Recipient, i).sex, session.get(Recipient, i).race, session.get(Recipient, i).ethnicity)
                for i in ids] == CODED
    _run('downgrade')
    with session_scope() as session:
        assert (session.get(Recipient, ids[0]).sex, session.get(Recipient, ids[0]).race) == (
            'Female', 'Black or African American')
        contact = json.loads(session.exec(text('SELECT contact_json FROM registrationprogress')).one()[0])
        assert contact['sex'] == 'Female' and contact['ethnicity'] == 'Hispanic or Latino'
