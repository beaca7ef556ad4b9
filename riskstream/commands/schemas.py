"""``riskstream schemas``: write (or ``--check``) the JSON Schema files of the wire formats."""

from __future__ import annotations

import argparse
from pathlib import Path

from riskstream.jsonschemas import stale, write_all


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schemas", help="generate JSON Schema files for Reading, Alert, … (docs/schemas)")
    p.add_argument("--dir", default="docs/schemas", type=Path)
    p.add_argument("--check", action="store_true", help="exit 1 if the files are not current")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.check:
        names = stale(args.dir)
        if names:
            print(f"stale JSON schemas in {args.dir}: {', '.join(names)}; run 'riskstream schemas'")
            return 1
        print(f"JSON schemas in {args.dir} are current")
        return 0
    for path in write_all(args.dir):
        print(f"wrote {path}")
    return 0
