"""`main.py iis-export`: the registry batch file, for registries that take files instead of messages."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from services.core.errors import ServiceError
from services.principal import SYSTEM
from services.registry import reporting


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser('iis-export', help='write an HL7 batch file of dose messages for the registry')
    parser.add_argument('--location', required=True, help='location code, or ALL for every location')
    parser.add_argument('--all', action='store_true', help='every message, also those exported before')
    parser.add_argument('--output', required=True, type=Path, help='the batch file to write')
    parser.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    try:
        result = reporting.export_batch(principal=SYSTEM, location_code=args.location, output=args.output,
                                        include_exported=args.all)
    except (ServiceError, OSError) as error:
        print(f'Error: {error}', file=sys.stderr)
        return 1
    print(f'{result.messages} message(s) from {result.locations} location(s) written to {result.path}')
    return 0
