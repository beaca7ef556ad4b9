"""Major-hazard-source (重大危险源, MHS) weighting of the hazchem rules: a level-1/2 facility escalates.

A facility's MHS level is a static attribute (domain-thresholds.md §1): R = α·Σ(βᵢ·qᵢ/Qᵢ) with the
GB 18218-2018 threshold quantities Qᵢ, and the classes of 原安监总局令第40号 Annex 1: R ≥ 100 → level 1
([S]); 50 ≤ R < 100 → level 2, 10 ≤ R < 50 → level 3, R < 10 → level 4 ([M]). The same regulation
(Art. 13) asks more of level-1 and level-2 sources (independent SIS for toxic/liquefied gas, emergency
shut-off in tank farms), which is the ground for weighting their alarms higher.

The weighting is our proposal ([P], no standard maps MHS levels to warning colours):

* MHS level 1: every colour one higher (blue → yellow, yellow → orange, orange → red), capped at red;
* MHS level 2: yellow and above one higher (a blue "attention" stays blue), capped at red;
* MHS levels 3, 4 and sensors without a level: no change.

Registry ``params``: ``mhs_level`` (1..4; 0 or absent = not classified) or ``r_value`` (R, ≥ 0), from
which the level is derived when ``mhs_level`` is absent. Both given must agree.

The rule's own level policy (latch, hysteresis) runs on the unweighted colour; the weighting maps each
reading's colour afterwards, so hysteresis and persistence stay those of the standard.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar, TypeVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State
from detectors.domain.policy import LevelLatch
from detectors.domain.rule import DomainRule, RuleOutput, SensorParamError, TransitionContext, level_label

#: R-value classes (lower bound of R, MHS level), most severe first; below the last bound: level 4
R_CLASSES: tuple[tuple[float, int], ...] = ((100.0, 1), (50.0, 2), (10.0, 3))
#: lowest colour each MHS level raises by one (5 = none); index = MHS level (0 = not classified)
ESCALATE_FROM: tuple[int, ...] = (5, 1, 2, 5, 5)
MHS_SOURCE = "原安监总局令第40号 Annex 1 R classes, weighting [P]"
MHS_KEYS: tuple[str, ...] = ("mhs_level", "r_value")
_RED = 4

P = TypeVar("P")


def mhs_level_from_r(r_value: NDArray[np.float64]) -> NDArray[np.int8]:
    """MHS level (1..4) of each R value; 0 where R is NaN (not given)."""
    r = np.asarray(r_value, dtype=np.float64)
    level = np.full(r.shape, 4, dtype=np.int8)
    for bound, lv in reversed(R_CLASSES):
        level = np.where(r >= bound, np.int8(lv), level)
    return np.where(np.isnan(r), np.int8(0), level).astype(np.int8)


def effective_mhs_level(mhs_level: NDArray[np.float64], r_value: NDArray[np.float64]) -> NDArray[np.int8]:
    """``mhs_level`` where given (≥ 1), else the level of ``r_value`` (0 when neither)."""
    return np.where(mhs_level >= 1, mhs_level, mhs_level_from_r(r_value)).astype(np.int8)


def escalate(levels: NDArray[np.int8], mhs: NDArray[np.int8]) -> NDArray[np.int8]:
    """Colours after the MHS weighting (see module docstring)."""
    start = np.asarray(ESCALATE_FROM, dtype=np.int8)[np.clip(mhs, 0, 4)]
    up = (levels >= start) & (levels > 0)
    return np.where(up, np.minimum(levels + 1, _RED), levels).astype(np.int8)


def r_class_text(level: int) -> str:
    return {1: "R ≥ 100", 2: "50 ≤ R < 100", 3: "10 ≤ R < 50", 4: "R < 10"}.get(level, "")


class MhsWeighted(DomainRule[P]):
    """Mixin of the hazchem rules: the parameter object has ``mhs_level`` and ``r_value`` fields.

    Subclasses list :data:`MHS_KEYS` in ``sensor_keys``, call ``super()._check_sensor_columns`` and
    implement :meth:`describe_levels` (the reason on the unweighted colours).
    """

    mhs_keys: ClassVar[tuple[str, ...]] = MHS_KEYS

    def _check_sensor_columns(self, state: State, labels: Sequence[str]) -> None:
        lv, r = state["sp_mhs_level"], state["sp_r_value"]
        bad_level = ~np.isin(lv, (0.0, 1.0, 2.0, 3.0, 4.0))
        bad = self._first_bad(bad_level, labels)
        if bad is not None:
            raise SensorParamError(f"sensor {bad}: {self.name} needs mhs_level in 1..4 (0 = not classified)")
        bad = self._first_bad(r < 0, labels)
        if bad is not None:
            raise SensorParamError(f"sensor {bad}: {self.name} needs r_value ≥ 0")
        from_r = mhs_level_from_r(r)
        bad = self._first_bad((lv >= 1) & (from_r >= 1) & (from_r != lv), labels)
        if bad is not None:
            raise SensorParamError(f"sensor {bad}: {self.name} mhs_level disagrees with the class of r_value")

    def mhs_levels(self, state: State, rows: NDArray[np.int32]) -> NDArray[np.int8]:
        return effective_mhs_level(state["sp_mhs_level"][rows], state["sp_r_value"][rows])

    def evaluate_in_place(self, state: State, batch: Batch) -> RuleOutput:
        rows = batch.rows
        before = state[LevelLatch.LEVEL][rows]  # read before the batch writes the state
        out = super().evaluate_in_place(state, batch)
        n = len(batch)
        if n == 0:
            return out
        base = out.levels
        mhs = self.mhs_levels(out.state, rows)
        weighted = escalate(base, mhs)
        # the unweighted colour before each reading: the previous reading of the row, else the state's
        first = np.r_[True, rows[1:] != rows[:-1]]
        base_prev = np.where(first, before, np.r_[np.int8(0), base[:-1]]).astype(np.int8)
        extra = {**out.measures.extra, "base_level": base, "base_previous": base_prev, "mhs_level": mhs}
        return RuleOutput(out.scores, weighted, replace(out.measures, extra=extra), out.state)

    @abstractmethod
    def describe_levels(self, ctx: TransitionContext) -> str:
        """The reason on the rule's own (unweighted) colours ``ctx.previous`` → ``ctx.level``."""

    def describe(self, ctx: TransitionContext) -> str:
        mhs = int(ctx.extra.get("mhs_level", 0))
        base, base_prev = (
            int(ctx.extra.get("base_level", ctx.level)),
            int(ctx.extra.get("base_previous", ctx.previous)),
        )
        weighted = escalate(np.array([base, base_prev], dtype=np.int8), np.full(2, mhs, dtype=np.int8))
        consistent = (int(weighted[0]), int(weighted[1])) == (ctx.level, ctx.previous)
        if (base, base_prev) == (ctx.level, ctx.previous) or not consistent:
            return self.describe_levels(ctx)
        if base == base_prev:  # weighting changed under a steady colour (registry edit)
            change = f"{level_label(ctx.previous)} → {level_label(ctx.level)}"
            return (
                f"weighting changed: major hazard source level {mhs} ({r_class_text(mhs)}, {MHS_SOURCE}); "
                f"{change} [rule {self.name}, sensor {ctx.sensor_id}]"
            )
        reason = self.describe_levels(replace(ctx, level=base, previous=base_prev))
        head, _, _ = reason.rpartition("; ")
        r_text = r_class_text(mhs)
        weight = (
            f"; weighted one colour up ({level_label(base)} → {level_label(ctx.level)}): major hazard source "
            f"level {mhs} ({r_text}, {MHS_SOURCE})"
            if ctx.level != base
            else ""
        )
        change = f"{level_label(ctx.previous)} → {level_label(ctx.level)}"
        return f"{head}{weight}; {change} [rule {self.name}, sensor {ctx.sensor_id}]"
