"""The pure detection engine: registry → domain rules → alarm transitions → alerts.

The Kafka detect worker and the offline replay both call :meth:`Engine.process` with columnar batches
(design.md §5), so live and replayed runs produce the same alerts. The engine never does I/O and never
mutates its inputs: it returns a new :class:`EngineState`.

* Each rule covers the registry rows of its kinds; inside the rule a sensor is a kind-local row (the
  rule's rows in registry order), and the sensor's registry ``params`` fill the rule's ``sp_*`` columns.
* Readings may arrive in any order and mixed kinds; the engine picks each rule's readings, sorts them by
  (sensor, ts_ms) and runs the rule, then the rule's :class:`detectors.alarm.AlarmMachine`.
* Every level change becomes an :class:`riskstream.schemas.Alert` (``event="transition"``,
  ``channel="hazard"``) with a deterministic id; alerts come ordered by (ts_ms, sensor_id, rule).
* Snapshots carry a key of the rule parameters and state layout plus a fingerprint of the registry's
  sensors (ids and kinds). A snapshot taken with other rule parameters or of other sensors is refused;
  one from a registry that this registry extends (sensors appended) is restored and grown. Per-sensor
  set points always come from the current registry (ADR 0002): a changed ``params`` value reconfigures
  that sensor's ``sp_*`` columns and keeps everything it measured.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detectors.alarm import AlarmMachine
from detectors.base import Batch, State, StateKeyMismatchError
from detectors.domain import DomainRule, default_rules
from detectors.domain.rule import Measures
from riskstream.registry import Registry, Sensor
from riskstream.schemas import Alert, AlertEvent, Channel, Level

SNAPSHOT_FORMAT = "riskstream-engine-v1"
#: ``max_ts_ms`` of a state that has not seen a reading
NO_TS = -1
#: value columns of a batch: single-channel kinds use column 0, multi-channel kinds their channels in
#: riskstream.kinds order
VALUE_COLUMNS = 4


@dataclass(frozen=True, slots=True)
class EngineState:
    """Everything the engine remembers, per rule in kind-local rows; never mutated once built.

    ``n_sensors`` and the fingerprints identify the registry the state was built for (its first
    ``n_sensors`` sensors' ids and kinds, and their params), so :meth:`Engine.grow` and
    :meth:`Engine.restore` can check and adapt it.
    """

    rules: dict[str, State]
    alarms: dict[str, State]
    max_ts_ms: int
    n_sensors: int
    identity_fingerprint: str
    params_fingerprint: str


@dataclass(frozen=True, slots=True)
class RuleReadings:
    """One rule's view of a processed batch, for sinks (scores, alarm-state series).

    ``index`` points into the arrays given to :meth:`Engine.process` (sorted by sensor and time);
    ``scores`` and ``levels`` are per reading in that order.
    """

    index: NDArray[np.int64]
    scores: NDArray[np.float64]
    levels: NDArray[np.int8]


@dataclass(frozen=True, slots=True)
class EngineOutput:
    alerts: list[Alert]
    state: EngineState
    readings: dict[str, RuleReadings] = field(default_factory=dict)


def _sensor_identity(s: Sensor) -> bytes:
    return f"{s.sensor_id}\x1f{s.kind}\n".encode()


def _sensor_params(s: Sensor) -> bytes:
    return (json.dumps(s.params, sort_keys=True, separators=(",", ":"), default=str) + "\n").encode()


def _prefix_digest(parts: Sequence[bytes], n: int) -> str:
    h = hashlib.sha256()
    for p in parts[:n]:
        h.update(p)
    return h.hexdigest()


def where_of(s: Sensor) -> str:
    """The place named in a reason: the site, else the area, else the sensor id."""
    return s.site or s.area or s.sensor_id


class Engine:
    """Runs the domain rules of a registry over columnar batches; pure (no I/O, inputs untouched).

    ``rules`` replaces the default rule set (:func:`detectors.domain.default_rules`), e.g. to change a
    rule-wide parameter such as the rain bin width.
    """

    def __init__(
        self, registry: Registry, config_version: str = "1", *, rules: Sequence[DomainRule] | None = None
    ) -> None:
        self.registry = registry
        self.config_version = config_version
        self.rules: tuple[DomainRule, ...] = tuple(rules) if rules is not None else default_rules()
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise ValueError(f"rule names must be unique, got {names}")
        self.alarm = AlarmMachine(max_level=int(Level.RED))
        n = len(registry)
        self._local_of: dict[str, NDArray[np.int32]] = {}
        self._global_of: dict[str, NDArray[np.int32]] = {}
        self._cold: dict[str, State] = {}
        for rule in self.rules:
            global_rows = np.sort(np.concatenate([registry.rows_of_kind(k) for k in rule.kinds])).astype(
                np.int32
            )
            local_of = np.full(n, -1, dtype=np.int32)
            local_of[global_rows] = np.arange(global_rows.size, dtype=np.int32)
            self._local_of[rule.name] = local_of
            self._global_of[rule.name] = global_rows
            sensors = [registry.sensors[int(g)] for g in global_rows]
            self._cold[rule.name] = rule.configure(
                rule.init_state(global_rows.size), [s.params for s in sensors], [s.sensor_id for s in sensors]
            )
        self._identity = [_sensor_identity(s) for s in registry]
        self._params = [_sensor_params(s) for s in registry]
        self.identity_fingerprint = _prefix_digest(self._identity, n)
        self.params_fingerprint = _prefix_digest(self._params, n)
        self.state_key = self._state_key()

    def _state_key(self) -> str:
        text = "|".join(f"{r.name}={r.state_key()}" for r in self.rules) + f"|{self.alarm.state_key()}"
        return hashlib.sha256(f"{SNAPSHOT_FORMAT}|{text}".encode()).hexdigest()[:16]

    def rows_of_rule(self, name: str) -> NDArray[np.int32]:
        """Registry rows a rule covers, in its kind-local order."""
        return self._global_of[name]

    # --- state -------------------------------------------------------------------------------------

    def init_state(self) -> EngineState:
        return EngineState(
            rules={name: {k: v.copy() for k, v in st.items()} for name, st in self._cold.items()},
            alarms={r.name: self.alarm.init_state(self._global_of[r.name].size) for r in self.rules},
            max_ts_ms=NO_TS,
            n_sensors=len(self.registry),
            identity_fingerprint=self.identity_fingerprint,
            params_fingerprint=self.params_fingerprint,
        )

    def grow(self, state: EngineState) -> EngineState:
        """A state of this engine from one built for a registry this registry extends or re-parameterises.

        Sensors appended to the registry start cold; the others carry over what they measured and their
        alarm levels. Every sensor's ``sp_*`` columns are set from this registry's params, so a changed
        set point takes effect from the next reading. Refuses (:class:`StateKeyMismatchError`) a state
        whose sensors are not the first sensors of this registry, with the same kinds.
        """
        self._check_prefix(state.n_sensors, state.identity_fingerprint)
        if state.n_sensors == len(self.registry) and state.params_fingerprint == self.params_fingerprint:
            return state
        fresh = self.init_state()
        rules = {name: _overlay(fresh.rules[name], st) for name, st in state.rules.items()}
        alarms = {name: _overlay(fresh.alarms[name], st) for name, st in state.alarms.items()}
        return EngineState(
            rules,
            alarms,
            state.max_ts_ms,
            len(self.registry),
            self.identity_fingerprint,
            self.params_fingerprint,
        )

    def _check_prefix(self, n: int, identity: str) -> None:
        if n > len(self.registry):
            raise StateKeyMismatchError(
                f"state covers {n} sensors but this registry has {len(self.registry)}: it shrank or changed"
            )
        if _prefix_digest(self._identity, n) != identity:
            raise StateKeyMismatchError(
                f"state was built for other sensors: the first {n} sensor ids/kinds of this registry differ"
            )

    # --- processing --------------------------------------------------------------------------------

    def process(
        self, state: EngineState, rows: Any, ts_ms: Any, values: Any
    ) -> tuple[list[Alert], EngineState]:
        """Alerts for every level change in the batch and the new state.

        ``rows`` int32[n] registry rows, ``ts_ms`` int64[n], ``values`` float64[n, 4] (single-channel
        kinds in column 0, multi-channel kinds their channels in riskstream.kinds order, unused NaN; fewer
        columns, or a 1-D array, are padded with NaN). Any order, mixed kinds.
        """
        out = self.evaluate(state, rows, ts_ms, values)
        return out.alerts, out.state

    def evaluate(self, state: EngineState, rows: Any, ts_ms: Any, values: Any) -> EngineOutput:
        """:meth:`process` plus each rule's per-reading scores and levels (for sinks)."""
        r, t, v = self._check_batch(state, rows, ts_ms, values)
        if r.size == 0:
            return EngineOutput([], state, {})
        new_rules = dict(state.rules)
        new_alarms = dict(state.alarms)
        readings: dict[str, RuleReadings] = {}
        alerts: list[Alert] = []
        for rule in self.rules:
            local = self._local_of[rule.name][r]
            sel = np.flatnonzero(local >= 0)
            if sel.size == 0:
                continue
            pick = sel[np.lexsort((t[sel], local[sel]))]
            rule_values = v[pick, : rule.channels] if rule.channels else v[pick, 0]
            batch = Batch(local[pick], t[pick], rule_values)
            out = rule.evaluate(state.rules[rule.name], batch)
            transitions, new_alarms[rule.name] = self.alarm.apply(
                state.alarms[rule.name], batch.rows, out.levels, batch.ts_ms
            )
            new_rules[rule.name] = out.state
            readings[rule.name] = RuleReadings(pick.astype(np.int64), out.scores, out.levels)
            for i, prev, lvl in zip(
                transitions.index.tolist(),
                transitions.previous.tolist(),
                transitions.level.tolist(),
                strict=True,
            ):
                alerts.append(self._alert(rule, out.state, batch, out.measures, i, prev, lvl))
        alerts.sort(key=lambda a: (a.ts_ms, a.sensor_id, a.rule))
        new_state = EngineState(
            new_rules,
            new_alarms,
            max(state.max_ts_ms, int(t.max())),
            state.n_sensors,
            state.identity_fingerprint,
            state.params_fingerprint,
        )
        return EngineOutput(alerts, new_state, readings)

    def _check_batch(
        self, state: EngineState, rows: Any, ts_ms: Any, values: Any
    ) -> tuple[NDArray[np.int32], NDArray[np.int64], NDArray[np.float64]]:
        if (state.n_sensors, state.identity_fingerprint, state.params_fingerprint) != (
            len(self.registry),
            self.identity_fingerprint,
            self.params_fingerprint,
        ):
            raise StateKeyMismatchError(
                "state was built for another registry or other params; use Engine.grow"
            )
        r = np.asarray(rows)
        t = np.asarray(ts_ms, dtype=np.int64)
        v = np.asarray(values, dtype=np.float64)
        if r.ndim != 1 or t.shape != r.shape or v.shape[:1] != r.shape or v.ndim > 2:
            raise ValueError(f"batch columns disagree: rows {r.shape}, ts_ms {t.shape}, values {v.shape}")
        if r.size and not np.issubdtype(r.dtype, np.integer):
            raise ValueError(f"rows must be integers, got {r.dtype}")
        r = r.astype(np.int32, copy=False)
        if v.ndim == 1:
            v = v[:, None]
        if v.shape[1] > VALUE_COLUMNS:
            raise ValueError(f"values have {v.shape[1]} columns, at most {VALUE_COLUMNS}")
        if v.shape[1] < VALUE_COLUMNS:
            v = np.concatenate([v, np.full((v.shape[0], VALUE_COLUMNS - v.shape[1]), np.nan)], axis=1)
        if r.size and (int(r.min()) < 0 or int(r.max()) >= len(self.registry)):
            raise ValueError(f"rows must be registry rows 0..{len(self.registry) - 1}")
        return r, t, v

    def _alert(
        self, rule: DomainRule, state: State, batch: Batch, measures: Measures, i: int, prev: int, level: int
    ) -> Alert:
        local = int(batch.rows[i])
        sensor = self.registry.sensors[int(self._global_of[rule.name][local])]
        ctx = rule.context(state, local, sensor.sensor_id, where_of(sensor), level, prev, measures, i)
        value = rule.alert_value(ctx)
        return Alert.build(
            event=AlertEvent.TRANSITION,
            channel=Channel.HAZARD,
            sensor_id=sensor.sensor_id,
            site=sensor.site,
            area=sensor.area,
            family=sensor.family.value,
            kind=sensor.kind,
            rule=rule.name,
            level=Level(level).label,
            previous_level=Level(prev).label,
            ts_ms=int(batch.ts_ms[i]),
            value=value if value is not None and np.isfinite(value) else None,
            reason=rule.describe(ctx),
            config_version=self.config_version,
        )

    # --- snapshots ---------------------------------------------------------------------------------

    def snapshot(self, state: EngineState) -> bytes:
        """Bytes that :meth:`restore` turns back into ``state`` (numpy ``.npz``, no pickle)."""
        meta = {
            "format": SNAPSHOT_FORMAT,
            "state_key": self.state_key,
            "rules": [r.name for r in self.rules],
            "n_sensors": state.n_sensors,
            "identity_fingerprint": state.identity_fingerprint,
            "params_fingerprint": state.params_fingerprint,
            "max_ts_ms": state.max_ts_ms,
            "config_version": self.config_version,
        }
        arrays: dict[str, np.ndarray] = {"__meta__": np.array(json.dumps(meta, sort_keys=True))}
        for name, st in state.rules.items():
            arrays.update({f"rule/{name}/{k}": a for k, a in st.items()})
        for name, st in state.alarms.items():
            arrays.update({f"alarm/{name}/{k}": a for k, a in st.items()})
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    def restore(self, blob: bytes) -> EngineState:
        """The state saved by :meth:`snapshot`, grown to this registry if sensors were appended.

        Raises :class:`detectors.base.StateKeyMismatchError` for a snapshot taken with other rule
        parameters or state layout, or of other sensors. Sensor params come from this registry.
        """
        try:
            data = np.load(io.BytesIO(blob), allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise StateKeyMismatchError(f"not an engine snapshot: {exc}") from None
        if not hasattr(data, "files"):
            raise StateKeyMismatchError("not an engine snapshot: a bare array")
        with data:
            if "__meta__" not in data.files:
                raise StateKeyMismatchError("not an engine snapshot")
            meta = json.loads(str(data["__meta__"]))
            if meta.get("format") != SNAPSHOT_FORMAT or meta.get("state_key") != self.state_key:
                raise StateKeyMismatchError(
                    f"snapshot key {meta.get('state_key')} != {self.state_key}: taken with other rule "
                    "parameters or another state layout"
                )
            rules: dict[str, State] = {r.name: {} for r in self.rules}
            alarms: dict[str, State] = {r.name: {} for r in self.rules}
            for key in data.files:
                if key == "__meta__":
                    continue
                part, name, col = key.split("/", 2)
                (rules if part == "rule" else alarms)[name][col] = data[key].copy()
        state = EngineState(
            rules,
            alarms,
            int(meta["max_ts_ms"]),
            int(meta["n_sensors"]),
            str(meta["identity_fingerprint"]),
            str(meta["params_fingerprint"]),
        )
        self._check_layout(state)
        return self.grow(state)

    def _check_layout(self, state: EngineState) -> None:
        self._check_prefix(state.n_sensors, state.identity_fingerprint)
        cold = self.init_state()
        for name in cold.rules:
            rows = int(np.count_nonzero(self._local_of[name][: state.n_sensors] >= 0))
            for part, have, want in (("rule", state.rules, cold.rules), ("alarm", state.alarms, cold.alarms)):
                if set(have[name]) != set(want[name]):
                    raise StateKeyMismatchError(f"snapshot {part} state of {name} has other columns")
                if any(a.shape[0] != rows for a in have[name].values()):
                    raise StateKeyMismatchError(f"snapshot {part} state of {name} does not have {rows} rows")


def _overlay(fresh: State, old: State) -> State:
    """``fresh`` with its first rows replaced by ``old``, except the ``sp_*`` set points (kept fresh)."""
    out = {k: v.copy() for k, v in fresh.items()}
    for k, v in old.items():
        if not k.startswith("sp_"):
            out[k][: v.shape[0]] = v
    return out
