"""Base of the standard-grounded domain rules: a physical measure plus the shared level latch.

A domain rule is a :class:`detectors.base.Detector` whose score is a physical measure (%LEL, mm of rain,
speed ratio, tangent angle, %/min of pressure drop). Its level comes from a separate policy,
:class:`detectors.domain.policy.LevelLatch`, fed with per-sensor set points read from the registry
``params`` into ``sp_<key>`` state columns (defaults from the rule's parameter object).

Subclasses implement:

* ``_init_measure_state(capacity)`` - the measure's own arrays (previous value, rings, …);
* ``_measure(state, batch, steps)`` - the per-reading :class:`Measures`, updating ``state`` in place
  (the owner's state under :meth:`evaluate_in_place`, a copy under the pure :meth:`evaluate`); it writes
  only the rows of the batch and never the ``sp_*`` set points;
* ``_thresholds(state, rows)`` - per-reading :class:`LevelThresholds` from the ``sp_*`` columns;
* ``describe(ctx)`` - the operator-facing reason of a level change.
"""

from __future__ import annotations

import itertools
import math
from abc import abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, Detector, State, copy_learned, copy_state, sequential_steps
from detectors.domain.policy import N_LEVELS, LevelLatch, LevelThresholds
from riskstream.kinds import kind_spec
from riskstream.schemas import Level

P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class Measures:
    """What a rule measured for each reading of a batch (batch order).

    ``score`` is the rule's physical measure (NaN = not available). ``per_level[:, k-1]`` is the measure
    compared with level k's set point. ``valid`` False means the reading carries no usable information
    (non-finite input, or a stale instantaneous value older than the sensor's newest): its level is the
    sensor's current level and it does not count towards persistence. ``gate`` is an extra condition per
    level that must hold to raise it (the "rising" of the gas red level). ``extra`` holds rule-specific
    arrays used in alert reasons.
    """

    score: NDArray[np.float64]
    per_level: NDArray[np.float64]
    valid: NDArray[np.bool_]
    gate: NDArray[np.bool_] | None = None
    extra: Mapping[str, NDArray[Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RuleOutput:
    """Scores, levels and measures of every reading (batch order) and the rule's new state."""

    scores: NDArray[np.float64]
    levels: NDArray[np.int8]
    measures: Measures
    state: State


@dataclass(frozen=True, slots=True)
class TransitionContext:
    """Everything a rule needs to explain one level change to an operator."""

    sensor_id: str
    where: str
    level: int
    previous: int
    score: float
    per_level: NDArray[np.float64]
    set_points: NDArray[np.float64]
    clear_points: NDArray[np.float64]
    sustain: float
    sp: Mapping[str, float]
    extra: Mapping[str, Any]

    @property
    def rising(self) -> bool:
        return self.level > self.previous


def fmt(x: float, digits: int = 2) -> str:
    """A number for a human: at most ``digits`` decimals, no trailing zeros."""
    if x is None or not math.isfinite(x):
        return "n/a"
    text = f"{x:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def readings_text(n: int) -> str:
    """``1 reading``, ``12 readings``."""
    return f"{int(n)} reading" if int(n) == 1 else f"{int(n)} readings"


def level_label(level: int) -> str:
    return Level(int(level)).label


class SensorParamError(ValueError):
    """A sensor's registry ``params`` value that a rule cannot use."""


class DomainRule(Detector[P]):
    """A standard-grounded rule: measure (score) + :class:`LevelLatch` (decision)."""

    #: sensor kinds the rule applies to
    kinds: ClassVar[tuple[str, ...]]
    #: channel of a multi-channel kind the rule reads (None = single-channel value)
    channel: ClassVar[str | None] = None
    #: source cited in reasons and docs
    source: ClassVar[str]
    #: unit of the score
    unit: ClassVar[str]
    #: per-sensor parameter keys (registry ``params``) -> ``sp_<key>``; defaults come from ``self.params``
    sensor_keys: ClassVar[tuple[str, ...]]
    #: keys whose values must be whole numbers ≥ 1 (reading counts)
    count_keys: ClassVar[tuple[str, ...]] = ()
    #: a non-finite reading is dropped: NaN score, state and level as if it had never been sent
    skips_non_finite: ClassVar[bool] = True

    # --- state -------------------------------------------------------------------------------------

    def init_state(self, capacity: int) -> State:
        state: State = {
            f"sp_{k}": np.full(capacity, float(getattr(self.params, k)), dtype=np.float64)
            for k in self.sensor_keys
        }
        state.update(LevelLatch.init_state(capacity))
        state.update(self._init_measure_state(capacity))
        return state

    @abstractmethod
    def _init_measure_state(self, capacity: int) -> State: ...

    def configure(
        self, state: State, sensor_params: Sequence[Mapping[str, Any]], labels: Sequence[str]
    ) -> State:
        """New state whose ``sp_*`` columns hold each sensor's params (row order), defaults elsewhere.

        ``labels`` names each row in error messages (the sensor id). Unknown keys are ignored: a sensor's
        params serve several rules and the simulator.
        """
        if len(sensor_params) != self.capacity(state) or len(labels) != len(sensor_params):
            raise ValueError("configure needs one params mapping and one label per state row")
        new = copy_state(state)
        # rows by the keys their params hold: sensors of a kind mostly share one set of keys, so which
        # rows hold a key is decided once per set, not once per sensor
        by_keys: dict[tuple[str, ...], list[int]] = {}
        for i, params in enumerate(sensor_params):
            if params:
                by_keys.setdefault(tuple(params), []).append(i)
        for key in self.sensor_keys:  # key order, then row order: the first bad value raises
            groups = [rows for keys, rows in by_keys.items() if key in keys]
            if groups:
                rows = groups[0] if len(groups) == 1 else sorted(itertools.chain.from_iterable(groups))
                raw = [sensor_params[i][key] for i in rows]
                new[f"sp_{key}"][rows] = self._param_values(key, raw, rows, labels)
        self._check_sensor_columns(new, labels)
        return new

    def _param_values(
        self, key: str, raw: list[Any], rows: list[int], labels: Sequence[str]
    ) -> NDArray[np.float64]:
        """:meth:`_param_value` of many values at once (the first bad one raises, as one by one);
        ``raw[i]`` belongs to state row ``rows[i]``, named ``labels[rows[i]]``."""
        plain = set(map(type, raw)) <= {int, float}  # exact types: never bool (a subclass of int)
        values = np.array(raw, dtype=np.float64) if plain else np.zeros(len(raw))
        bad = ~np.isfinite(values) if plain else np.ones(len(raw), dtype=bool)
        if key in self.count_keys:
            bad |= (values < 1) | (values != np.floor(values))
        for i in np.flatnonzero(bad).tolist():  # the slow checks name the first bad value, or accept it
            values[i] = self._param_value(labels[rows[i]], key, raw[i])
        return values

    def _param_value(self, label: str, key: str, raw: Any) -> float:
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(float(raw)):
            raise SensorParamError(f"sensor {label}: params.{key} must be a finite number, got {raw!r}")
        value = float(raw)
        if key in self.count_keys and (value < 1 or value != int(value)):
            raise SensorParamError(f"sensor {label}: params.{key} must be a whole number ≥ 1, got {raw!r}")
        return value

    def _check_sensor_columns(self, state: State, labels: Sequence[str]) -> None:
        """Rule-specific consistency checks of the ``sp_*`` columns (raise :class:`SensorParamError`)."""

    @staticmethod
    def _first_bad(mask: NDArray[np.bool_], labels: Sequence[str]) -> str | None:
        bad = np.flatnonzero(mask)
        return labels[int(bad[0])] if bad.size else None

    def _reject_first_bad(
        self, checks: Iterable[tuple[NDArray[np.bool_], str]], labels: Sequence[str]
    ) -> None:
        """Raise :class:`SensorParamError` naming the first sensor of the first ``(mask, message)`` check
        that some sensor fails (``mask`` true = the sensor fails it)."""
        for mask, message in checks:
            bad = self._first_bad(mask, labels)
            if bad is not None:
                raise SensorParamError(f"sensor {bad}: {self.name} {message}")

    # --- evaluation --------------------------------------------------------------------------------

    @abstractmethod
    def _measure(self, state: State, batch: Batch, steps: list[NDArray[np.int64]]) -> Measures: ...

    @abstractmethod
    def _thresholds(self, state: State, rows: NDArray[np.int32]) -> LevelThresholds: ...

    def input_values(self, batch: Batch) -> NDArray[np.float64]:
        """The rule's input column: ``values`` itself, or its ``channel`` column for multi-channel kinds."""
        values = batch.values
        return values if values.ndim == 1 else values[:, self.channel_index]

    @property
    def channel_index(self) -> int:
        """Column of ``channel`` in the kinds' channel order (riskstream.kinds), 0 for single-channel."""
        if self.channel is None:
            return 0
        orders = {kind_spec(k).channels for k in self.kinds}
        if len(orders) != 1:
            raise ValueError(f"{self.name}: kinds {self.kinds} disagree on their channels")
        return orders.pop().index(self.channel)

    def evaluate(self, state: State, batch: Batch) -> RuleOutput:
        """Scores and levels of every reading (batch order) and the new state; ``state`` is not touched.

        The pure form of :meth:`evaluate_in_place`: it first copies the learned columns (the ``sp_*`` set
        points, never written by a batch, are shared with the new state), which costs O(capacity) per call.
        """
        if len(batch) == 0:
            return self.evaluate_in_place(state, batch)  # nothing is written: the state is shared
        return self.evaluate_in_place(copy_learned(state), batch)

    def evaluate_in_place(self, state: State, batch: Batch) -> RuleOutput:
        """:meth:`evaluate` for the owner of ``state``: the new state is written into ``state`` itself.

        Same scores, levels, measures and new state as :meth:`evaluate`, without the copy; the returned
        ``state`` is ``state``. For a caller that drops the old state anyway (the engine's in-place path:
        replay, the stream worker). Only the rows of the batch are written.

        A large batch is evaluated in pieces of whole sensors (:meth:`chunk_rows` sensors each) whose
        working arrays stay in the CPU cache; sensors never see each other (sensor isolation), so the
        outputs are exactly those of one piece.
        """
        cuts = _row_chunks(batch.rows, self.chunk_rows())
        if len(cuts) <= 2:
            return self._evaluate_piece(state, batch)
        outs = [self._evaluate_piece(state, batch.take(slice(a, b))) for a, b in itertools.pairwise(cuts)]
        return _concat_outputs(outs, state)

    #: bytes of per-sensor state that one piece of :meth:`evaluate_in_place` may work on
    CHUNK_STATE_BYTES: ClassVar[int] = 4 << 20
    #: fewest sensors per piece: a rule's step makes a hundred or more numpy calls whatever the piece
    #: size, so below this their fixed cost outweighs what the smaller state saves in cache misses
    #: (rules with 2-4 kB of state per sensor: 1024-sensor pieces cost 10 % more than 4096-sensor ones)
    MIN_CHUNK_ROWS: ClassVar[int] = 4096

    def chunk_rows(self) -> int:
        """Sensors per piece of a large batch: as many as keep :data:`CHUNK_STATE_BYTES` of state."""
        cached: int | None = getattr(self, "_chunk_rows", None)
        if cached is None:
            row_bytes = sum(a.nbytes for a in self.init_state(1).values())
            cached = max(self.MIN_CHUNK_ROWS, self.CHUNK_STATE_BYTES // max(row_bytes, 1))
            self._chunk_rows = cached
        return int(cached)

    def _evaluate_piece(self, state: State, batch: Batch) -> RuleOutput:
        n = len(batch)
        steps = sequential_steps(batch)
        measures = self._measure(state, batch, steps)
        levels = np.zeros(n, dtype=np.int8)
        if n:
            thr = self._thresholds(state, batch.rows)
            if len(steps) == 1:  # one reading per sensor: the step is the whole batch, in order
                levels = LevelLatch.apply_step(
                    state, batch.rows, measures.per_level, thr, measures.valid, measures.gate
                )
                return RuleOutput(measures.score, levels, measures, state)
            for idx in steps:
                gate = None if measures.gate is None else measures.gate[idx]
                levels[idx] = LevelLatch.apply_step(
                    state, batch.rows[idx], measures.per_level[idx], thr.take(idx), measures.valid[idx], gate
                )
        return RuleOutput(measures.score, levels, measures, state)

    def step(self, state: State, batch: Batch) -> tuple[NDArray[np.float64], State]:
        out = self.evaluate(state, batch)
        return out.scores, out.state

    def step_in_place(self, state: State, batch: Batch) -> NDArray[np.float64]:
        """Like :meth:`step`, but writes the new state into ``state``; returns the scores."""
        return self.evaluate_in_place(state, batch).scores

    def levels_of(self, state: State) -> NDArray[np.int8]:
        """Current level of every row."""
        return state[LevelLatch.LEVEL]

    # --- explanation -------------------------------------------------------------------------------

    def context(
        self,
        state: State,
        row: int,
        sensor_id: str,
        where: str,
        level: int,
        previous: int,
        measures: Measures,
        i: int,
    ) -> TransitionContext:
        """The :class:`TransitionContext` of reading ``i`` (batch order) of local ``row``."""
        rows = np.array([row], dtype=np.int32)
        thr = self._thresholds(state, rows)
        sp = {k: float(state[f"sp_{k}"][row]) for k in self.sensor_keys}
        extra = {k: v[i].item() if hasattr(v[i], "item") else v[i] for k, v in measures.extra.items()}
        return TransitionContext(
            sensor_id=sensor_id,
            where=where,
            level=int(level),
            previous=int(previous),
            score=float(measures.score[i]),
            per_level=measures.per_level[i],
            set_points=thr.set_points[0],
            clear_points=thr.clear_points[0],
            sustain=float(thr.sustain[0]),
            sp=sp,
            extra=extra,
        )

    def alert_value(self, ctx: TransitionContext) -> float | None:
        """The measure reported in the alert's ``value`` (the score by default; None when not available)."""
        return ctx.score if math.isfinite(ctx.score) else None

    @abstractmethod
    def describe(self, ctx: TransitionContext) -> str:
        """A reason an operator can act on: what, where, how far over the set point, rule and source."""


def _row_chunks(rows: NDArray[np.int32], size: int) -> list[int]:
    """Cut points of a batch sorted by row into pieces of about ``size`` readings, at row boundaries."""
    n = int(rows.size)
    if n <= size + size // 2:
        return [0, n]
    cuts = [0]
    pos = size
    while pos < n - size // 2:
        cut = int(np.searchsorted(rows, rows[pos], side="left"))
        if cut <= cuts[-1]:  # one sensor with more readings than a piece: keep it whole
            cut = int(np.searchsorted(rows, rows[pos], side="right"))
        if cut >= n:
            break
        cuts.append(cut)
        pos = cut + size
    cuts.append(n)
    return cuts


def _concat_outputs(outs: Sequence[RuleOutput], state: State) -> RuleOutput:
    """One :class:`RuleOutput` from those of consecutive pieces of a batch (batch order kept)."""
    first = outs[0].measures
    gates = [o.measures.gate for o in outs]
    measures = Measures(
        score=np.concatenate([o.measures.score for o in outs]),
        per_level=np.concatenate([o.measures.per_level for o in outs]),
        valid=np.concatenate([o.measures.valid for o in outs]),
        gate=None if any(g is None for g in gates) else np.concatenate(gates),  # type: ignore[arg-type]
        extra={k: np.concatenate([o.measures.extra[k] for o in outs]) for k in first.extra},
    )
    if any(g is None for g in gates) and not all(g is None for g in gates):
        raise ValueError("a rule's pieces disagree on whether they gate levels")
    scores = np.concatenate([o.scores for o in outs])
    levels = np.concatenate([o.levels for o in outs])
    return RuleOutput(scores, levels, measures, state)


def measure_at(ctx: TransitionContext, level: int) -> float:
    """The measure compared at ``level`` (1..4) for this reading."""
    return float(ctx.per_level[level - 1])


def stack_levels(*cols: NDArray[np.float64]) -> NDArray[np.float64]:
    """``(n, 4)`` per-level measures from four columns (blue, yellow, orange, red)."""
    if len(cols) != N_LEVELS:
        raise ValueError("one column per level: blue, yellow, orange, red")
    return np.stack(cols, axis=1)


def quantity(x: float, unit: str, digits: int = 2) -> str:
    """``57.3 %LEL``, ``86.2°``."""
    return f"{fmt(x, digits)}{unit}" if unit.startswith("°") else f"{fmt(x, digits)} {unit}"


def change_reason(
    ctx: TransitionContext,
    rule: str,
    what: tuple[str, ...],
    set_names: tuple[str, ...],
    unit: str,
    source: str,
    detail: str = "",
    digits: int = 2,
) -> str:
    """The common reason sentence of a level change.

    Up: ``<what> <measure> at <where> ≥ <set name> <set point> by <excess> (<source>)<detail>``.
    Down: ``<what> <measure> at <where> < <set name> clear point <clear> (<source>)<detail>`` (just
    ``<set name> <set point>`` when the level has no hysteresis).
    Both end with ``; <previous> → <level> [rule <rule>, sensor <id>]``. ``what`` and ``set_names`` are
    indexed by level - 1.
    """
    k = ctx.level if ctx.rising else ctx.previous
    m = measure_at(ctx, k)
    if not math.isfinite(m):
        head = f"{what[k - 1]} not computable at {ctx.where} ({source})"
    elif ctx.rising:
        s = float(ctx.set_points[k - 1])
        head = (
            f"{what[k - 1]} {quantity(m, unit, digits)} at {ctx.where} ≥ {set_names[k - 1]} "
            f"{quantity(s, unit, digits)} by {quantity(m - s, unit, digits)} ({source})"
        )
    else:
        c = float(ctx.clear_points[k - 1])
        point = "" if c == float(ctx.set_points[k - 1]) else " clear point"  # no hysteresis: the set point
        head = (
            f"{what[k - 1]} {quantity(m, unit, digits)} at {ctx.where} < {set_names[k - 1]}{point} "
            f"{quantity(c, unit, digits)} ({source})"
        )
    change = f"{level_label(ctx.previous)} → {level_label(ctx.level)}"
    return f"{head}{detail}; {change} [rule {rule}, sensor {ctx.sensor_id}]"


def previous_valid(
    rows: NDArray[np.int32], valid: NDArray[np.bool_], x: NDArray[np.float64], carried: NDArray[np.float64]
) -> NDArray[np.float64]:
    """For each reading (sorted by row), the value of the same sensor's previous valid reading.

    Within the batch that is the nearest earlier valid reading of the row; before the row's first valid
    reading it is ``carried`` (the state's previous value, per reading). Vectorised forward fill.
    """
    n = rows.size
    if n == 0:
        return np.empty(0, dtype=np.float64)
    idx = np.where(valid, np.arange(n), -1)
    last_upto = np.maximum.accumulate(idx)
    before = np.r_[-1, last_upto[:-1]]
    same_row = (before >= 0) & (rows[np.maximum(before, 0)] == rows)
    return np.where(same_row, x[np.maximum(before, 0)], carried)


def last_valid_per_row(rows: NDArray[np.int32], valid: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Index of the last valid reading of each row that has one (rows sorted)."""
    vidx = np.flatnonzero(valid)
    if vidx.size == 0:
        return vidx
    vr = rows[vidx]
    return vidx[np.r_[vr[1:] != vr[:-1], True]]
