"""Two-sided standardised CUSUM: a sustained shift of the level, small per reading but adding up.

The reference is a slow exponentially weighted mean/variance (weight ``alpha``) learned from the sensor
itself (self-starting). Once ``count >= min_count``, each reading's deviation is standardised,
``z = (x - mean) / max(std, min_std)`` (clipped to ``±z_clip`` so one absurd value cannot saturate the
sums), and accumulated: ``s_hi = max(0, s_hi + z - k)``, ``s_lo = max(0, s_lo - z - k)``. Score =
``max(s_hi, s_lo)`` in units of standard deviations, compared with the decision interval ``h`` (4-5
is usual) by a level policy. The reference keeps learning, so after a permanent shift the sums fall
back as the mean catches up (about ``1/alpha`` readings). Page-Hinkley without forgetting is the same
recursion (``PH_t = max(0, PH_{t-1} + x - mean - delta)``) in value units.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State
from detectors.generic.common import (
    GenericDetector,
    StepGrid,
    finite_part,
    nan_scores,
    quiet_float_errors,
    require_fraction,
)
from detectors.generic.ewma_z import EwSteps, cannot_overflow, ew_step, learn_in_place, warm


@dataclass(frozen=True, slots=True)
class CusumParams:
    k: float = 0.5
    alpha: float = 0.01
    min_count: int = 30
    min_std: float = 1e-9
    z_clip: float = 1e6

    def __post_init__(self) -> None:
        require_fraction("alpha", self.alpha)
        if self.min_count < 1:
            raise ValueError("min_count must be >= 1")
        if not (self.k >= 0 and self.min_std >= 0 and self.z_clip > 0):
            raise ValueError("k and min_std must be >= 0, z_clip > 0")


class Cusum(GenericDetector[CusumParams]):
    """Self-starting two-sided CUSUM on the standardised value."""

    name: ClassVar[str] = "cusum"

    def init_state(self, capacity: int) -> State:
        return {
            "mean": np.zeros(capacity, dtype=np.float64),
            "var": np.zeros(capacity, dtype=np.float64),
            "count": np.zeros(capacity, dtype=np.int64),
            "s_hi": np.zeros(capacity, dtype=np.float64),
            "s_lo": np.zeros(capacity, dtype=np.float64),
        }

    @quiet_float_errors
    def _advance(self, state: State, batch: Batch) -> NDArray[np.float64]:
        p = self.params
        scores = nan_scores(len(batch))
        sub = finite_part(batch)  # a non-finite reading scores NaN and changes nothing: drop it here
        if sub is None:
            return scores
        index, rows, values = sub
        grid = StepGrid.of(rows)
        cols = grid.gather(state, _COLUMNS)
        mean, var, count = cols[:3]
        if p.min_std > 0 and warm(count, p.min_count) and cannot_overflow(values, mean, var):
            scores[index] = grid.scan(values, cols, _CusumSteps(count, p))
            count += grid.runs.lengths
        else:
            scores[index] = grid.scan(values, cols, functools.partial(_cusum_step_general, p=p))
        grid.scatter(state, _COLUMNS, cols)
        return scores

    @classmethod
    def conformance_examples(cls) -> Sequence[Cusum]:
        return (cls(CusumParams()), cls(CusumParams(alpha=0.2, min_count=3, k=0.25)))


_COLUMNS = ("mean", "var", "count", "s_hi", "s_lo")


class _CusumSteps(EwSteps):
    """Steps when every row is warm, ``min_std > 0`` and every reading is learned: every reading moves
    the sums. Same floating-point operations, in the same order, as :func:`_cusum_step_general`."""

    def __init__(self, count: NDArray[np.int64], p: CusumParams) -> None:
        super().__init__(count, p.alpha)
        self.p = p
        self.diff, self.sd, self.z = (np.empty(count.size) for _ in range(3))

    def __call__(
        self, k: int, x: NDArray[np.float64], cols: list[NDArray[Any]], out: NDArray[np.float64]
    ) -> None:
        p = self.p
        mean, var, count, s_hi, s_lo = cols
        d, sd, z = self.diff[: x.size], self.sd[: x.size], self.z[: x.size]
        np.subtract(x, mean, out=d)
        np.sqrt(var, out=sd)
        np.maximum(sd, p.min_std, out=sd)
        np.divide(d, sd, out=z)
        np.clip(z, -p.z_clip, p.z_clip, out=z)  # z is finite here: the same as max then min
        s_hi += z
        s_hi -= p.k
        np.maximum(s_hi, 0.0, out=s_hi)
        s_lo -= z
        s_lo -= p.k
        np.maximum(s_lo, 0.0, out=s_lo)
        np.maximum(s_hi, s_lo, out=out)
        self.learn(k, count, mean, var, d)


def _cusum_step_general(
    k: int, x: NDArray[np.float64], cols: list[NDArray[Any]], out: NDArray[np.float64], p: CusumParams
) -> None:
    """One step with every case handled: cold rows and undefined ``z`` leave the sums (NaN score)."""
    mean, var, count, s_hi, s_lo = cols
    diff = x - mean
    sd = np.sqrt(var)
    np.maximum(sd, p.min_std, out=sd)
    z = diff / sd
    np.maximum(z, -p.z_clip, out=z)
    np.minimum(z, p.z_clip, out=z)
    active = _active_rows(count, z, p)
    new_hi = s_hi + z
    new_hi -= p.k
    np.maximum(new_hi, 0.0, out=new_hi)
    new_lo = s_lo - z
    new_lo -= p.k
    np.maximum(new_lo, 0.0, out=new_lo)
    if active is None:
        s_hi[:], s_lo[:] = new_hi, new_lo
        np.maximum(new_hi, new_lo, out=out)
    else:
        np.copyto(s_hi, new_hi, where=active)
        np.copyto(s_lo, new_lo, where=active)
        out[:] = np.nan
        out[active] = np.maximum(new_hi[active], new_lo[active])
    new_mean, new_var = ew_step(mean, var, count, diff, p.alpha)
    learn_in_place(mean, var, count, new_mean, new_var)


def _active_rows(
    count: NDArray[np.int64], z: NDArray[np.float64], p: CusumParams
) -> NDArray[np.bool_] | None:
    """Rows whose sums move: warm and a defined ``z``; None when that is all of them."""
    active = None
    if count.size and int(count.min()) < p.min_count:
        active = count >= p.min_count
    if p.min_std <= 0:  # 0 / 0 is possible only without a floor on the standard deviation
        defined = ~np.isnan(z)
        active = defined if active is None else active & defined
    if active is not None and active.all():
        return None
    return active
