"""Exponentially weighted mean/variance z-score: how unusual a value is against the sensor's recent level.

Per sensor: ``mean``, ``var`` (exponentially weighted, weight ``alpha`` per reading) and ``count``.
Score = ``|x - mean| / max(sqrt(var), min_std)`` against the state *before* the reading (no look-ahead),
NaN until ``count >= min_count``. Update, with ``w = max(alpha, 1 / (count + 1))``:
``diff = x - mean; mean += w * diff; var = (1 - w) * (var + w * diff**2)`` (West's incremental form;
the ``1 / (count + 1)`` part makes the first ``1/alpha`` readings a plain running mean and variance,
so a slow ``alpha`` does not start from a variance near zero). A non-finite reading scores NaN and is
not learned; a finite one so large that the update would overflow is scored but not learned.
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


@dataclass(frozen=True, slots=True)
class EwmaZParams:
    alpha: float = 0.05
    min_count: int = 10
    min_std: float = 1e-9

    def __post_init__(self) -> None:
        require_fraction("alpha", self.alpha)
        if self.min_count < 1:
            raise ValueError("min_count must be >= 1")
        if not self.min_std >= 0:
            raise ValueError("min_std must be >= 0")


class EwmaZ(GenericDetector[EwmaZParams]):
    """Exponentially weighted z-score."""

    name: ClassVar[str] = "ewma_z"

    def init_state(self, capacity: int) -> State:
        return {
            "mean": np.zeros(capacity, dtype=np.float64),
            "var": np.zeros(capacity, dtype=np.float64),
            "count": np.zeros(capacity, dtype=np.int64),
        }

    @quiet_float_errors
    def _advance(self, state: State, batch: Batch) -> NDArray[np.float64]:
        p = self.params
        scores = nan_scores(len(batch))
        mean, var, count = state["mean"], state["var"], state["count"]
        finite = np.isfinite(batch.values)
        all_finite = bool(finite.all())
        for idx in reading_steps(batch):
            r = batch.rows[idx]
            x = batch.values[idx]
            m, v, c = mean[r], var[r], count[r]
            diff = x - m
            sd = np.sqrt(v)
            np.maximum(sd, p.min_std, out=sd)
            z = np.abs(diff)
            z /= sd
            if c.size and c.min() < p.min_count:
                z[c < p.min_count] = np.nan
            if not all_finite:
                z[~finite[idx]] = np.nan
            scores[idx] = z
            new_m, new_v = ew_step(m, v, c, diff, p.alpha)
            store_learned(state, r, c, new_m, new_v)
        return scores

    @classmethod
    def conformance_examples(cls) -> Sequence[EwmaZ]:
        return (cls(EwmaZParams()), cls(EwmaZParams(alpha=0.3, min_count=2)))


def ew_step(
    mean: NDArray[np.float64],
    var: NDArray[np.float64],
    count: NDArray[np.int64],
    diff: NDArray[np.float64],
    alpha: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """One exponentially weighted mean/variance step; ``diff = x - mean``, weight ``max(alpha, 1/(count+1))``.

    While ``count < 1/alpha`` the weight is that of a plain running mean/variance, so a slow ``alpha``
    does not start from a variance biased towards zero. A cold row has ``mean == 0``, so the first
    value (weight 1) becomes the mean exactly.
    """
    if count.size and 1.0 / (int(count.min()) + 1.0) <= alpha:  # all past warm-up: the weight is alpha
        wd = alpha * diff
        new_mean = mean + wd
        wd *= diff
        wd += var
        wd *= 1.0 - alpha
        return new_mean, wd
    w = 1.0 / (count + 1.0)
    np.maximum(w, alpha, out=w)
    wd = w * diff
    new_mean = mean + wd
    new_var = var + wd * diff
    new_var *= 1.0 - w
    return new_mean, new_var


def store_learned(
    state: State,
    rows: NDArray[np.int32],
    count: NDArray[np.int64],
    new_mean: NDArray[np.float64],
    new_var: NDArray[np.float64],
) -> None:
    """Write the learned mean/var/count of ``rows``, skipping rows whose update is not finite.

    A non-finite value, or a finite one so large that the update overflows, makes ``new_var`` NaN or
    inf (``new_mean`` cannot overflow without ``new_var`` doing so), and that row keeps its old state.
    """
    learn = np.isfinite(new_var)
    if learn.all():
        state["mean"][rows] = new_mean
        state["var"][rows] = new_var
        state["count"][rows] = count + 1
    else:
        state["mean"][rows[learn]] = new_mean[learn]
        state["var"][rows[learn]] = new_var[learn]
        state["count"][rows[learn]] = count[learn] + 1
