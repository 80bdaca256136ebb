"""Finding people as desk staff type them (issue 10, item 2): accents and case aside, the full name in any split,
dates of birth in the usual formats, the people alike shown before a registration at the point of care, and the
stored folded keys (bulk duplicates, the migration that recomputes them, every ORM write)."""
from __future__ import annotations

import importlib.util
import sqlite3
from dataclasses import fields
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlmodel import select

from models import Recipient, utcnow
from services.bulk import registration as bulk
from services.bulk.pipeline import DUPLICATE
from services.clinic import walkin
from services.core import db as db_module
from services.core.db import session_scope
from services.core.errors import ValidationFailed
from services.recipients import listing, search
from services.recipients.dates import date_or_none, parse_date
from services.recipients.identity import fold, identity_key
from tests import factories as fx
from tests.factories import MANAGER, PROVIDER, count_rows

BORN = date(1980, 5, 17)
HEADER = 'First name,Last name,Date of birth,Email\r\n'


@pytest.mark.parametrize(('typed', 'stored'), [
    ('Nunez', 'Ñúñez'), ('Muller', 'Müller'), ('MULLER', 'müller'), ("O'Neil", 'O’Neil'), ('Nguyen', 'Nguyễn'),
    ('Zoe', 'ZOË'), ('Soren', 'Søren'), ('Strasse', 'Straße'), ('  Ana  Maria ', 'Ana María'), ('ONeil', "O'Neil"),
    ('Mendes Cruz', 'Mendes-Cruz'), ('St John', 'St. John'), ('Dandre', 'D’Andre'), ('Lukasz', 'Łukasz')])
def test_fold_sets_accents_case_and_spacing_aside(typed: str, stored: str) -> None:
    assert fold(typed) == fold(stored)


@pytest.mark.parametrize('typed', ['05/17/1980', '5/17/1980', '05-17-1980', '5-17-1980', '1980-05-17', '05171980',
                                   ' 05/17/1980 '])
def test_dates_of_birth_in_the_formats_people_type(typed: str) -> None:
    assert parse_date(typed) == BORN == date_or_none(typed)


@pytest.mark.parametrize('typed', ['17/05/1980', '05/17/80', '1980/17/05', '2/30/1980', 'yesterday', '0517198'])
def test_what_is_not_a_date_says_how_to_write_it(typed: str) -> None:
    assert date_or_none(typed) is None
    with pytest.raises(ValidationFailed, match='use MM/DD/YYYY'):
        parse_date(typed)
    with pytest.raises(ValidationFailed, match='Enter the date of birth'):
        parse_date('  ', label='date of birth')


def _found(name: str, born: date = BORN, who: str = PROVIDER) -> list[tuple[int, bool]]:
    return [(hit.recipient_id, hit.elsewhere) for hit in
            walkin.search_walk_in(principal=fx.principal(who), name=name, date_of_birth=born)]


def test_walk_in_search_sets_accents_and_case_aside(demo) -> None:
    nunez = fx.recipient('María', 'Ñúñez', born=BORN)
    muller = fx.recipient('Jürgen', 'Müller', born=BORN)
    for typed in ('Nunez', 'nunez', 'NÚÑEZ', 'Ñuñez', 'Maria Nunez', 'nun'):
        assert _found(typed) == [(nunez, False)], typed
    assert _found('Muller') == _found('jurgen muller') == [(muller, False)]
    assert _found('Nunez', date(1980, 5, 18)) == []


@pytest.mark.parametrize('typed', ['Grace Mid Wilms', 'Wilms Grace', 'Wilms', 'Grace Wilms', 'Wilms Grace Mid',
                                   'Wilms, Grace Mid', 'Wilms, Grace', 'grace mid', 'gra wil', 'GRACE MID WILMS'])
def test_walk_in_search_finds_the_full_name_in_any_split(demo, typed: str) -> None:
    grace = fx.recipient('Grace Mid', 'Wilms', born=BORN)
    assert _found(typed) == [(grace, False)]


def test_walk_in_search_names_someone_registered_elsewhere_in_full_in_any_split(demo) -> None:
    grace = fx.recipient('Grace Mid', 'Wilms', born=BORN, code='DEMO2')
    for typed in ('Grace Mid Wilms', 'Wilms Grace Mid', 'Wilms, Grace Mid', 'Grâce Mid Wilms'):
        assert _found(typed) == [(grace, True)], typed
    assert _found('Wilms') == []  # a part of the name finds people at the user's own location only


def test_similar_people_before_point_of_care_registration_at_any_location(demo) -> None:
    elsewhere = fx.recipient('María', 'Ñúñez', born=BORN, code='DEMO2')
    here = fx.recipient('Maria', 'Nunes-Lopez', born=BORN)
    fx.recipient('Maria', 'Nunez', born=date(1980, 5, 18))  # another day: not the same person
    fx.recipient('Zed', 'Quill', born=BORN)  # the same day, nothing alike
    with session_scope() as session:
        person = session.get(Recipient, elsewhere)
        person.address_line1, person.city, person.phone = '5 Elm Street', 'Durham', '919-555-0199'
        session.add(person)
    provider = fx.principal(PROVIDER)
    assert _found('Nunez') == []  # not at the desk's location, and not named in full
    similar = walkin.similar_people(principal=provider, name='Nunez', date_of_birth=BORN)
    assert [(p.recipient_id, p.name, p.date_of_birth) for p in similar] == [(elsewhere, 'María Ñúñez', BORN),
                                                                           (here, 'Maria Nunes-Lopez', BORN)]
    assert [f.name for f in fields(walkin.SimilarPerson)] == ['recipient_id', 'name', 'date_of_birth', 'named']
    assert similar[0].named == ('María', 'Ñúñez', BORN)  # the name and date of birth again, to start the walk-in
    typo = walkin.similar_people(principal=provider, name='Marya Nunnez', date_of_birth=BORN)
    assert elsewhere in [p.recipient_id for p in typo]
    married = walkin.similar_people(principal=provider, name='Maria Smith', date_of_birth=BORN)
    assert {p.recipient_id for p in married} == {elsewhere, here}  # a first name in common, the same day
    assert walkin.similar_people(principal=provider, name='Olga Petrova', date_of_birth=BORN) == []
    assert walkin.similar_people(principal=provider, name='Nunez', date_of_birth=date(1979, 5, 17)) == []
    # picked at the desk: the walk-in starts for the record that exists, nothing new is registered
    visit = walkin.start_walk_in(principal=provider, recipient_id=similar[0].recipient_id, named=similar[0].named)
    assert visit.recipient_name == 'María Ñúñez'
    assert count_rows(Recipient, Recipient.date_of_birth == BORN) == 3


def test_similar_people_on_a_birth_date_many_share(demo, monkeypatch: pytest.MonkeyPatch) -> None:
    """A placeholder date of birth shared by more people than are read at once: those whose names start like a
    typed word are still found."""
    monkeypatch.setattr(search, 'SAME_BIRTH_DATE_CAP', 3)
    for i in range(6):
        fx.recipient('Ann', f'Aaron{i}', born=date(1900, 1, 1))
    nunez = fx.recipient('María', 'Ñúñez', born=date(1900, 1, 1), code='DEMO2')
    similar = walkin.similar_people(principal=fx.principal(PROVIDER), name='Nunez', date_of_birth=date(1900, 1, 1))
    assert [p.recipient_id for p in similar] == [nunez]


def test_loaded_list_sets_accents_aside_and_finds_any_split(demo) -> None:
    manager = fx.principal(MANAGER)
    nunez = fx.recipient('José', 'Ñúñez', born=BORN)
    muller = fx.recipient('Zoë', 'Müller', born=BORN)
    grace = fx.recipient('Grace Mid', 'Wilms', born=BORN)

    def ids(search: str) -> set[int]:
        page = listing.list_recipients(principal=manager, search=search, per_page=100)
        assert page.matching == len(page.rows)
        return {row.id for row in page.rows}

    for typed in ('nunez', 'NUNEZ', 'jose nunez', 'Nunez Jose', 'Ñúñez', 'Nunez, Jose'):
        assert ids(typed) == {nunez}, typed
    assert ids('muller') == ids('zoe muller') == ids('MÜLLER ZOE') == {muller}
    for typed in ('Grace Mid Wilms', 'Wilms Grace', 'Wilms Grace Mid', 'grace mid'):
        assert grace in ids(typed), typed
    # the demo has a Grace Mid Wilms too
    rows = listing.list_recipients(principal=manager, search='Grace Mid Wilms').rows
    assert {(r.first_name, r.last_name) for r in rows} == {('Grace Mid', 'Wilms')} and len(rows) == 2


def test_bulk_duplicates_match_across_accents(demo) -> None:
    manager = fx.principal(MANAGER)
    fx.recipient('José', 'Núñez', born=BORN)
    rows = ('Jose,NUNEZ,5/17/1980,jose@example.com\n'  # the person already loaded, typed without accents
            'Zoë,Muller,5/17/1980,zoe@example.com\n'
            'Zoe,Müller,5/17/1980,zoe2@example.com\n')  # the same person twice in the file
    preview = bulk.preview(principal=manager, data=(HEADER + rows).encode(), file_name='accents.csv')
    reasons = {r.line: r.errors for r in preview.rows}
    assert reasons == {2: [DUPLICATE], 3: [], 4: [DUPLICATE]}
    bulk.create_records(principal=manager, previewed=preview)
    assert count_rows(Recipient, Recipient.date_of_birth == BORN) == 2


def test_every_orm_write_keeps_the_folded_keys(demo) -> None:
    with session_scope() as session:
        person = Recipient(first_name='Renée', last_name='Dubois', date_of_birth=BORN, location_id=fx.location().id)
        session.add(person)
        session.flush()
        assert (person.first_name_key, person.last_name_key, person.identity_key) == \
            ('renee', 'dubois', 'renee|dubois|1980-05-17')
        person_id = person.id
    with session_scope() as session:
        person = session.get(Recipient, person_id)
        person.last_name = 'Dubois-Ñúñez'
        session.add(person)
    with session_scope() as session:
        person = session.get(Recipient, person_id)
        assert (person.last_name_key, person.identity_key) == ('dubois nunez', 'renee|dubois nunez|1980-05-17')
    assert _found('Dubois Nunez') == [(person_id, False)]


def _migration():  # noqa: ANN202
    path = Path(__file__).resolve().parents[2] / 'migrations' / 'versions' / '0010_folded_name_keys.py'
    spec = importlib.util.spec_from_file_location('folded_name_keys', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _old_fold(text: str) -> str:
    """The rule before accents were folded (NFKC and case only): what databases hold until the migration."""
    import unicodedata
    return unicodedata.normalize('NFKC', ' '.join(text.split())).casefold()


def test_migration_recomputes_the_stored_keys_and_keeps_both_of_a_collision(demo) -> None:
    location_id = fx.location().id
    people = [('Jose', 'Nunez'), ('José', 'Núñez'), ('Zoë', 'Müller'), ('Ann', 'Lee')]
    engine = db_module.get_engine()
    with engine.begin() as conn:  # written as the old code did, around the ORM's listener
        ids = [conn.execute(insert(Recipient.__table__).values(
            first_name=first, last_name=last, date_of_birth=BORN, location_id=location_id, source='bulk_upload',
            identity_key=f'{_old_fold(first)}|{_old_fold(last)}|{BORN.isoformat()}', first_name_key=_old_fold(first),
            last_name_key=_old_fold(last), created_at=utcnow())).inserted_primary_key[0] for first, last in people]
    assert _found('Muller') == []  # before: the stored key still holds the accent
    with engine.begin() as conn:
        assert _migration().refold(conn) == 2  # José Núñez and Zoë Müller
    with session_scope() as session:
        keys = {r.id: (r.identity_key, r.first_name_key, r.last_name_key)
                for r in session.exec(select(Recipient).where(Recipient.date_of_birth == BORN))}
    assert keys == {ids[0]: ('jose|nunez|1980-05-17', 'jose', 'nunez'),
                    ids[1]: (f'jose|nunez|1980-05-17#{ids[1]}', 'jose', 'nunez'),  # both records stay
                    ids[2]: ('zoe|muller|1980-05-17', 'zoe', 'muller'),
                    ids[3]: ('ann|lee|1980-05-17', 'ann', 'lee')}
    assert _found('Muller') == [(ids[2], False)]
    assert {r for r, _ in _found('Nunez')} == {ids[0], ids[1]}
    with engine.begin() as conn:
        assert _migration().refold(conn) == 0  # a second run changes nothing
    assert keys[ids[0]][0] == identity_key('José', 'NÚÑEZ', BORN)  # what the duplicate checks look up


def test_an_existing_database_upgrades_its_keys_in_place(tmp_path: Path) -> None:
    url = f'sqlite:///{tmp_path / "old.sqlite3"}'
    from alembic import command
    command.upgrade(db_module.alembic_config(url), '0009_job_engine')
    with sqlite3.connect(tmp_path / 'old.sqlite3') as connection:
        connection.execute("INSERT INTO recipient (first_name, last_name, date_of_birth, identity_key, "
                           "first_name_key, last_name_key, source, created_at) VALUES ('Zoë', 'Müller', "
                           "'1980-05-17', 'zoë|müller|1980-05-17', 'zoë', 'müller', 'bulk_upload', "
                           "'2021-01-05 10:00:00')")
    db_module.migrate(url)
    with sqlite3.connect(tmp_path / 'old.sqlite3') as connection:
        assert connection.execute('SELECT identity_key, first_name_key, last_name_key FROM recipient').fetchall() \
            == [('zoe|muller|1980-05-17', 'zoe', 'muller')]
