"""Alarm lifecycle settings files (TOML) and operator-action files (JSON lines).

A settings file holds the sections of :meth:`detectors.lifecycle.LifecycleConfig.from_mapping`
(``[alarm]``, ``[alarm.rules.<rule>]``, ``[deadman]``, ``[agreement]``) and optionally a top-level
``config_version`` label stamped on every alert (docs/alarms/tuning.md). ``riskstream replay --config``
reads it; a worker can load the same file so live and back-test use identical settings.

An actions file has one :class:`riskstream.schemas.OperatorAction` per line (the control-topic
message); lines that are not valid actions are reported with their line numbers and skipped.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from detectors.lifecycle import LifecycleConfig, LifecycleConfigError
from riskstream.schemas import OperatorAction

ACTIONS_ADAPTER: TypeAdapter[list[OperatorAction]] = TypeAdapter(list[OperatorAction])


@dataclass(frozen=True, slots=True)
class AlarmConfigFile:
    lifecycle: LifecycleConfig
    config_version: str | None


def load_alarm_config(path: str | Path) -> AlarmConfigFile:
    """Parse and validate a lifecycle settings file; raises :class:`LifecycleConfigError` naming it."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LifecycleConfigError(f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise LifecycleConfigError(f"{path}: not TOML: {exc}") from None
    return alarm_config_from_mapping(data, str(path))


def alarm_config_from_mapping(data: dict[str, Any], where: str = "config") -> AlarmConfigFile:
    version = data.get("config_version")
    if version is not None and not isinstance(version, str | int):
        raise LifecycleConfigError(f"{where}: config_version must be a string")
    try:
        lifecycle = LifecycleConfig.from_mapping(data)
    except LifecycleConfigError as exc:
        raise LifecycleConfigError(f"{where}: {exc}") from None
    return AlarmConfigFile(lifecycle, None if version is None else str(version))


@dataclass(frozen=True, slots=True)
class ActionLines:
    actions: list[OperatorAction]
    bad: list[tuple[int, str]]  # (line number, reason)


def parse_action_lines(data: bytes) -> ActionLines:
    """Operator actions from JSON lines (blank lines skipped), validated together."""
    parsed: list[Any] = []
    numbers: list[int] = []
    bad: list[tuple[int, str]] = []
    for no, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            parsed.append(orjson.loads(raw))
            numbers.append(no)
        except orjson.JSONDecodeError as exc:
            bad.append((no, f"not JSON: {exc}"))
    failed: dict[int, str] = {}
    try:
        actions = ACTIONS_ADAPTER.validate_python(parsed)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            k = int(err["loc"][0])
            field = ".".join(str(x) for x in err["loc"][1:]) or "record"
            failed.setdefault(k, f"not an operator action: {field}: {err['msg']}")
        keep = [k for k in range(len(parsed)) if k not in failed]
        actions = ACTIONS_ADAPTER.validate_python([parsed[k] for k in keep])
        numbers_kept = [numbers[k] for k in keep]
        bad += [(numbers[k], msg) for k, msg in failed.items()]
        numbers = numbers_kept
    bad.sort()
    return ActionLines(actions, bad)
