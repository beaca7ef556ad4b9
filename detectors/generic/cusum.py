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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State
from detectors.generic.common import (
    GenericDetector,
    nan_scores,
    quiet_float_errors,
    reading_steps,
    require_fraction,
)
from detectors.generic.ewma_z import ew_step, store_learned


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
        mean, var, count, s_hi, s_lo = (state[k] for k in ("mean", "var", "count", "s_hi", "s_lo"))
        finite = np.isfinite(batch.values)
        all_finite = bool(finite.all())
        for idx in reading_steps(batch):
            r = batch.rows[idx]
            x = batch.values[idx]
            m, v, c = mean[r], var[r], count[r]
            diff = x - m
            sd = np.sqrt(v)
            np.maximum(sd, p.min_std, out=sd)
            z = diff / sd
            np.maximum(z, -p.z_clip, out=z)
            np.minimum(z, p.z_clip, out=z)
            active = _active_rows(c, z, finite[idx] if not all_finite else None, p)
            hi, lo = s_hi[r], s_lo[r]
            new_hi = hi + z
            new_hi -= p.k
            np.maximum(new_hi, 0.0, out=new_hi)
            new_lo = lo - z
            new_lo -= p.k
            np.maximum(new_lo, 0.0, out=new_lo)
            if active is None:
                s_hi[r], s_lo[r] = new_hi, new_lo
                scores[idx] = np.maximum(new_hi, new_lo)
            else:
                s_hi[r[active]], s_lo[r[active]] = new_hi[active], new_lo[active]
                scores[idx[active]] = np.maximum(new_hi[active], new_lo[active])
            new_m, new_v = ew_step(m, v, c, diff, p.alpha)
            store_learned(state, r, c, new_m, new_v)
        return scores

    @classmethod
    def conformance_examples(cls) -> Sequence[Cusum]:
        return (cls(CusumParams()), cls(CusumParams(alpha=0.2, min_count=3, k=0.25)))


def _active_rows(
    count: NDArray[np.int64], z: NDArray[np.float64], finite: NDArray[np.bool_] | None, p: CusumParams
) -> NDArray[np.bool_] | None:
    """Rows whose sums move: warm, finite value, and a defined ``z``; None when that is all of them."""
    active = None
    if count.size and int(count.min()) < p.min_count:
        active = count >= p.min_count
    if p.min_std <= 0:  # 0 / 0 is possible only without a floor on the standard deviation
        defined = ~np.isnan(z)
        active = defined if active is None else active & defined
    if finite is not None:
        active = finite if active is None else active & finite
    if active is not None and active.all():
        return None
    return active
