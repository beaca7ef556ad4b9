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
        sub = finite_part(batch)  # a non-finite reading scores NaN and is not learned: drop it here
        if sub is None:
            return scores
        index, rows, values = sub
        grid = StepGrid.of(rows)
        cols = grid.gather(state, _COLUMNS)
        mean, var, count = cols
        if warm(count, p.min_count) and cannot_overflow(values, mean, var):
            scores[index] = grid.scan(values, cols, _EwZSteps(count, p))
            count += grid.runs.lengths
        else:
            scores[index] = grid.scan(values, cols, functools.partial(_ew_z_step_general, p=p))
        grid.scatter(state, _COLUMNS, cols)
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


#: with every value, mean and variance magnitude below these, no update of a batch can overflow
_SAFE_VALUE = 1e100
_SAFE_VAR = 1e200


def warm(count: NDArray[np.int64], min_count: int) -> bool:
    """Every row has ``min_count`` readings, so every reading of the batch is scored."""
    return count.size == 0 or int(count.min()) >= min_count


def cannot_overflow(values: NDArray[np.float64], mean: NDArray[np.float64], var: NDArray[np.float64]) -> bool:
    """True when no update of this batch can produce inf/NaN, so every finite reading is learned.

    With ``|x|, |mean| <= 1e100`` and ``var <= 1e200``: ``|diff| <= 2e100``, ``diff**2 <= 4e200``, the
    mean stays a convex combination (within rounding) and the variance grows by at most ``4e200`` per
    reading, far below the float64 limit for any batch size.
    """
    if values.size == 0 or mean.size == 0:
        return True
    lim = _SAFE_VALUE
    return bool(
        -lim <= values.min()
        and values.max() <= lim
        and -lim <= mean.min()
        and mean.max() <= lim
        and var.max() <= _SAFE_VAR
    )


class EwSteps:
    """The mean/variance update of :func:`ew_step` for a step of a :class:`StepGrid` scan in which every
    reading is learned (finite, cannot overflow), in place and without temporaries.

    The count of a row at step ``k`` is then its count before the batch (``count``, unchanged during the
    scan) plus ``k``, so the weights ``max(alpha, 1 / (count + 1))`` need no per-step bookkeeping.
    """

    def __init__(self, count: NDArray[np.int64], alpha: float) -> None:
        self.alpha = alpha
        self.fixed = count.size == 0 or 1.0 / (int(count.min()) + 1.0) <= alpha  # w = alpha everywhere
        self.tmp = np.empty(count.size)
        self.weights = np.empty(count.size)

    def learn(
        self,
        k: int,
        count: NDArray[np.int64],
        mean: NDArray[np.float64],
        var: NDArray[np.float64],
        diff: NDArray[np.float64],
    ) -> None:
        """``mean += w diff``, ``var = (1 - w)(var + w diff²)`` on the first ``mean.size`` rows."""
        width = mean.size
        t = self.tmp[:width]
        if self.fixed:
            np.multiply(self.alpha, diff, out=t)
            mean += t
            t *= diff
            var += t
            var *= 1.0 - self.alpha
            return
        w = self.weights[:width]
        np.add(count, k + 1.0, out=w)  # count + 1.0 with count = count before the batch + k
        np.divide(1.0, w, out=w)
        np.maximum(w, self.alpha, out=w)
        np.multiply(w, diff, out=t)
        mean += t
        t *= diff
        var += t
        np.subtract(1.0, w, out=w)
        var *= w


_COLUMNS = ("mean", "var", "count")


class _EwZSteps(EwSteps):
    """Steps of the z-score when every row is warm and every reading is learned (see ``EwSteps``)."""

    def __init__(self, count: NDArray[np.int64], p: EwmaZParams) -> None:
        super().__init__(count, p.alpha)
        self.min_std = p.min_std
        self.diff = np.empty(count.size)
        self.sd = np.empty(count.size)

    def __call__(
        self, k: int, x: NDArray[np.float64], cols: list[NDArray[Any]], out: NDArray[np.float64]
    ) -> None:
        mean, var, count = cols
        d, sd = self.diff[: x.size], self.sd[: x.size]
        np.subtract(x, mean, out=d)
        np.sqrt(var, out=sd)
        np.maximum(sd, self.min_std, out=sd)
        np.abs(d, out=out)
        out /= sd
        self.learn(k, count, mean, var, d)


def _ew_z_step_general(
    k: int, x: NDArray[np.float64], cols: list[NDArray[Any]], out: NDArray[np.float64], p: EwmaZParams
) -> None:
    """One step with every case handled: rows not yet warm score NaN; an overflowing update is skipped."""
    mean, var, count = cols
    diff = x - mean
    sd = np.sqrt(var)
    np.maximum(sd, p.min_std, out=sd)
    np.abs(diff, out=out)
    out /= sd
    if int(count.min()) < p.min_count:
        out[count < p.min_count] = np.nan
    new_mean, new_var = ew_step(mean, var, count, diff, p.alpha)
    learn_in_place(mean, var, count, new_mean, new_var)


def learn_in_place(
    mean: NDArray[np.float64],
    var: NDArray[np.float64],
    count: NDArray[np.int64],
    new_mean: NDArray[np.float64],
    new_var: NDArray[np.float64],
) -> None:
    """Take the new mean/var/count where the update is finite; elsewhere the row keeps its old state.

    A finite value so large that the update overflows makes ``new_var`` NaN or inf (``new_mean``
    cannot overflow without ``new_var`` doing so), and that row learns nothing.
    """
    learn = np.isfinite(new_var)
    if learn.all():
        mean[:] = new_mean
        var[:] = new_var
        count += 1
    else:
        np.copyto(mean, new_mean, where=learn)
        np.copyto(var, new_var, where=learn)
        count += learn
