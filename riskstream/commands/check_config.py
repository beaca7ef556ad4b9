"""``riskstream check-config FILE``: validate a config file (and the registry it names) without connecting."""

from __future__ import annotations

import argparse

from pydantic import ValidationError

from riskstream.registry import Registry, RegistryError
from riskstream.settings import load_settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check-config", help="validate a riskstream TOML config and its sensor registry")
    p.add_argument("file", help="path to riskstream.toml")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.file)
    except FileNotFoundError as exc:
        print(f"error: {exc}")
        return 2
    except ValidationError as exc:
        print(f"error: {args.file} is not a valid riskstream config:")
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            print(f"  {where}: {err['msg']}")
        return 1
    try:
        registry = Registry.load(settings.registry)
    except RegistryError as exc:
        print(f"error: {exc}")
        return 1
    families = {f.value: len(v) for f, v in registry.by_family().items()}
    print(f"ok: {args.file}: {len(registry)} sensors {families}")
    print(f"  mqtt  {settings.mqtt.host}:{settings.mqtt.port} as {settings.mqtt.username!r}")
    print(f"  kafka {settings.kafka.bootstrap_servers} readings={settings.kafka.topics.readings}")
    print(f"  influx {settings.influx.api.value} {settings.influx.url} db={settings.influx.database}")
    return 0
