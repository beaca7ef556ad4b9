"""``riskstream ack|shelve|unshelve|maintenance TARGET``: operator actions onto the Kafka control topic.

Each command builds one :class:`riskstream.schemas.OperatorAction` (``v, action, target, until_ts_ms,
by, note, ts_ms``) and produces it to ``kafka.topics.control`` with the target as key; the detect
worker applies it in event-time order and records it on the alert stream (an ``ack``/``shelve``/
``unshelve``/``maintenance`` alert per affected (sensor, rule)). ``--dry-run`` prints the JSON instead,
which is also the line format of ``riskstream replay --actions``.

TARGET is a sensor id, a site, or an alert id (ack/shelve the alarm that alert belongs to).

    riskstream ack hz-cg-0001 --note "crew on site"
    riskstream shelve hz-cg-0001 --for 2h --note "sensor swap"
    riskstream maintenance tankfarm-02 --until 2026-07-01T18:00Z
    riskstream unshelve tankfarm-02
"""

from __future__ import annotations

import argparse
import getpass
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from riskstream.schemas import ActionKind, OperatorAction
from riskstream.settings import RiskstreamSettings, load_settings

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|m|h|d)\s*$")
DELIVERY_TIMEOUT_S = 15.0

ProducerFactory = Callable[[dict[str, Any]], Any]


def parse_duration_ms(text: str) -> int:
    """``90s``, ``30m``/``30min``, ``2h``, ``1d``, ``1500ms`` → milliseconds."""
    m = _DURATION.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90s, 30m, 2h, 1d)")
    return round(float(m.group(1)) * _UNITS_MS[m.group(2)])


def parse_when_ms(text: str) -> int:
    """Epoch milliseconds, or ISO 8601 (UTC unless it names a zone; a trailing ``Z`` is accepted)."""
    if text.isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time: {text!r} (ISO 8601 or epoch ms)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return round(dt.timestamp() * 1000)


def register(sub: argparse._SubParsersAction) -> None:
    helps = {
        ActionKind.ACK: "acknowledge the alarms of a sensor, site or alert (releases latched alarms)",
        ActionKind.SHELVE: "silence a sensor, site or alert for a while (it keeps evaluating)",
        ActionKind.UNSHELVE: "end a shelve or maintenance window now",
        ActionKind.MAINTENANCE: "maintenance window on a sensor or site (silenced until it ends)",
    }
    for kind, text in helps.items():
        p = sub.add_parser(
            kind.value, help=text, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        p.add_argument("target", help="sensor id, site, or alert id")
        if kind in (ActionKind.SHELVE, ActionKind.MAINTENANCE):
            until = p.add_mutually_exclusive_group(required=kind == ActionKind.MAINTENANCE)
            until.add_argument("--for", dest="for_ms", type=parse_duration_ms, metavar="DURATION")
            until.add_argument("--until", dest="until_ms", type=parse_when_ms, metavar="WHEN")
        p.add_argument("--by", default=None, help="who acts (default: the login name)")
        p.add_argument("--note", default="", help="why, for the alert stream")
        p.add_argument("--ts-ms", type=int, default=None, help="time of the action (default: now)")
        p.add_argument("--config", metavar="FILE", help="riskstream TOML config (Kafka and control topic)")
        p.add_argument("--dry-run", action="store_true", help="print the action JSON, send nothing")
        p.set_defaults(func=run, action_kind=kind)


def build_action(args: argparse.Namespace, now_ms: int) -> OperatorAction:
    ts = args.ts_ms if args.ts_ms is not None else now_ms
    until = getattr(args, "until_ms", None)
    if getattr(args, "for_ms", None) is not None:
        until = ts + args.for_ms
    by = args.by if args.by is not None else _login()
    return OperatorAction(
        action=args.action_kind, target=args.target, until_ts_ms=until, by=by, note=args.note, ts_ms=ts
    )


def run(args: argparse.Namespace, producer_factory: ProducerFactory | None = None) -> int:
    try:
        action = build_action(args, int(time.time() * 1000))
    except ValidationError as exc:
        print(f"error: not a valid operator action: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 2
    if action.until_ts_ms is not None and action.until_ts_ms <= action.ts_ms:
        print("error: the window ends before it starts", file=sys.stderr)
        return 2
    payload = action.model_dump_json()
    if args.dry_run:
        print(payload)
        return 0
    try:
        settings = load_settings(args.config)
    except (FileNotFoundError, ValidationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return send(settings, action, payload, producer_factory)


def producer_config(settings: RiskstreamSettings) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "bootstrap.servers": settings.kafka.bootstrap_servers,
        "enable.idempotence": True,
        "acks": "all",
        "message.timeout.ms": int(DELIVERY_TIMEOUT_S * 1000),
    }
    cfg.update(settings.kafka.extra)
    return cfg


def send(
    settings: RiskstreamSettings, action: OperatorAction, payload: str, factory: ProducerFactory | None = None
) -> int:
    """Produce ``payload`` to the control topic, keyed by target, and wait for the broker's ack."""
    if factory is None:
        from confluent_kafka import Producer

        factory = Producer
    topic = settings.kafka.topics.control
    producer = factory(producer_config(settings))
    result: dict[str, Any] = {}

    def delivered(err: Any, msg: Any) -> None:
        result["err"], result["msg"] = err, msg

    producer.produce(topic, key=action.target.encode(), value=payload.encode(), on_delivery=delivered)
    remaining = producer.flush(DELIVERY_TIMEOUT_S)
    if remaining or result.get("err") is not None or "msg" not in result:
        why = result.get("err") or f"not delivered within {DELIVERY_TIMEOUT_S:g} s"
        print(f"error: {action.action.value} {action.target}: {why}", file=sys.stderr)
        return 1
    msg = result["msg"]
    print(f"{action.action.value} {action.target}: sent to {topic} [{msg.partition()}] @ {msg.offset()}")
    return 0


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
