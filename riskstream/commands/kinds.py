"""``riskstream kinds``: list every sensor kind with its family, unit and value nature."""

from __future__ import annotations

import argparse
import json

from riskstream.kinds import KINDS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("kinds", help="list the sensor kinds, their units and what a value means")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    specs = sorted(KINDS.values(), key=lambda k: (k.family.value, k.kind))
    if args.json:
        rows = [
            {
                "kind": k.kind,
                "family": k.family.value,
                "unit": k.unit,
                "nature": k.nature.value,
                "channels": list(k.channels),
                "description": k.description,
            }
            for k in specs
        ]
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'family':<13} {'kind':<19} {'unit':<7} {'nature':<14} description")
    for k in specs:
        desc = k.description + (f" [channels: {', '.join(k.channels)}]" if k.channels else "")
        print(f"{k.family.value:<13} {k.kind:<19} {k.unit:<7} {k.nature.value:<14} {desc}")
    return 0
