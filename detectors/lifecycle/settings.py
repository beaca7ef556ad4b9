"""Alarm lifecycle settings: per rule, optionally per sensor, plus deadman and multi-rule agreement.

Everything here is configuration, not state: the engine turns it into per-(sensor, rule) arrays
(:class:`PairSettings`) when it is built, from three layers, later ones winning:

1. :class:`AlarmSettings` defaults (today's behaviour: every change of the rule's level is announced);
2. the rule's own ``alarm_defaults`` attribute, if a rule class declares one (e.g. a trapped-passenger
   rule that escalates on its own), then ``LifecycleConfig.alarm`` and ``LifecycleConfig.rules[name]``;
3. a sensor's registry ``params["alarm"]``: setting keys for every rule of that sensor, and a nested
   object per rule name for one rule (``{"raise_readings": 3, "gas_two_stage": {"clear_hold_ms": 60000}}``).

Settings never change the state layout (ring widths are fixed), so a snapshot survives a settings
change: the new settings apply from the next reading. Durations are int milliseconds (``*_ms``), levels
are named (``"orange"``) in files and ints 1..4 in code. See docs/alarms/tuning.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from riskstream.schemas import Level

#: readings remembered for "N of the last M" (4 bits each, packed in one uint64)
MAX_RAISE_WINDOW = 16
#: transition times remembered for flapping detection
MAX_FLAP_TRANSITIONS = 8
#: the pseudo-rule name of the per-sensor deadman (``sensor_fault`` channel)
DEADMAN_RULE = "deadman"
_HAZARD_LEVELS = (1, 2, 3, 4)


class LifecycleConfigError(ValueError):
    """A lifecycle setting that cannot be used; the message names where it came from."""


class ClearMode(StrEnum):
    """``auto``: the alarm clears by itself; ``latched``: it holds its highest level until acknowledged."""

    AUTO = "auto"
    LATCHED = "latched"


def level_number(value: Any, where: str) -> int:
    """1..4 from a level name (``"orange"``) or number; ``normal`` is not an alarm level."""
    if isinstance(value, str):
        try:
            n = int(Level.parse(value))
        except KeyError:
            raise LifecycleConfigError(f"{where}: unknown level {value!r}") from None
    elif isinstance(value, int) and not isinstance(value, bool):
        n = value
    else:
        raise LifecycleConfigError(f"{where}: a level name is required, got {value!r}")
    if n not in _HAZARD_LEVELS:
        raise LifecycleConfigError(f"{where}: level must be blue, yellow, orange or red, got {value!r}")
    return n


def _whole(value: Any, where: str, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(float(value)):
        raise LifecycleConfigError(f"{where}: must be a whole number, got {value!r}")
    if float(value) != int(value) or value < lo or (hi is not None and value > hi):
        bound = f"{lo}..{hi}" if hi is not None else f"≥ {lo}"
        raise LifecycleConfigError(f"{where}: must be a whole number {bound}, got {value!r}")
    return int(value)


@dataclass(frozen=True, slots=True)
class AlarmSettings:
    """How one rule's per-reading levels become announced alarm levels (docs/alarms/state-machine.md).

    * raise: level k is raised when the reading is at ≥ k, at least ``raise_readings`` of the last
      ``raise_window`` readings were at ≥ k, and the run at ≥ k has lasted ``raise_hold_ms``;
    * clear: level k is held while readings stay at ≥ ``clear_levels[k-1]`` (level-domain hysteresis);
      it is left after ``clear_readings`` consecutive readings below it spanning ``clear_hold_ms``;
    * ``clear_mode`` latched: the highest level stays until acknowledged, then follows the condition;
    * escalation: at level k for ``escalate_after_ms[k-1]`` (blue, yellow, orange; 0 = never) the
      alarm goes one level up; de-escalation: when the condition falls, the alarm steps down one level
      per ``deescalate_step_ms`` (0 = at once);
    * flapping: ``flap_transitions`` (0 = off) level changes within ``flap_window_ms`` report one
      ``flapping`` event and silence the pair until it has been stable for ``flap_settle_ms``.
    """

    raise_readings: int = 1
    raise_window: int = 1
    raise_hold_ms: int = 0
    clear_levels: tuple[int, int, int, int] = (1, 2, 3, 4)
    clear_readings: int = 1
    clear_hold_ms: int = 0
    clear_mode: ClearMode = ClearMode.AUTO
    escalate_after_ms: tuple[int, int, int] = (0, 0, 0)
    deescalate_step_ms: int = 0
    flap_transitions: int = 0
    flap_window_ms: int = 600_000
    flap_settle_ms: int = 600_000

    def __post_init__(self) -> None:
        self.validate("alarm settings")

    def validate(self, where: str) -> None:
        _whole(self.raise_window, f"{where}: raise_window", 1, MAX_RAISE_WINDOW)
        _whole(self.raise_readings, f"{where}: raise_readings", 1, self.raise_window)
        for name in ("raise_hold_ms", "clear_hold_ms", "deescalate_step_ms"):
            _whole(getattr(self, name), f"{where}: {name}", 0)
        _whole(self.clear_readings, f"{where}: clear_readings", 1)
        if len(self.clear_levels) != 4:
            raise LifecycleConfigError(f"{where}: clear_levels needs one level per blue..red")
        for k, c in enumerate(self.clear_levels, start=1):
            if _whole(c, f"{where}: clear level of {Level(k).label}", 1, k) > k:
                raise LifecycleConfigError(f"{where}: clear level of {Level(k).label} must be ≤ it")
        if len(self.escalate_after_ms) != 3:
            raise LifecycleConfigError(f"{where}: escalate_after_ms needs blue, yellow, orange")
        for k, ms in enumerate(self.escalate_after_ms, start=1):
            _whole(ms, f"{where}: escalate_after_ms.{Level(k).label}", 0)
        flaps = self.flap_transitions
        if _whole(flaps, f"{where}: flap_transitions", 0, MAX_FLAP_TRANSITIONS) == 1:
            raise LifecycleConfigError(
                f"{where}: flap_transitions must be 0 (off) or 2..{MAX_FLAP_TRANSITIONS}"
            )
        _whole(self.flap_window_ms, f"{where}: flap_window_ms", 1)
        _whole(self.flap_settle_ms, f"{where}: flap_settle_ms", 1)
        if not isinstance(self.clear_mode, ClearMode):
            raise LifecycleConfigError(f"{where}: clear_mode must be auto or latched")

    @property
    def pass_through(self) -> bool:
        """True when the announced level is exactly the rule's level (no debounce, latch or timers)."""
        d = _DEFAULT
        return (
            self.raise_readings == 1
            and self.raise_hold_ms == 0
            and self.clear_levels == d.clear_levels
            and self.clear_readings == 1
            and self.clear_hold_ms == 0
            and self.clear_mode == ClearMode.AUTO
            and not any(self.escalate_after_ms)
        )

    def merged(self, overrides: Mapping[str, Any], where: str) -> AlarmSettings:
        """These settings with ``overrides`` (file/registry spelling: level names, mappings) applied."""
        if not overrides:
            return self
        changes: dict[str, Any] = {}
        for key, raw in overrides.items():
            at = f"{where}: {key}"
            if key == "clear_levels":
                changes[key] = _clear_levels(self.clear_levels, raw, at)
            elif key == "escalate_after_ms":
                changes[key] = _escalations(self.escalate_after_ms, raw, at)
            elif key == "clear_mode":
                try:
                    changes[key] = ClearMode(raw)
                except ValueError:
                    raise LifecycleConfigError(f"{at}: must be auto or latched, got {raw!r}") from None
            elif key in _INT_FIELDS:
                changes[key] = _whole(raw, at, 0)
            else:
                raise LifecycleConfigError(f"{where}: unknown alarm setting {key!r}")
        try:
            out = replace(self, **changes)
        except LifecycleConfigError as exc:
            raise LifecycleConfigError(f"{where}: {exc}") from None
        return out


_DEFAULT = AlarmSettings()
_INT_FIELDS = frozenset(
    f.name for f in fields(AlarmSettings) if f.name not in ("clear_levels", "escalate_after_ms", "clear_mode")
)
SETTING_NAMES = frozenset(f.name for f in fields(AlarmSettings))


def _clear_levels(base: tuple[int, ...], raw: Any, where: str) -> tuple[int, int, int, int]:
    """``{"orange": "yellow"}`` (level → the level it holds down to) or a list of four levels."""
    out = list(base)
    if isinstance(raw, Mapping):
        for name, clear in raw.items():
            k = level_number(name, where)
            out[k - 1] = level_number(clear, f"{where}.{name}")
    elif isinstance(raw, Sequence) and not isinstance(raw, str) and len(raw) == 4:
        out = [level_number(c, where) for c in raw]
    else:
        raise LifecycleConfigError(f"{where}: a mapping level -> clear level, or four levels")
    return (out[0], out[1], out[2], out[3])


def _escalations(base: tuple[int, ...], raw: Any, where: str) -> tuple[int, int, int]:
    """``{"yellow": 1800000, "orange": 1800000}``: time at a level before going one up (0 = never)."""
    if not isinstance(raw, Mapping):
        raise LifecycleConfigError(f"{where}: a mapping level -> milliseconds")
    out = list(base)
    for name, ms in raw.items():
        k = level_number(name, where)
        if k == 4:
            raise LifecycleConfigError(f"{where}: red is the highest level, it cannot escalate")
        out[k - 1] = _whole(ms, f"{where}.{name}", 0)
    return (out[0], out[1], out[2])


@dataclass(frozen=True, slots=True)
class DeadmanSettings:
    """A sensor silent for longer than ``factor`` × its expected interval raises ``sensor_fault``.

    The expected interval is the sensor's registry ``params["expected_interval_s"]``; with
    ``learn_interval`` a sensor without it uses the median of its last :data:`DEADMAN_GAPS` gaps
    between readings (learned after that many gaps). ``params["deadman_factor"]`` overrides ``factor``
    per sensor; 0 switches the deadman off for that sensor.
    """

    factor: float = 3.0
    learn_interval: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.factor) and self.factor >= 0):
            raise LifecycleConfigError(f"deadman factor must be ≥ 0, got {self.factor!r}")


#: gaps between readings the deadman learns the expected interval from (median)
DEADMAN_GAPS = 5


@dataclass(frozen=True, slots=True)
class AgreementSettings:
    """When ``min_rules`` rules of one sensor are at ≥ ``at_level`` (0 = off), each of them goes +1."""

    at_level: int = 0
    min_rules: int = 2

    def __post_init__(self) -> None:
        if self.at_level not in (0, *_HAZARD_LEVELS):
            raise LifecycleConfigError(f"agreement at_level must be 0 (off) or 1..4, got {self.at_level!r}")
        if isinstance(self.min_rules, bool) or not isinstance(self.min_rules, int) or self.min_rules < 2:
            raise LifecycleConfigError(f"agreement min_rules must be ≥ 2, got {self.min_rules!r}")

    @property
    def enabled(self) -> bool:
        return self.at_level > 0


@dataclass(frozen=True, slots=True)
class LifecycleConfig:
    """All lifecycle settings of one engine. ``alarm`` applies to every rule, ``rules`` per rule name
    (:data:`DEADMAN_RULE` for the sensor-fault channel: only its flapping settings matter)."""

    alarm: Mapping[str, Any] = field(default_factory=dict)
    rules: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    deadman: DeadmanSettings = DeadmanSettings()
    agreement: AgreementSettings = AgreementSettings()

    def __post_init__(self) -> None:
        # fail early on a bad setting, before any registry is involved
        base = AlarmSettings().merged(dict(self.alarm), "[alarm]")
        for name, overrides in self.rules.items():
            base.merged(_as_overrides(overrides), f"[alarm.rules.{name}]")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> LifecycleConfig:
        """From a parsed TOML/JSON document: ``[alarm]`` (with ``[alarm.rules.<name>]``), ``[deadman]``,
        ``[agreement]`` (docs/alarms/tuning.md). Unknown sections or keys are errors."""
        unknown = set(data) - {"alarm", "deadman", "agreement", "config_version"}
        if unknown:
            raise LifecycleConfigError(f"unknown section(s) {sorted(unknown)}")
        alarm = dict(data.get("alarm", {}))
        rules = alarm.pop("rules", {})
        if not isinstance(rules, Mapping):
            raise LifecycleConfigError("[alarm.rules] must be a table of rule names")
        dm = dict(data.get("deadman", {}))
        bad = set(dm) - {"factor", "learn_interval"}
        if bad:
            raise LifecycleConfigError(f"[deadman]: unknown key(s) {sorted(bad)}")
        ag = dict(data.get("agreement", {}))
        bad = set(ag) - {"at_level", "min_rules"}
        if bad:
            raise LifecycleConfigError(f"[agreement]: unknown key(s) {sorted(bad)}")
        at = ag.get("at_level", "off")
        at_level = 0 if at in ("off", 0) else level_number(at, "[agreement] at_level")
        try:
            deadman = DeadmanSettings(
                factor=float(dm.get("factor", 3.0)), learn_interval=bool(dm.get("learn_interval", False))
            )
            agreement = AgreementSettings(at_level=at_level, min_rules=int(ag.get("min_rules", 2)))
        except (TypeError, ValueError) as exc:
            raise LifecycleConfigError(str(exc)) from None
        return cls(
            alarm=alarm, rules={k: dict(v) for k, v in rules.items()}, deadman=deadman, agreement=agreement
        )

    def rule_settings(self, name: str, rule_defaults: AlarmSettings | None = None) -> AlarmSettings:
        """Settings of one rule before per-sensor overrides."""
        base = rule_defaults or AlarmSettings()
        base = base.merged(dict(self.alarm), "[alarm]")
        return base.merged(_as_overrides(self.rules.get(name, {})), f"[alarm.rules.{name}]")


def _as_overrides(value: Any) -> dict[str, Any]:
    if isinstance(value, AlarmSettings):
        out = {f.name: getattr(value, f.name) for f in fields(AlarmSettings)}
        out["escalate_after_ms"] = dict(
            zip(("blue", "yellow", "orange"), value.escalate_after_ms, strict=True)
        )
        out["clear_mode"] = value.clear_mode.value
        return out
    if not isinstance(value, Mapping):
        raise LifecycleConfigError(f"rule settings must be a table, got {value!r}")
    return dict(value)


@dataclass(frozen=True, slots=True)
class PairSettings:
    """:class:`AlarmSettings` as arrays over one rule's sensor rows (kind-local order)."""

    raise_readings: NDArray[np.int64]
    raise_window: NDArray[np.int64]
    raise_hold_ms: NDArray[np.int64]
    clear_levels: NDArray[np.int8]  # (n, 4)
    clear_readings: NDArray[np.int64]
    clear_hold_ms: NDArray[np.int64]
    latched: NDArray[np.bool_]
    escalate_after_ms: NDArray[np.int64]  # (n, 5): column = level 0..4; 0 = never (normal, red: never)
    deescalate_step_ms: NDArray[np.int64]
    flap_transitions: NDArray[np.int64]
    flap_window_ms: NDArray[np.int64]
    flap_settle_ms: NDArray[np.int64]
    #: every row passes levels through unchanged (the vectorised fast path applies)
    pass_through: bool
    #: some row has flapping detection on
    any_flapping: bool
    #: some row uses N-of-M or hold debounce (the level history must be kept)
    any_debounce: bool

    @classmethod
    def build(
        cls, base: AlarmSettings, per_row: Sequence[AlarmSettings | None], n: int | None = None
    ) -> PairSettings:
        """Arrays for ``n`` rows of ``base``, replaced by ``per_row[i]`` where that is not None."""
        n = len(per_row) if n is None else n
        rows = [s for s in per_row if s is not None]
        specials = [i for i, s in enumerate(per_row) if s is not None]

        def col(name: str, dtype: Any) -> NDArray[Any]:
            a = np.full(n, getattr(base, name), dtype=dtype)
            for i in specials:
                a[i] = getattr(per_row[i], name)
            return a

        clear = np.tile(np.asarray(base.clear_levels, dtype=np.int8), (n, 1))
        esc = np.tile(np.asarray((0, *base.escalate_after_ms, 0), dtype=np.int64), (n, 1))
        for i in specials:
            s = per_row[i]
            assert s is not None
            clear[i] = s.clear_levels
            esc[i] = (0, *s.escalate_after_ms, 0)
        latched = np.full(n, base.clear_mode == ClearMode.LATCHED)
        for i in specials:
            latched[i] = per_row[i].clear_mode == ClearMode.LATCHED  # type: ignore[union-attr]
        every = [base, *rows]
        return cls(
            raise_readings=col("raise_readings", np.int64),
            raise_window=col("raise_window", np.int64),
            raise_hold_ms=col("raise_hold_ms", np.int64),
            clear_levels=clear,
            clear_readings=col("clear_readings", np.int64),
            clear_hold_ms=col("clear_hold_ms", np.int64),
            latched=latched,
            escalate_after_ms=esc,
            deescalate_step_ms=col("deescalate_step_ms", np.int64),
            flap_transitions=col("flap_transitions", np.int64),
            flap_window_ms=col("flap_window_ms", np.int64),
            flap_settle_ms=col("flap_settle_ms", np.int64),
            pass_through=all(s.pass_through for s in every) and not any(s.deescalate_step_ms for s in every),
            any_flapping=any(s.flap_transitions for s in every),
            any_debounce=any(s.raise_window > 1 or s.raise_hold_ms > 0 for s in every),
        )


def sensor_overrides(
    params: Mapping[str, Any], rule: str, rule_names: Sequence[str], where: str
) -> dict[str, Any]:
    """The alarm setting overrides of one sensor for ``rule`` from its registry ``params["alarm"]``."""
    raw = params.get("alarm")
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise LifecycleConfigError(f"{where}: params.alarm must be an object, got {raw!r}")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in SETTING_NAMES:
            out[key] = value
        elif key not in rule_names:
            raise LifecycleConfigError(
                f"{where}: params.alarm.{key} is neither an alarm setting nor a rule of this engine"
            )
    nested = raw.get(rule)
    if nested is not None:
        if not isinstance(nested, Mapping):
            raise LifecycleConfigError(f"{where}: params.alarm.{rule} must be an object")
        out.update(nested)
    return out
