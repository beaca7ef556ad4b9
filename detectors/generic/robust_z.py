"""Rolling robust z-score: distance from the median of the sensor's last ``window`` readings, in MADs.

Per sensor a ring buffer of the last ``window`` finite values. Score =
``|x - median| / max(1.4826 * MAD, min_scale)`` over the buffer *before* the reading (1.4826 makes the
MAD a standard-deviation estimate for Gaussian noise), NaN until the buffer holds ``min_count`` values.
Median and MAD resist the outliers they are looking for, unlike a mean and standard deviation, so a
burst of spikes does not hide the next one. A flat buffer (MAD 0) scores any change by ``min_scale``,
i.e. very high: the first move of a stuck signal is news.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State
from detectors.generic import ring
from detectors.generic.common import GenericDetector, nan_scores, quiet_float_errors, reading_steps

#: MAD -> standard deviation for Gaussian noise (1 / Phi^-1(3/4))
MAD_TO_STD = 1.4826


@dataclass(frozen=True, slots=True)
class RobustZParams:
    window: int = 32
    min_count: int = 8
    min_scale: float = 1e-9

    def __post_init__(self) -> None:
        if not 1 <= self.min_count <= self.window:
            raise ValueError("need 1 <= min_count <= window")
        if not self.min_scale > 0:
            raise ValueError("min_scale must be > 0")


class RobustZ(GenericDetector[RobustZParams]):
    """Median/MAD z-score over a per-sensor ring buffer."""

    name: ClassVar[str] = "robust_z"

    def init_state(self, capacity: int) -> State:
        return ring.cold_ring(capacity, self.params.window)

    @quiet_float_errors
    def _advance(self, state: State, batch: Batch) -> NDArray[np.float64]:
        p = self.params
        scores = nan_scores(len(batch))
        finite = np.isfinite(batch.values)
        all_finite = bool(finite.all())
        for idx in reading_steps(batch):
            r = batch.rows[idx]
            x = batch.values[idx]
            filled = state["filled"][r]
            med, mad = ring.median_and_mad_rows_inplace(state["buf"][r], filled)
            mad *= MAD_TO_STD
            np.maximum(mad, p.min_scale, out=mad)
            z = x - med
            np.abs(z, out=z)
            z /= mad
            z[filled < p.min_count] = np.nan
            if all_finite:
                ring.push(state, r, x)
            else:
                ok = finite[idx]
                z[~ok] = np.nan
                ring.push(state, r[ok], x[ok])
            scores[idx] = z
        return scores

    @classmethod
    def conformance_examples(cls) -> Sequence[RobustZ]:
        return (cls(RobustZParams()), cls(RobustZParams(window=5, min_count=3)))
