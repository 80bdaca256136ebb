"""`main.py health-card --recipient-id N` (the help desk reads a person's card) and `main.py health-card-key
--rotate` (a new signing key, the old ones still published)."""
from __future__ import annotations

import argparse
import sys

from services.core.errors import ServiceError
from services.principal import SYSTEM


def register(commands: argparse._SubParsersAction) -> None:
    card = commands.add_parser('health-card', help='print a person\'s SMART Health Card (shc:/...)')
    card.add_argument('--recipient-id', required=True, type=int)
    card.set_defaults(handler=_card)
    key = commands.add_parser('health-card-key', help='show the health card signing keys; --rotate adds a new one')
    key.add_argument('--rotate', action='store_true', help='sign with a new key from now on; old keys stay published')
    key.set_defaults(handler=_key)


def _card(args: argparse.Namespace) -> int:
    from services.fhir import health_cards
    try:
        print(health_cards.health_card(principal=SYSTEM, recipient_id=args.recipient_id).shc)
    except ServiceError as error:
        print(f'Error: {error}', file=sys.stderr)
        return 1
    return 0


def _key(args: argparse.Namespace) -> int:
    from services.fhir import health_cards
    if args.rotate:
        print(f'New signing key {health_cards.rotate_key()}; earlier keys stay published.')
    for number, key in enumerate(health_cards.jwks()['keys']):
        print(f'{key["kid"]}{"  (signing)" if number == 0 else ""}')
    print(f'Key file: {health_cards.key_file()}')
    return 0
