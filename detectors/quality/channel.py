"""The data-quality channel of the engine: QARTOD flags before the hazard rules, sensor_fault alerts.

:class:`QualityChannel` is what :class:`detectors.engine.Engine` calls for every segment of readings
(see docs/detectors/quality.md):

1. :meth:`QualityChannel.run` flags every reading (:class:`detectors.quality.checks.QartodQuality`,
   registry rows, per-sensor set points from each sensor's kind and registry ``params``);
2. the engine withholds ``fail`` (4) readings from the hazard rules (no state update, no level) and
   caps the level of a ``suspect`` (3) reading at its (sensor, rule)'s current level
   (:func:`hold_back`): a flagged reading can lower or clear a hazard but never escalate it;
3. per (sensor, check) a ``sensor_fault`` alert is emitted on each transition (normal → fault on a
   flag 3 or 4, fault → normal on the next flag 1; flag 2 keeps the state): rule ``qartod_<check>``.
   These alerts carry no hazard colour and feed no hazard rule.

State lives in the engine's per-sensor state (``EngineState.sensors``): learned columns ``qc_*``, set
points ``sp_qc_*`` (refreshed from the registry by ``Engine.grow``), transition state ``qc_fault``.
Gap/timing is the lifecycle's deadman (rule ``deadman``), not repeated here.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State
from detectors.domain.rule import RuleOutput
from detectors.generic.common import reading_steps
from detectors.lifecycle.common import Cause, Cow, LevelEvents, Phase
from detectors.quality.checks import (
    CHECKS,
    FAIL,
    GROSS_RANGE,
    PASS,
    RATE_OF_CHANGE,
    SPIKE,
    SUSPECT,
    QartodQuality,
    QualityFlags,
    QualityParams,
)
from detectors.quality.tables import PARAM_NAMES, defaults_of
from riskstream.kinds import KINDS
from riskstream.registry import Registry, Sensor

#: rule names of the checks on the sensor_fault channel
RULE_OF_CHECK: tuple[str, ...] = tuple(f"qartod_{c}" for c in CHECKS)
_FLAG_WORD = {SUSPECT: "suspect (QARTOD flag 3)", FAIL: "fail (QARTOD flag 4)"}
_FAULT = "qc_fault"


@dataclass(frozen=True, slots=True)
class FaultChange:
    """One sensor_fault transition of a (sensor, check)."""

    pos: int  # position of the causing reading in the segment
    row: int  # registry row
    check: int
    previous: int
    level: int
    flag: int
    measure: float
    value: float
    ts_ms: int


@dataclass(frozen=True, slots=True)
class QualityResult:
    """Flags of a segment's readings (segment order) and the transitions they caused."""

    flags: NDArray[np.int8]  # (n, 4)
    withheld: NDArray[np.bool_]  # any check failed: the hazard rules never see the reading
    suspect: NDArray[np.bool_]  # worst flag suspect: may not escalate a hazard level
    changes: list[FaultChange]


class QualityChannel:
    """QARTOD checks of every sensor of a registry, as engine state columns and fault transitions."""

    def __init__(self, registry: Registry, params: QualityParams | None = None) -> None:
        self.registry = registry
        self.detector = QartodQuality(params or QualityParams())
        n = len(registry)
        self._set_points = {name: np.empty(n, dtype=np.float64) for name in PARAM_NAMES}
        for kind in set(registry.kinds.tolist()):
            rows = registry.rows_of_kind(kind)
            base = defaults_of(kind)
            for name in PARAM_NAMES:
                self._set_points[name][rows] = float(getattr(base, name))
        names = frozenset(PARAM_NAMES)
        for i, s in enumerate(registry.sensors):
            if not s.params or names.isdisjoint(s.params):
                continue
            for name in names & s.params.keys():
                raw = s.params[name]
                if raw is None:
                    raw = math.nan
                if isinstance(raw, bool) or not isinstance(raw, int | float):
                    raise ValueError(f"sensor {s.sensor_id}: params.{name} must be a number or null")
                self._set_points[name][i] = float(raw)

    # --- state -------------------------------------------------------------------------------------

    def init_state(self, capacity: int) -> State:
        """Cold ``qc_*`` / ``sp_qc_*`` columns; the registry's set points fill its rows."""
        cold = self.detector.init_state(capacity)
        out: State = {}
        k = min(capacity, len(self.registry))
        for key, col in cold.items():
            if key.startswith("sp_"):
                col[:k] = self._set_points[key[3:]][:k]
                out["sp_qc_" + key[3:]] = col
            else:
                out["qc_" + key] = col
        out[_FAULT] = np.zeros((capacity, len(CHECKS)), dtype=np.int8)
        return out

    def _view(self, cow: Cow) -> State:
        view: State = {}
        for key in self.detector.init_state(0):
            if key.startswith("sp_"):
                view[key] = cow["sp_qc_" + key[3:]]
            else:
                view[key] = cow.w("qc_" + key)
        return view

    # --- per segment -------------------------------------------------------------------------------

    def run(
        self,
        cow: Cow,
        rows: NDArray[np.int32],
        ts_ms: NDArray[np.int64],
        values: NDArray[np.float64],
        order: NDArray[np.int64] | None = None,
    ) -> QualityResult:
        """Flags of the readings (registry rows, any order; ``values`` = channel 0) and fault changes.

        ``order`` (optional) lists the readings with each sensor's together and in time order, ties in
        input order (the engine passes its own sort by kind, row and time); without it they are sorted
        here by (row, ts). The checks never mix sensors, so any such order gives the same flags and
        changes; for the same reason they run on pieces of :data:`PIECE_READINGS` readings (whole
        sensors) whose state stays in the CPU cache.
        """
        n = rows.size
        if n == 0:
            none = np.zeros(0, dtype=bool)
            return QualityResult(np.zeros((0, 4), dtype=np.int8), none, none, [])
        if order is None:
            order = np.lexsort((ts_ms, rows))
        batch = Batch(rows[order], ts_ms[order], values[order])
        view = self._view(cow)
        sorted_flags = np.empty((n, len(CHECKS)), dtype=np.int8)
        worst = np.empty(n, dtype=np.int8)  # the highest flag of each reading (flags are 1..4)
        changes: list[FaultChange] = []
        for a, b in sensor_pieces(batch.rows, PIECE_READINGS):
            piece = batch if b - a == n else batch.take(slice(a, b))
            q = self.detector.flags_in_place(view, piece)
            sorted_flags[a:b] = q.flags
            np.maximum(np.maximum(q.flags[:, 0], q.flags[:, 1]), q.flags[:, 2], out=worst[a:b])
            np.maximum(worst[a:b], q.flags[:, 3], out=worst[a:b])
            changes += self._changes(cow, piece, q, worst[a:b], order[a:b])
        changes.sort(key=lambda c: (c.pos, c.check))
        withheld = np.empty(n, dtype=bool)
        withheld[order] = worst == FAIL  # any check failed
        suspect = np.empty(n, dtype=bool)
        suspect[order] = worst == SUSPECT  # the worst flag suspect: none failed
        flags = np.empty_like(sorted_flags)
        flags.view(np.int32)[order] = sorted_flags.view(np.int32)  # a reading's 4 flags as one word
        return QualityResult(flags, withheld, suspect, changes)

    def _changes(
        self,
        cow: Cow,
        batch: Batch,
        q: QualityFlags,
        worst: NDArray[np.int8],
        positions: NDArray[np.int64],
    ) -> list[FaultChange]:
        """Fault transitions of a batch (sorted by sensor and time) whose flags are ``q`` (``worst``: each
        reading's highest); updates ``qc_fault``. ``positions`` are the readings' places in the segment.

        A (sensor, check) changes on a flag 3 or 4 while normal, or a flag 1 while in fault: only the
        readings with such a flag, or of a sensor with a fault open, are looked at.
        """
        changes: list[FaultChange] = []
        steps = reading_steps(batch)
        for idx in steps:
            whole = len(steps) == 1  # one reading per sensor: no gathers
            r = batch.rows if whole else batch.rows[idx]
            hot = ((worst if whole else worst[idx]) >= SUSPECT) | _open_fault(cow[_FAULT], r)
            if not hot.any():
                continue
            idx, r = idx[hot], r[hot]
            f = q.flags[idx]
            cur = cow[_FAULT][r]
            new = np.where(f >= SUSPECT, 1, np.where(f == PASS, 0, cur)).astype(np.int8)
            diff = np.argwhere(new != cur)
            if diff.size:
                cow.w(_FAULT)[r] = new
            for i, c in diff.tolist():
                j = int(idx[i])
                changes.append(
                    FaultChange(
                        int(positions[j]),
                        int(r[i]),
                        int(c),
                        int(cur[i, c]),
                        int(new[i, c]),
                        int(f[i, c]),
                        float(q.measures[j, c]),
                        float(batch.values[j]),
                        int(batch.ts_ms[j]),
                    )
                )
        return changes

    # --- alerts ------------------------------------------------------------------------------------

    def level_events(self, result: QualityResult) -> list[LevelEvents | None]:
        """The fault changes of a segment as stage-A level changes, one :class:`LevelEvents` per check
        (None where a check did not change): stage B (:mod:`detectors.lifecycle.notify`) turns them into
        alerts, so data-quality faults are acknowledged, shelved, put in maintenance and flap-suppressed
        like every other pair. ``index`` is the causing reading's place in the segment."""
        out: list[LevelEvents | None] = [None] * len(CHECKS)
        if not result.changes:
            return out
        by_check: list[list[FaultChange]] = [[] for _ in CHECKS]
        for ch in result.changes:
            by_check[ch.check].append(ch)
        for check, changes in enumerate(by_check):
            if not changes:
                continue
            changes.sort(key=lambda c: (c.ts_ms, c.pos))  # per (sensor, check): the order they happened
            n = len(changes)
            out[check] = LevelEvents(
                np.array([c.row for c in changes], dtype=np.int32),
                np.array([c.ts_ms for c in changes], dtype=np.int64),
                np.array([c.previous for c in changes], dtype=np.int8),
                np.array([c.level for c in changes], dtype=np.int8),
                np.full(n, Cause.READING, dtype=np.int8),
                np.full(n, Phase.READING, dtype=np.int8),
                np.array([c.pos for c in changes], dtype=np.int64),
                np.full(n, np.nan),
            )
        return out

    def reason(self, ch: FaultChange, s: Sensor) -> str:
        """What the check found, against which limit, and what to do (QARTOD reference)."""
        unit = KINDS[s.kind].unit if s.kind in KINDS else ""
        where = s.site or s.area or s.sensor_id
        sp = self._set_points
        r, x = ch.row, ch.value
        head = f"sensor {s.sensor_id} at {where}: "
        if ch.level == 0:
            return head + (
                f"QARTOD {CHECKS[ch.check].replace('_', ' ')} check passes again (value {x:g} {unit}); "
                f"readings are used by the hazard rules again; sensor fault → normal"
            )
        word = _FLAG_WORD.get(ch.flag, f"flag {ch.flag}")
        held = "withheld from the hazard rules" if ch.flag == FAIL else "cannot escalate a hazard level"
        if ch.check == GROSS_RANGE:
            what = (
                f"value {x:g} {unit} outside the sensor span {sp['span_min'][r]:g}..{sp['span_max'][r]:g} "
                f"{unit} (QARTOD gross range test)"
            )
            act = "check wiring, power and calibration; set params span_min/span_max if the span differs"
        elif ch.check == SPIKE:
            what = (
                f"value {x:g} {unit} departs {ch.measure:g} {unit} from the median of its recent readings, "
                f"over the spike limit {sp['spike_suspect'][r]:g} / {sp['spike_fail'][r]:g} {unit} "
                "(QARTOD spike test, streaming variant)"
            )
            act = "check the sensor for interference or a loose contact"
        elif ch.check == RATE_OF_CHANGE:
            what = (
                f"value {x:g} {unit} changed at {ch.measure:g} {unit}/s, over the limit "
                f"{sp['roc_limit_per_s'][r]:g} {unit}/s (QARTOD rate of change test)"
            )
            act = "confirm on site or with a neighbouring sensor before trusting a rise"
        else:
            what = (
                f"value stuck at {x:g} {unit} (within ±{sp['flat_tolerance'][r]:g}) for {ch.measure:g} s, "
                f"limits suspect {sp['flat_suspect_n'][r]:g} readings / {sp['flat_suspect_s'][r]:g} s, fail "
                f"{sp['flat_fail_n'][r]:g} readings / {sp['flat_fail_s'][r]:g} s (QARTOD flat line test)"
            )
            act = "bump-test or replace the sensor; a stuck sensor cannot report a hazard"
        return head + f"{word}: {what}; the reading is {held}; {act}; sensor fault (no hazard colour)"


def hold_back(
    out: RuleOutput, batch: Batch, suspect: NDArray[np.bool_], level: NDArray[np.int8]
) -> RuleOutput:
    """``out`` with every suspect reading's level capped at its (sensor, rule)'s current level.

    ``batch`` is the rule's batch (kind-local rows, sorted by row and time), ``suspect`` per reading,
    ``level`` the pairs' stage-A levels before the batch. The current level of a reading is that of the
    sensor's previous reading in the batch (after capping), else the pair's level: a suspect reading
    can keep, lower or clear a level, never raise it.
    """
    if not suspect.any():
        return out
    levels = out.levels.copy()
    current = level.astype(np.int8, copy=True)
    for idx in reading_steps(batch):
        r = batch.rows[idx]
        lv = levels[idx]
        capped = np.where(suspect[idx], np.minimum(lv, current[r]), lv)
        levels[idx] = capped
        current[r] = capped
    return dataclasses.replace(out, levels=levels)


#: readings per piece of :meth:`QualityChannel.run` (whole sensors): the state they touch stays in cache
PIECE_READINGS = 16_384


def sensor_pieces(rows: NDArray[np.int32], size: int) -> list[tuple[int, int]]:
    """``(start, stop)`` pieces of about ``size`` readings of a batch whose sensors' readings are
    together (``rows`` grouped, in any row order), each cut where a sensor's run begins."""
    n = int(rows.size)
    if n <= size + size // 2:
        return [(0, n)]
    run_starts = np.flatnonzero(rows[1:] != rows[:-1]) + 1
    if run_starts.size == 0:  # one sensor: a single piece
        return [(0, n)]
    wanted = np.arange(size, n - size // 2, size)
    cuts = np.unique(run_starts[np.minimum(np.searchsorted(run_starts, wanted), run_starts.size - 1)])
    bounds = [0, *(int(c) for c in cuts if c > 0), n]
    return list(itertools.pairwise(bounds))


def _open_fault(fault: NDArray[np.int8], rows: NDArray[np.int32]) -> NDArray[np.bool_]:
    """Whether any check of each of ``rows`` is in fault (a ``(capacity, checks)`` column)."""
    if fault.flags.c_contiguous and fault.shape[1:] == (4,) and fault.itemsize == 1:
        return fault.view(np.int32)[rows, 0] != 0  # a row's four flags as one 32-bit word
    return (fault[rows] != 0).any(axis=1)
