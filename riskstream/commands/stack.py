"""``riskstream stack up|down|status``: the local embedded stack (Mosquitto, Tansu, InfluxDB [+ extras]).

See docs/operator/local-stack.md for what it starts, the ports and where the data lives.
"""

from __future__ import annotations

import argparse
import json
import time

from pydantic import ValidationError

from riskstream.settings import RiskstreamSettings, load_settings
from riskstream.stack import ALL_SERVICES, SessionLeases, StackError, StackManager


def register(sub: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", metavar="FILE", help="riskstream TOML config (default: built-in settings)"
    )
    timing = argparse.ArgumentParser(add_help=False)
    timing.add_argument("--timeout", type=float, default=60.0, metavar="S", help="per-service wait (s)")

    p = sub.add_parser("stack", help="run the local embedded stack (MQTT, Kafka-protocol broker, InfluxDB)")
    actions = p.add_subparsers(dest="stack_action", metavar="ACTION", required=True)

    up = actions.add_parser(
        "up", parents=[common, timing], help="install what is missing, start services, wait until healthy"
    )
    up.add_argument("--with-extras", action="store_true", help="also start victoria-metrics and prometheus")
    up.set_defaults(func=run_up)

    down = actions.add_parser("down", parents=[common, timing], help="stop the services this stack started")
    down.add_argument(
        "services", nargs="*", metavar="SERVICE", help=f"only these (default all): {', '.join(ALL_SERVICES)}"
    )
    down.add_argument(
        "--purge", action="store_true", help="also delete the stack's data, logs and configs (a reset)"
    )
    down.set_defaults(func=run_down)

    status = actions.add_parser("status", parents=[common], help="which services answer, and where")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=run_status)


def _settings(args: argparse.Namespace) -> RiskstreamSettings | None:
    try:
        return load_settings(args.config)
    except FileNotFoundError as exc:
        print(f"error: {exc}")
    except ValidationError as exc:
        print(f"error: invalid config: {exc}")
    return None


def _manager(args: argparse.Namespace, settings: RiskstreamSettings) -> StackManager:
    timeout = getattr(args, "timeout", 60.0)
    return StackManager(settings, progress=lambda line: print(line, flush=True), start_timeout_s=timeout)


def run_up(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if settings is None:
        return 2
    t0 = time.monotonic()
    try:
        manager = _manager(args, settings)
        with manager.lock():
            statuses = manager.up(with_extras=args.with_extras)
            # Started by an operator: no test session will stop these services at its end.
            SessionLeases(manager.layout.run_dir).disown()
    except StackError as exc:
        print(f"error: {exc}")
        return 1
    print(f"stack up in {time.monotonic() - t0:.1f} s; data in {manager.layout.data_dir}")
    for s in statuses:
        print(f"  {s.name:<17} {s.url}")
    return 0


def run_down(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if settings is None:
        return 2
    try:
        manager = _manager(args, settings)
        if args.purge and args.services:
            print("error: --purge resets the whole stack; do not name services with it")
            return 2
        if args.purge:
            removed = manager.purge()
            print(f"stack down; removed {len(removed)} folders/files under {manager.layout.data_dir}")
        else:
            stopped = manager.down(args.services or None)
            print(f"stack down ({len(stopped)} services stopped)")
    except StackError as exc:
        print(f"error: {exc}")
        return 1
    return 0


def run_status(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if settings is None:
        return 2
    try:
        statuses = StackManager(settings).status()
    except StackError as exc:
        print(f"error: {exc}")
        return 1
    if args.json:
        print(json.dumps({name: s.to_json() for name, s in statuses.items()}, indent=2))
        return 0
    print(f"{'service':<17} {'state':<5} {'pid':>7}  url")
    for name, s in statuses.items():
        pid = str(s.pid) if s.pid else "-"
        note = f"  ({s.detail})" if s.detail and s.up else ""
        print(f"{name:<17} {'up' if s.up else 'down':<5} {pid:>7}  {s.url}{note}")
    return 0
