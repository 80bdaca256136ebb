"""Finding a person by name as staff type it: the one matching rule of the loaded-recipients list and the desk.

A typed name matches a person when its words, folded (services.recipients.identity.fold: case and accents do not
count), start the person's first and last names in some split: "Grace Mid Wilms", "Grace Wilms", "Wilms Grace" and
"Wilms" all find first name "Grace Mid", last name "Wilms"; "Wilms, Grace" says which part is the last name. Each
way is a conjunction of ranges on the indexed name keys, so it answers at a million recipients.

Before a new record is made at the desk, `similar_recipients` lists the people born the same day whose name is
alike (a word in common, a typo, initials), wherever they are registered.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from difflib import SequenceMatcher

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from models import Recipient
from services.recipients.identity import NAME_KEY_MAX, fold
from services.recipients.visibility import listed

MAX_WORDS = 6  # more words than a name has: the rest are left out rather than multiplying the ways to split
# People read per birth date when looking for similar names: about 35 share a birth date at a million recipients.
SAME_BIRTH_DATE_CAP = 2000


def name_branches(text: str, *, first=None, last=None, steer: bool = False) -> list:  # noqa: ANN001
    """The ways `text` can match, each a conjunction of prefix ranges on the name keys. One word: the last or the
    first name starts with it. Several: the first words start the first name and the rest the last name, or the
    other way round, at every split; or one name holds them all. `first` and `last` are the name-key columns to
    test (a subquery's; the recipient table's by default). `steer`: where a branch tests both names, only the
    longer start's range may use its index (to count or fetch a branch's matches; an ordered walk of many matches
    wants the sort column's range usable, so it takes the branches unsteered)."""
    first = col(Recipient.first_name_key) if first is None else first
    last = col(Recipient.last_name_key) if last is None else last
    if ',' in text:  # "Last, First" as on a list or a form
        surname, _, given = (fold(part) for part in text.partition(','))
        if not surname:
            return name_branches(given, first=first, last=last)
        return [_both(first, given, last, surname, steer) if given else _prefix(last, surname)]
    words = [w[:NAME_KEY_MAX] for w in fold(text).split()][:MAX_WORDS]
    if not words:
        return []
    if len(words) == 1:
        return [_prefix(last, words[0]), _prefix(first, words[0])]
    branches = []
    for split in range(1, len(words)):
        head, tail = ' '.join(words[:split]), ' '.join(words[split:])
        branches += [_both(first, head, last, tail, steer), _both(first, tail, last, head, steer)]
    whole = ' '.join(words)[:NAME_KEY_MAX]
    return [*branches, _prefix(first, whole), _prefix(last, whole)]


def exact_identity_keys(text: str, date_of_birth: date) -> list[str]:
    """The identity keys `text` names in full at one of its splits ("Grace Mid Wilms": first "Grace Mid" and last
    "Wilms", first "Grace" and last "Mid Wilms", or the other way round), with the date of birth."""
    if ',' in text:
        surname, _, given = (fold(part) for part in text.partition(','))
        pairs = [(given, surname)] if given and surname else []
    else:
        words = fold(text).split()[:MAX_WORDS]
        pairs = []
        for split in range(1, len(words)):
            head, tail = ' '.join(words[:split]), ' '.join(words[split:])
            pairs += [(head, tail), (tail, head)]
    return [f'{given}|{surname}|{date_of_birth.isoformat()}' for given, surname in pairs]


@dataclass(frozen=True)
class SimilarRecipient:
    recipient_id: int
    first_name: str
    last_name: str
    date_of_birth: date
    likeness: float  # 0-1: how many of the typed words the name holds, or nearly


def similar_recipients(session: Session, *, name: str, date_of_birth: date, limit: int = 10) -> list[SimilarRecipient]:
    """Everyone born on `date_of_birth` whose name is alike `name`, most alike first, at any location: the caller
    shows no more than the name and date of birth. Reads the birth date's people through its index; a date shared
    by more than SAME_BIRTH_DATE_CAP people (a placeholder date) is narrowed to names starting like a typed word."""
    words = name_words(name)
    if not words:
        return []
    columns = (Recipient.id, Recipient.first_name, Recipient.last_name)
    born = select(*columns).where(Recipient.date_of_birth == date_of_birth).where(listed())
    people = session.exec(born.limit(SAME_BIRTH_DATE_CAP + 1)).all()
    if len(people) > SAME_BIRTH_DATE_CAP:
        starts = [condition for w in words for condition in (_prefix(col(Recipient.last_name_key), w[:2]),
                                                             _prefix(col(Recipient.first_name_key), w[:2]))]
        people = session.exec(born.where(or_(*starts)).limit(SAME_BIRTH_DATE_CAP)).all()
    scored = []
    for recipient_id, first_name, last_name in people:
        likeness = name_likeness(words, name_words(f'{first_name} {last_name}'))
        if likeness > 0:
            scored.append(SimilarRecipient(recipient_id=recipient_id, first_name=first_name, last_name=last_name,
                                           date_of_birth=date_of_birth, likeness=likeness))
    scored.sort(key=lambda s: (-s.likeness, fold(s.last_name), fold(s.first_name), s.recipient_id))
    return scored[:limit]


def name_words(text: str) -> list[str]:
    """The folded words of a name ("Mendes-Cruz, Ana" -> mendes, cruz, ana)."""
    return fold(text.replace(',', ' ')).split()


def name_likeness(typed: list[str], name: list[str]) -> float:
    """The share of typed words the name holds: whole (1), as an initial or a start (0.9), or nearly (a typo, as
    SequenceMatcher's ratio when at least 0.75)."""
    if not typed or not name:
        return 0.0
    return sum(max(_word_likeness(word, part) for part in name) for word in typed) / len(typed)


def _word_likeness(word: str, part: str) -> float:
    if word == part:
        return 1.0
    if part.startswith(word) or (len(part) > 1 and word.startswith(part)):
        return 0.9
    if min(len(word), len(part)) < 3:
        return 0.0
    ratio = SequenceMatcher(None, word, part).ratio()
    return ratio if ratio >= 0.75 else 0.0


def _both(first, given: str, last, surname: str, steer: bool):  # noqa: ANN001, ANN202
    """The first name starts with `given` and the last name with `surname`. Steered, the index walks the range of
    the longer start (the likelier narrow one; the last name's on a tie) and the other is a filter (`|| ''` keeps
    it off its index): SQLite does not know which range is narrow, and walked the 100,000 "Mary" of a million
    people for "Mary Ann3150 Walsh" rather than the empty range of last names starting "ann3150 walsh"."""
    if not steer:
        return and_(_prefix(first, given), _prefix(last, surname))
    if len(given) > len(surname):
        return and_(_prefix(first, given), _prefix(last.concat(''), surname))
    return and_(_prefix(first.concat(''), given), _prefix(last, surname))


def _prefix(column, word: str):  # noqa: ANN001, ANN202
    """`column` starts with `word`, as an index range: word <= column < word with its last character + 1."""
    upper = word[:-1] + chr(ord(word[-1]) + 1)
    return and_(column >= word, column < upper)
