"""The pure detection engine: registry → domain rules → alarm lifecycle → alerts.

The Kafka detect worker and the offline replay (``riskstream replay``) both call :meth:`Engine.process`
with columnar batches (design.md §5), so live and replayed runs produce the same alerts. The engine
never does I/O. By default it never mutates its inputs: it returns a new :class:`EngineState`. With
``in_place=True`` (:meth:`Engine.process`, :meth:`Engine.evaluate`, :meth:`Engine.tick`,
:meth:`Engine.apply_actions`) the caller hands over a state it owns: the engine writes the new state
into its arrays (only the rows the call touches) and returns it, and the state passed in must not be
used again. Same alerts and same new state as the pure call, without copying per-sensor arrays, whose
cost grows with the registry rather than the batch; replay and the worker use it.

* Each rule covers the registry rows of its kinds; inside the rule a sensor is a kind-local row (the
  rule's rows in registry order), and the sensor's registry ``params`` fill the rule's ``sp_*`` columns.
* Readings may arrive in any order and mixed kinds; the engine picks each rule's readings, sorts them by
  (sensor, ts_ms) and runs the rule, then the alarm lifecycle (:mod:`detectors.lifecycle`): per
  (sensor, rule) debounce, hysteresis, latch and escalation timers, a per-sensor deadman on the
  ``sensor_fault`` channel, then agreement, flapping, shelve/maintenance and acknowledgements.
* Operator actions (:class:`riskstream.schemas.OperatorAction`) are applied in time order with the
  readings: readings stamped ≤ an action's ``ts_ms`` first. Timers run on event time, the highest
  ``ts_ms`` seen; :meth:`Engine.tick` moves it on for an idle partition (wall-clock fallback).
* Every announced change becomes an :class:`riskstream.schemas.Alert` with a deterministic id. Within a
  call, alerts come in time order: ordered by (ts_ms, phase, sensor_id, rule) between actions, where
  phase orders reading-caused changes before timers at the same ts_ms; an action's alerts follow the
  readings stamped at or before it.
* Snapshots carry a key of the rule parameters and state layout plus a fingerprint of the registry's
  sensors (ids and kinds). A snapshot taken with other rule parameters or of other sensors is refused;
  one from a registry that this registry extends (sensors appended) is restored and grown. Per-sensor
  set points and lifecycle settings always come from the current registry and configuration (ADR 0002).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State, StateKeyMismatchError, copy_learned, is_memo, with_memos
from detectors.canonical_json import canonical_json
from detectors.domain import DomainRule, default_rules
from detectors.domain.rule import RuleOutput
from detectors.lifecycle import reasons
from detectors.lifecycle.common import NO_DUE, Cause, Cow, LevelEvents, alert_id_prefix
from detectors.lifecycle.condition import ConditionMachine
from detectors.lifecycle.deadman import Deadman, DeadmanSettingsArrays
from detectors.lifecycle.notify import Emission, GroupSpec, Notifier
from detectors.lifecycle.notify import init_state as notify_state
from detectors.lifecycle.settings import (
    DEADMAN_RULE,
    AlarmSettings,
    LifecycleConfig,
    LifecycleConfigError,
    PairSettings,
    sensor_overrides,
)
from detectors.quality import RULE_OF_CHECK, FaultChange, QualityChannel, QualityParams, hold_back
from riskstream.registry import Registry, Sensor
from riskstream.schemas import ActionKind, Alert, AlertEvent, Channel, FaultLevel, Level, OperatorAction

SNAPSHOT_FORMAT = "riskstream-engine-v3"  # v3: data-quality pairs in stage B
#: ``max_ts_ms`` of a state that has not seen a reading
NO_TS = -1
#: value columns of a batch: single-channel kinds use column 0, multi-channel kinds their channels in
#: riskstream.kinds order
VALUE_COLUMNS = 4
_HEX_ID = re.compile(r"[0-9a-f]{64}")
#: registry params the lifecycle reads
_LIFECYCLE_KEYS = frozenset({"alarm", "expected_interval_s", "deadman_factor"})
_ACTION_EVENT = {
    ActionKind.ACK: AlertEvent.ACK,
    ActionKind.SHELVE: AlertEvent.SHELVE,
    ActionKind.UNSHELVE: AlertEvent.UNSHELVE,
    ActionKind.MAINTENANCE: AlertEvent.MAINTENANCE,
}
_ACTION_VERB = {
    AlertEvent.ACK: "acknowledged",
    AlertEvent.SHELVE: "shelved",
    AlertEvent.UNSHELVE: "unshelved",
    AlertEvent.MAINTENANCE: "maintenance",
}


@dataclass(frozen=True, slots=True)
class EngineState:
    """Everything the engine remembers; never mutated once built.

    ``rules`` and ``alarms`` hold per rule the rule's state and its pairs' lifecycle state (kind-local
    rows); ``sensors`` the per-sensor deadman and its notification state (registry rows). ``max_ts_ms``
    is event time. ``n_sensors`` and the fingerprints identify the registry the state was built for (its
    first ``n_sensors`` sensors' ids and kinds, and their params), so :meth:`Engine.grow` and
    :meth:`Engine.restore` can check and adapt it.
    """

    rules: dict[str, State]
    alarms: dict[str, State]
    max_ts_ms: int
    n_sensors: int
    identity_fingerprint: str
    params_fingerprint: str
    sensors: State = field(default_factory=dict)
    #: per lifecycle group, lower bounds of its timer columns (due times): derived from the arrays, so a
    #: call skips whole-column scans while no timer can be due; not part of snapshots (a restored state
    #: starts without them and scans once)
    hints: Mapping[str, Mapping[str, int]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RuleReadings:
    """One rule's view of a processed batch, for sinks (scores, alarm-state series).

    ``index`` points into the arrays given to :meth:`Engine.process`; ``scores`` and ``levels`` (the
    rule's own per-reading levels, before the lifecycle) are per reading in that order.
    """

    index: NDArray[np.int64]
    scores: NDArray[np.float64]
    levels: NDArray[np.int8]


@dataclass(frozen=True, slots=True)
class EngineOutput:
    alerts: list[Alert]
    state: EngineState
    readings: dict[str, RuleReadings] = field(default_factory=dict)
    #: actions whose target matched no sensor, site or current alert (nothing was emitted for them)
    unmatched_actions: tuple[OperatorAction, ...] = ()


def _sensor_identity(s: Sensor) -> bytes:
    return f"{s.sensor_id}\x1f{s.kind}\n".encode()


def _params_digest(registry: Registry) -> str:
    """Fingerprint of every sensor's params (one JSON document, keys sorted)."""
    return hashlib.sha256(canonical_json([s.params for s in registry])).hexdigest()


def _prefix_digest(parts: Sequence[bytes], n: int) -> str:
    h = hashlib.sha256()
    for p in parts[:n]:
        h.update(p)
    return h.hexdigest()


def where_of(s: Sensor) -> str:
    """The place named in a reason: the site, else the area, else the sensor id."""
    return s.site or s.area or s.sensor_id


def _layout(state: State) -> list[tuple[str, str, tuple[int, ...]]]:
    return sorted((k, v.dtype.str, v.shape[1:]) for k, v in state.items())


@dataclass(slots=True)
class _Work:
    """The state being built by one call: rule states, one copy-on-write view per lifecycle group.

    ``owned``: the caller's state is written in place. Otherwise a rule's state is copied (learned
    columns only) the first time the call evaluates the rule, and ``private`` names those copies.
    """

    rules: dict[str, State]
    cows: list[Cow]
    max_ts_ms: int
    readings: dict[str, list[tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int8]]]]
    owned: bool = False
    private: set[str] = field(default_factory=set)

    def rule_state(self, name: str) -> State:
        """The rule's state, writable by this call."""
        st = self.rules[name]
        if not self.owned and name not in self.private:
            st = self.rules[name] = copy_learned(st)
            self.private.add(name)
        return st


class Engine:
    """Runs the domain rules and the alarm lifecycle of a registry over columnar batches; pure.

    ``rules`` replaces the default rule set (:func:`detectors.domain.default_rules`), e.g. to change a
    rule-wide parameter such as the rain bin width. ``lifecycle`` holds the alarm settings (debounce,
    hysteresis, latch, escalation, flapping per rule; deadman; agreement); the default announces every
    change of a rule's level, watches only sensors with ``expected_interval_s`` for silence, and has no
    agreement escalation. A rule class may declare ``alarm_defaults`` (an :class:`AlarmSettings`).
    """

    def __init__(
        self,
        registry: Registry,
        config_version: str = "1",
        *,
        rules: Sequence[DomainRule] | None = None,
        lifecycle: LifecycleConfig | None = None,
        quality: QualityParams | None = None,
    ) -> None:
        self.registry = registry
        self.config_version = config_version
        self.rules: tuple[DomainRule, ...] = tuple(rules) if rules is not None else default_rules()
        self.lifecycle = lifecycle or LifecycleConfig()
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise ValueError(f"rule names must be unique, got {names}")
        reserved = {DEADMAN_RULE, *RULE_OF_CHECK} & set(names)
        if reserved:
            raise ValueError(f"{sorted(reserved)} are reserved for the sensor-fault channel")
        unknown = set(self.lifecycle.rules) - {*names, DEADMAN_RULE, *RULE_OF_CHECK}
        if unknown:
            raise LifecycleConfigError(f"[alarm.rules] names no rule of this engine: {sorted(unknown)}")
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
            sensors = [registry.sensors[g] for g in global_rows.tolist()]
            self._cold[rule.name] = rule.configure(
                rule.init_state(global_rows.size), [s.params for s in sensors], [s.sensor_id for s in sensors]
            )
        self._identity = [_sensor_identity(s) for s in registry]
        self.identity_fingerprint = _prefix_digest(self._identity, n)
        self.params_fingerprint = _params_digest(registry)
        kinds = sorted(set(registry.kinds.tolist()))
        code_of = {k: i for i, k in enumerate(kinds)}
        self._kind_code = np.array([code_of[k] for k in registry.kinds.tolist()], dtype=np.int16)
        self._kind_codes = {r.name: [code_of[k] for k in r.kinds if k in code_of] for r in self.rules}
        self._kind_set = {name: frozenset(codes) for name, codes in self._kind_codes.items()}
        # rank of every registry row in (kind, row) order: one sort of a call's readings groups them
        by_kind_then_row = np.lexsort((np.arange(n), self._kind_code))
        self._kind_rank = np.empty(n, dtype=np.int64)
        self._kind_rank[by_kind_then_row] = np.arange(n, dtype=np.int64)
        # data quality channel (detectors.quality): QARTOD flags before the rules, sensor_fault alerts
        self._quality = QualityChannel(registry, quality)
        self._build_lifecycle()
        self.state_key = self._state_key()

    # --- lifecycle configuration -------------------------------------------------------------------

    def _build_lifecycle(self) -> None:
        reg, cfg = self.registry, self.lifecycle
        names = [r.name for r in self.rules] + [DEADMAN_RULE, *RULE_OF_CHECK]
        self._condition = ConditionMachine()
        self._deadman = Deadman()
        self.pair_settings: dict[str, PairSettings] = {}
        groups: list[GroupSpec] = []
        keyed = [i for i, s in enumerate(reg.sensors) if not _LIFECYCLE_KEYS.isdisjoint(s.params or ())]
        with_alarm = [i for i in keyed if "alarm" in reg.sensors[i].params]
        # groups: the rules (hazard), then on the sensor_fault channel the deadman and one per QARTOD check
        everyone = np.arange(len(reg), dtype=np.int32)
        named: list[tuple[DomainRule | None, str]] = [(r, r.name) for r in self.rules]
        named += [(None, name) for name in (DEADMAN_RULE, *RULE_OF_CHECK)]
        for rule, name in named:
            defaults = getattr(rule, "alarm_defaults", None) if rule is not None else None
            base = cfg.rule_settings(name, defaults if isinstance(defaults, AlarmSettings) else None)
            rows = self._global_of[name] if rule is not None else everyone
            local = self._local_of[name] if rule is not None else rows
            per_row: list[AlarmSettings | None] = [None] * rows.size
            for i in with_alarm:
                if rule is not None and local[i] < 0:
                    continue
                s = reg.sensors[i]
                where = f"sensor {s.sensor_id}"
                over = sensor_overrides(s.params, name, names, where)
                if over:
                    per_row[int(local[i])] = base.merged(over, where)
            ps = PairSettings.build(base, per_row)
            self.pair_settings[name] = ps
            channel = Channel.HAZARD if rule is not None else Channel.SENSOR_FAULT
            groups.append(
                GroupSpec(
                    name,
                    channel,
                    rows,
                    ps.flap_transitions,
                    ps.flap_window_ms,
                    ps.flap_settle_ms,
                    quiet_actions=name in RULE_OF_CHECK,
                )
            )
        self._groups = groups
        self._deadman_g = len(self.rules)  # group of the deadman; the QARTOD checks' groups follow it
        self._quality_g0 = self._deadman_g + 1
        interval = np.zeros(len(reg), dtype=np.int64)
        factor = np.full(len(reg), cfg.deadman.factor, dtype=np.float64)
        for i in keyed:
            s = reg.sensors[i]
            for key, col, scale in (
                ("expected_interval_s", interval, 1000.0),
                ("deadman_factor", factor, 1.0),
            ):
                if key in s.params:
                    raw = s.params[key]
                    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
                        raise LifecycleConfigError(f"sensor {s.sensor_id}: params.{key} must be a number")
                    if raw < 0 or (key == "expected_interval_s" and raw == 0):
                        raise LifecycleConfigError(f"sensor {s.sensor_id}: params.{key} must be > 0")
                    col[i] = math.ceil(raw * scale) if key == "expected_interval_s" else raw
        self._deadman_cfg = DeadmanSettingsArrays(interval, factor, cfg.deadman.learn_interval)
        pairs_of_sensor: dict[int, list[tuple[int, int]]] = {}
        if cfg.agreement.enabled:
            for g, rule in enumerate(self.rules):
                for local, row in enumerate(self._global_of[rule.name].tolist()):
                    pairs_of_sensor.setdefault(row, []).append((g, local))
            pairs_of_sensor = {k: v for k, v in pairs_of_sensor.items() if len(v) >= cfg.agreement.min_rules}
        self._notifier = Notifier(groups, [s.sensor_id for s in reg.sensors], cfg.agreement, pairs_of_sensor)
        self._sites_index: dict[str, list[int]] | None = None  # built on the first action naming a site

    def _sites(self) -> dict[str, list[int]]:
        """Registry rows of every site, ascending."""
        if self._sites_index is None:
            index: dict[str, list[int]] = {}
            for i, s in enumerate(self.registry.sensors):
                if s.site:
                    index.setdefault(s.site, []).append(i)
            self._sites_index = index
        return self._sites_index

    def _cold_alarm(self, capacity: int) -> State:
        return {**ConditionMachine.init_state(capacity), **notify_state(capacity)}

    def _cold_sensors(self, capacity: int) -> State:
        return {
            **Deadman.init_state(capacity),
            **notify_state(capacity),
            **self._quality.init_state(capacity),
        }

    def _state_key(self) -> str:
        lifecycle = f"{_layout(self._cold_alarm(1))}|{_layout(self._cold_sensors(1))}"
        text = "|".join(f"{r.name}={r.state_key()}" for r in self.rules) + f"|{lifecycle}"
        return hashlib.sha256(f"{SNAPSHOT_FORMAT}|{text}".encode()).hexdigest()[:16]

    def rows_of_rule(self, name: str) -> NDArray[np.int32]:
        """Registry rows a rule covers, in its kind-local order."""
        return self._global_of[name]

    # --- state -------------------------------------------------------------------------------------

    def init_state(self) -> EngineState:
        return EngineState(
            rules={name: {k: v.copy() for k, v in st.items()} for name, st in self._cold.items()},
            alarms={
                **{r.name: self._cold_alarm(self._global_of[r.name].size) for r in self.rules},
                **{name: notify_state(len(self.registry)) for name in RULE_OF_CHECK},
            },
            max_ts_ms=NO_TS,
            n_sensors=len(self.registry),
            identity_fingerprint=self.identity_fingerprint,
            params_fingerprint=self.params_fingerprint,
            sensors=self._cold_sensors(len(self.registry)),
        )

    def grow(self, state: EngineState) -> EngineState:
        """A state of this engine from one built for a registry this registry extends or re-parameterises.

        Sensors appended to the registry start cold; the others carry over what they measured and their
        alarm states. Every sensor's ``sp_*`` columns are set from this registry's params, so a changed
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
            _overlay(fresh.sensors, state.sensors),
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
        self,
        state: EngineState,
        rows: Any,
        ts_ms: Any,
        values: Any,
        actions: Iterable[OperatorAction] = (),
        *,
        in_place: bool = False,
    ) -> tuple[list[Alert], EngineState]:
        """Alerts for every announced change in the batch (and for ``actions``) and the new state.

        ``rows`` int32[n] registry rows, ``ts_ms`` int64[n], ``values`` float64[n, 4] (single-channel
        kinds in column 0, multi-channel kinds their channels in riskstream.kinds order, unused NaN; fewer
        columns, or a 1-D array, are padded with NaN). Any order, mixed kinds. ``actions`` are applied
        in ``ts_ms`` order, each after the batch's readings stamped at or before it.

        ``in_place=True``: the caller owns ``state`` and gives it up; the new state is written into its
        arrays and returned (use only the returned state afterwards). Same alerts and new state.
        """
        out = self.evaluate(state, rows, ts_ms, values, actions, in_place=in_place)
        return out.alerts, out.state

    def apply_actions(
        self, state: EngineState, actions: Iterable[OperatorAction], *, in_place: bool = False
    ) -> tuple[list[Alert], EngineState]:
        """Operator actions alone (no readings): their alerts and the new state (``in_place``: as
        :meth:`process`)."""
        empty = np.empty(0, dtype=np.int32)
        out = self.evaluate(
            state, empty, empty.astype(np.int64), np.empty((0, VALUE_COLUMNS)), actions, in_place=in_place
        )
        return out.alerts, out.state

    def tick(
        self, state: EngineState, now_ms: int, *, in_place: bool = False
    ) -> tuple[list[Alert], EngineState]:
        """Move event time on to ``now_ms`` without readings and fire the timers due before it.

        The wall-clock fallback for a partition that has gone idle: the worker calls it with the wall
        clock when no reading arrived for a while, so deadman, escalation and shelve expiry still fire.
        A ``now_ms`` at or before the state's event time changes nothing. ``in_place``: as :meth:`process`.
        """
        self._check_state(state)
        if int(now_ms) <= state.max_ts_ms:
            return [], state
        work = self._work(state, in_place)
        empty = np.empty(0, dtype=np.int64)
        alerts = self._segment(
            work, empty, empty.astype(np.int32), empty, np.empty((0, VALUE_COLUMNS)), int(now_ms)
        )
        return alerts, self._state(work, state)

    def evaluate(
        self,
        state: EngineState,
        rows: Any,
        ts_ms: Any,
        values: Any,
        actions: Iterable[OperatorAction] = (),
        *,
        in_place: bool = False,
    ) -> EngineOutput:
        """:meth:`process` plus each rule's per-reading scores and levels (for sinks)."""
        r, t, v = self._check_batch(state, rows, ts_ms, values)
        acts = sorted(actions, key=lambda a: a.ts_ms)
        if r.size == 0 and not acts:
            return EngineOutput([], state, {})
        work = self._work(state, in_place)
        alerts: list[Alert] = []
        unmatched: list[OperatorAction] = []
        pending = np.ones(r.size, dtype=bool)
        for action in acts:
            seg = np.flatnonzero(pending & (t <= action.ts_ms))
            if seg.size:
                pending[seg] = False
                alerts += self._segment(work, seg, r, t, v)
            got = self._action(work, action)
            if got is None:
                unmatched.append(action)
            else:
                alerts += got
        if pending.any():
            seg = np.flatnonzero(pending) if acts else np.arange(r.size)
            alerts += self._segment(work, seg, r, t, v)
        readings = {
            name: RuleReadings(
                np.concatenate([p[0] for p in parts]),
                np.concatenate([p[1] for p in parts]),
                np.concatenate([p[2] for p in parts]),
            )
            for name, parts in work.readings.items()
            if parts
        }
        return EngineOutput(alerts, self._state(work, state), readings, tuple(unmatched))

    def _work(self, state: EngineState, in_place: bool = False) -> _Work:
        hints = state.hints
        cows = [Cow(state.alarms[r.name], in_place, hints.get(r.name)) for r in self.rules]
        cows.append(Cow(state.sensors, in_place, hints.get(DEADMAN_RULE)))
        cows += [Cow(state.alarms[name], in_place, hints.get(name)) for name in RULE_OF_CHECK]
        return _Work(dict(state.rules), cows, state.max_ts_ms, {r.name: [] for r in self.rules}, in_place)

    def _state(self, work: _Work, old: EngineState) -> EngineState:
        return EngineState(
            work.rules,
            {
                **{r.name: work.cows[g].state() for g, r in enumerate(self.rules)},
                **{name: work.cows[self._quality_g0 + k].state() for k, name in enumerate(RULE_OF_CHECK)},
            },
            work.max_ts_ms,
            old.n_sensors,
            old.identity_fingerprint,
            old.params_fingerprint,
            work.cows[self._deadman_g].state(),
            {spec.name: dict(work.cows[g].hints) for g, spec in enumerate(self._groups)},
        )

    def _segment(
        self,
        work: _Work,
        idx: NDArray[np.int64],
        r: NDArray[np.int32],
        t: NDArray[np.int64],
        v: NDArray[np.float64],
        now_ms: int | None = None,
    ) -> list[Alert]:
        """Readings ``idx`` (no action in between): rules, lifecycle, notifications; event time moves on."""
        whole = idx.size == r.size  # the call's readings, in order (no action in between)
        rr, tt = (r, t) if whole else (r[idx], t[idx])
        vv = v if whole else v[idx]
        v0 = np.ascontiguousarray(vv[:, 0])  # the value of single-channel kinds
        now = max(work.max_ts_ms, int(tt.max()) if tt.size else NO_TS, NO_TS if now_ms is None else now_ms)
        events: list[LevelEvents | None] = [None] * len(self._groups)
        positions: list[NDArray[np.int64] | None] = [None] * len(self._groups)
        outputs: dict[int, tuple[RuleOutput, Batch]] = {}
        no_rows = np.empty(0, dtype=np.int32)
        order = self._kind_order(rr, tt)
        by_kind = self._by_kind(rr, order)
        batches: dict[tuple[frozenset[int], int], tuple[NDArray[np.int64], Batch, NDArray[np.int64]]] = {}
        # --- data quality hook (detectors.quality): flag every reading before the hazard rules -------
        qc = self._quality.run(work.cows[self._deadman_g], rr, tt, v0, order)
        withheld_any, suspect_any = bool(qc.withheld.any()), bool(qc.suspect.any())
        for g, rule in enumerate(self.rules):
            ps = self.pair_settings[rule.name]
            parts = [by_kind[k] for k in self._kind_codes[rule.name] if k in by_kind]
            if withheld_any:  # data quality: a failed reading never reaches the hazard rules
                parts = [q for q in (p[~qc.withheld[p]] for p in parts) if q.size]
            if not parts:
                if not ps.pass_through:
                    events[g] = self._condition.apply(
                        work.cows[g],
                        ps,
                        no_rows,
                        no_rows.astype(np.int64),
                        no_rows.astype(np.int8),
                        no_rows.astype(bool),
                        now,
                    )
                continue
            # rules of the same kinds (and channels) see the same batch: built once per segment
            key = (self._kind_set[rule.name], rule.channels)
            if key not in batches:
                pick = parts[0] if len(parts) == 1 else np.concatenate(parts)
                local = self._local_of[rule.name][rr[pick]]
                if len(parts) > 1:  # merge the kinds' runs: by sensor row, time order kept (unique keys)
                    merged = np.argsort(local.astype(np.int64) * pick.size + np.arange(pick.size))
                    pick, local = pick[merged], local[merged]
                rule_values = vv[pick, : rule.channels] if rule.channels else v0[pick]
                batches[key] = (pick, Batch(local, tt[pick], rule_values), idx[pick])
            pick, batch, pos = batches[key]
            out = rule.evaluate_in_place(work.rule_state(rule.name), batch)
            if suspect_any:  # data quality: a suspect reading cannot raise the pair's level
                out = hold_back(out, batch, qc.suspect[pick], work.cows[g]["level"])
            work.readings[rule.name].append((pos, out.scores, out.levels))
            events[g] = self._condition.apply(
                work.cows[g], ps, batch.rows, batch.ts_ms, out.levels, out.measures.valid, now
            )
            outputs[g] = (out, batch)
            positions[g] = pos
        dg = self._deadman_g
        events[dg] = self._deadman.apply(work.cows[dg], self._deadman_cfg, rr, tt, now)
        positions[dg] = idx
        # data quality: each check's fault changes are its pairs' stage-A levels, announced by stage B
        faults: dict[tuple[int, int], FaultChange] = {}
        if qc.changes:
            for k, ev in enumerate(self._quality.level_events(qc)):
                events[self._quality_g0 + k] = ev
                positions[self._quality_g0 + k] = idx
            faults = {(self._quality_g0 + c.check, c.pos): c for c in qc.changes}
        emissions = self._notifier.run(work.cows, events, now, positions)
        work.max_ts_ms = now
        alerts: list[tuple[Any, Alert]] = [(e, self._alert(e, outputs, faults)) for e in emissions]
        # time order; at one time readings before timers, then by sensor and by the causing reading
        alerts.sort(key=lambda ea: (ea[1].ts_ms, ea[0].phase, ea[1].sensor_id, ea[0].pos, ea[1].rule))
        return [a for _, a in alerts]

    def _kind_order(self, rr: NDArray[np.int32], tt: NDArray[np.int64]) -> NDArray[np.int64]:
        """Positions of the readings sorted by (kind, sensor row, ts_ms), stable: each sensor's readings
        together and in time order, kinds one after another."""
        n = rr.size
        rank = self._kind_rank[rr]  # (kind, row) order
        if 4 * n >= self._kind_rank.size:  # a quarter of the registry or more: O(registry) work is cheap
            # one reading per sensor (a replayed tick): each position goes to its sensor's rank, no sort
            at = np.full(self._kind_rank.size, -1, dtype=np.int64)
            at[rank] = np.arange(n)
            order = at[at >= 0]
            if order.size == n:  # every rank once: this is the sorted order
                return order
        if n <= 1 or bool(np.all(tt[1:] >= tt[:-1])):
            # already in time order: by (kind, row), then position; the keys are unique, so the fast
            # unstable sort gives the stable order
            return np.argsort(rank * n + np.arange(n))
        return np.lexsort((tt, rank))

    def _by_kind(self, rr: NDArray[np.int32], order: NDArray[np.int64]) -> dict[int, NDArray[np.int64]]:
        """Positions of the readings of each kind (code), each sorted by (sensor row, ts_ms), stable;
        ``order`` is :meth:`_kind_order`."""
        if order.size == 0:
            return {}
        codes = self._kind_code[rr[order]]
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        ends = np.r_[starts[1:], codes.size]
        return {int(codes[a]): order[a:b] for a, b in zip(starts, ends, strict=True)}

    # --- operator actions --------------------------------------------------------------------------

    def _action(self, work: _Work, action: OperatorAction) -> list[Alert] | None:
        event = _ACTION_EVENT[action.action]
        pairs = self._resolve(work, action.target)
        if pairs is None:
            return None
        cows = work.cows
        if event == AlertEvent.ACK:
            pairs = [
                (g, row)
                for g, row in pairs
                if cows[g]["final"][row] > 0
                or cows[g]["shown"][row] > 0
                or (g < self._deadman_g and cows[g]["latch"][row] > 0)
            ]
        elif event == AlertEvent.UNSHELVE:
            pairs = [
                (g, row)
                for g, row in pairs
                if cows[g]["shelved_until"][row] != NO_DUE or cows[g]["maint_until"][row] != NO_DUE
            ]
        until = action.until_ts_ms if event in (AlertEvent.SHELVE, AlertEvent.MAINTENANCE) else None
        note = reasons.action(
            _ACTION_VERB[event], action.by, until if until is not None else None, action.note
        )
        emissions = self._notifier.act(cows, event, pairs, action.ts_ms, until, note, work.max_ts_ms)
        if event == AlertEvent.ACK:
            events: list[LevelEvents | None] = [None] * len(self._groups)
            for g, rule in enumerate(self.rules):
                rows = np.array([row for g2, row in pairs if g2 == g], dtype=np.int32)
                if rows.size:
                    events[g] = self._condition.release_latch(
                        cows[g], self.pair_settings[rule.name], rows, action.ts_ms
                    )
            emissions += self._notifier.run(cows, events, work.max_ts_ms)
        return [self._alert(e, {}) for e in emissions]

    def _resolve(self, work: _Work, target: str) -> list[tuple[int, int]] | None:
        """Pairs an action's target names: a sensor id, a site, or an alert id (its pair). None: nothing."""
        rows: list[int] | None = None
        if target in self.registry.index:
            rows = [self.registry.index[target]]
        elif target in self._sites():
            rows = self._sites()[target]
        if rows is not None:
            pairs: list[tuple[int, int]] = []
            watched = self._deadman_cfg.watched
            for row in rows:
                for g, rule in enumerate(self.rules):
                    local = int(self._local_of[rule.name][row])
                    if local >= 0:
                        pairs.append((g, local))
                if watched[row]:
                    pairs.append((self._deadman_g, row))
                pairs += [(self._quality_g0 + k, row) for k in range(len(RULE_OF_CHECK))]
            return pairs
        if _HEX_ID.fullmatch(target):
            prefix = np.uint64(alert_id_prefix(target))
            found = []
            for g, c in enumerate(work.cows):
                hit = np.flatnonzero((c["last_id"] == prefix) | (c["open_id"] == prefix))
                found += [(int(self._groups[g].sensor_rows[row]), g, int(row)) for row in hit]
            if found:
                return [(g, row) for _, g, row in sorted(found)]
        return None

    # --- alerts ------------------------------------------------------------------------------------

    def _alert(
        self,
        e: Emission,
        outputs: dict[int, tuple[RuleOutput, Batch]],
        faults: Mapping[tuple[int, int], FaultChange] | None = None,
    ) -> Alert:
        spec = self._groups[e.group]
        sensor = self.registry.sensors[int(spec.sensor_rows[e.row])]
        hazard = spec.channel == Channel.HAZARD
        label = (lambda x: Level(x).label) if hazard else (lambda x: FaultLevel(x).label)
        prev, level = label(e.previous), label(e.level)
        value: float | None = None
        reason: str
        if e.event in (AlertEvent.TRANSITION, AlertEvent.FLAPPING):
            reason, value, complete = self._reason(e, spec, sensor, outputs, faults or {})
        else:
            reason, complete = e.note, False
        if not complete:
            reason += reasons.tail(prev, level, spec.name, sensor.sensor_id)
        return Alert(
            alert_id=e.alert_id,
            event=e.event,
            channel=spec.channel,
            sensor_id=sensor.sensor_id,
            site=sensor.site,
            area=sensor.area,
            family=sensor.family.value,
            kind=sensor.kind,
            rule=spec.name,
            level=level,
            previous_level=prev,
            ts_ms=e.ts_ms,
            value=value if value is not None and math.isfinite(value) else None,
            reason=reason,
            config_version=self.config_version,
        )

    def _reason(
        self,
        e: Emission,
        spec: GroupSpec,
        sensor: Sensor,
        outputs: dict[int, tuple[RuleOutput, Batch]],
        faults: Mapping[tuple[int, int], FaultChange],
    ) -> tuple[str, float | None, bool]:
        """Reason, value and whether the reason is already complete (a rule's own sentence)."""
        where = where_of(sensor)
        value: float | None = None
        text = ""
        fault = faults.get((e.group, e.index)) if e.index >= 0 else None
        if fault is not None and e.cause == Cause.READING and e.event == AlertEvent.TRANSITION:
            return self._quality.reason(fault, sensor), fault.value, True
        if e.index >= 0 and e.group in outputs and e.cause in (Cause.READING, Cause.AGREEMENT):
            rule = self.rules[e.group]
            out, _batch = outputs[e.group]
            ctx = rule.context(
                out.state, e.row, sensor.sensor_id, where, e.level, e.previous, out.measures, e.index
            )
            value = rule.alert_value(ctx)
            if e.cause == Cause.READING and e.event == AlertEvent.TRANSITION:
                return rule.describe(ctx), value, True
        ps = self.pair_settings[spec.name]
        if e.cause == Cause.ESCALATION:
            held = int(ps.escalate_after_ms[e.row, max(e.level - 1, 0)])
            text = reasons.escalation(Level(max(e.level - 1, 0)).label, held)
        elif e.cause == Cause.DEESCALATION:
            text = reasons.deescalation(int(ps.deescalate_step_ms[e.row]))
        elif e.cause == Cause.ACK:
            text = reasons.latch_released(Level(e.level).label)
        elif e.cause == Cause.DEADMAN:
            cfg = self._deadman_cfg
            factor = float(cfg.factor[e.row])
            interval = e.value / factor if factor > 0 else float("nan")
            text = reasons.deadman_fault(where, e.value, factor, interval)
            value = e.value / 1000.0
        elif e.cause == Cause.RESUMED:
            text = reasons.deadman_resumed(where, e.value)
            value = e.value / 1000.0
        elif e.cause == Cause.AGREEMENT:
            text = reasons.agreement(e.note, e.level > e.previous)
        elif e.cause == Cause.FLAP_END:
            text = reasons.flap_end(int(ps.flap_settle_ms[e.row]))
        elif e.cause == Cause.UNSUPPRESS:
            text = reasons.unsuppressed("notifications resumed")
        else:
            text = "level changed"
        if e.event == AlertEvent.FLAPPING:
            text = reasons.flapping(
                int(ps.flap_transitions[e.row]), int(ps.flap_window_ms[e.row]), int(ps.flap_settle_ms[e.row])
            )
        return text, value, False

    # --- input checks ------------------------------------------------------------------------------

    def _check_state(self, state: EngineState) -> None:
        if (state.n_sensors, state.identity_fingerprint, state.params_fingerprint) != (
            len(self.registry),
            self.identity_fingerprint,
            self.params_fingerprint,
        ):
            raise StateKeyMismatchError(
                "state was built for another registry or other params; use Engine.grow"
            )

    def _check_batch(
        self, state: EngineState, rows: Any, ts_ms: Any, values: Any
    ) -> tuple[NDArray[np.int32], NDArray[np.int64], NDArray[np.float64]]:
        self._check_state(state)
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
        arrays.update({f"sensor/-/{k}": a for k, a in state.sensors.items()})
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
            alarms: dict[str, State] = {name: {} for name in [*(r.name for r in self.rules), *RULE_OF_CHECK]}
            sensors: State = {}
            for key in data.files:
                if key == "__meta__":
                    continue
                part, name, col = key.split("/", 2)
                if part == "sensor":
                    sensors[col] = data[key].copy()
                else:
                    (rules if part == "rule" else alarms)[name][col] = data[key].copy()
        n_saved = int(meta["n_sensors"])
        for rule in self.rules:  # memo columns (derived, left out of the state key) a snapshot may lack
            if any(is_memo(k) for k in self._cold[rule.name]) and rule.name in rules:
                saved = int(np.count_nonzero(self._local_of[rule.name][:n_saved] >= 0))
                rules[rule.name] = with_memos(rules[rule.name], rule.init_state(saved))
        state = EngineState(
            rules,
            alarms,
            int(meta["max_ts_ms"]),
            int(meta["n_sensors"]),
            str(meta["identity_fingerprint"]),
            str(meta["params_fingerprint"]),
            sensors,
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
        for name in RULE_OF_CHECK:
            if set(state.alarms[name]) != set(cold.alarms[name]):
                raise StateKeyMismatchError(f"snapshot alarm state of {name} has other columns")
            if any(a.shape[0] != state.n_sensors for a in state.alarms[name].values()):
                raise StateKeyMismatchError(f"snapshot alarm state of {name} does not have all sensors' rows")
        if set(state.sensors) != set(cold.sensors):
            raise StateKeyMismatchError("snapshot sensor state has other columns")
        if any(a.shape[0] != state.n_sensors for a in state.sensors.values()):
            raise StateKeyMismatchError(f"snapshot sensor state does not have {state.n_sensors} rows")


def _overlay(fresh: State, old: State) -> State:
    """``fresh`` with its first rows replaced by ``old``, except the ``sp_*`` set points (kept fresh)."""
    out = {k: v.copy() for k, v in fresh.items()}
    for k, v in old.items():
        if not k.startswith("sp_"):
            out[k][: v.shape[0]] = v
    return out
