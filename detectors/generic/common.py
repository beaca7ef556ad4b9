"""Shared mechanics of the generic detectors: pure ``step``, an owning ``step_in_place``, set points.

Every generic detector implements one method, ``_advance(state, batch) -> scores``, which applies the
batch to ``state`` in place (vectorised over all sensors per k-th reading, see
:func:`detectors.base.sequential_steps`). The base class turns it into:

* ``step(state, batch)``: the pure contract of :class:`detectors.base.Detector`. It copies the learned
  arrays first (O(capacity) memory traffic per batch) and never touches the caller's arrays.
* ``step_in_place(state, batch)``: the same scores and the same new state, written into ``state``.
  For a caller that owns the state and would drop the old one anyway (a stream worker), it saves the
  copy, which dominates the cost of a batch when capacity is much larger than the batch.

Set-point columns (``sp_*``) are never written by ``step``/``step_in_place``: a new state shares them
with the old one, and :meth:`GenericDetector.configure` replaces them (on a copy) instead of writing.
"""

from __future__ import annotations

import functools
from abc import abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detectors.base import Batch, Detector, State, copy_state

P = TypeVar("P")
F = TypeVar("F", bound=Callable[..., Any])

#: ``last_ts`` of a sensor that has never reported
NO_TS = np.iinfo(np.int64).min
SET_POINT_PREFIX = "sp_"


def quiet_float_errors(func: F) -> F:
    """Run ``func`` with numpy float warnings off: NaN/inf inputs are expected and masked explicitly."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(all="ignore"):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def reading_steps(batch: Batch) -> list[NDArray[np.int64]]:
    """Same result as :func:`detectors.base.sequential_steps`, cheaper: built from the row runs.

    The batch is sorted by (row, ts), so each sensor's readings form a run; the k-th step holds
    ``start + k`` of every run longer than ``k``. Indices are ascending within a step, as there.
    """
    n = len(batch)
    if n == 0:
        return []
    rows = batch.rows
    new_run = np.empty(n, dtype=bool)
    new_run[0] = True
    np.not_equal(rows[1:], rows[:-1], out=new_run[1:])
    starts = np.flatnonzero(new_run)
    if starts.size == n:
        return [starts]
    lengths = np.diff(np.append(starts, n))
    steps = []
    k = 0
    while starts.size:
        steps.append(starts + k)
        k += 1
        longer = lengths > k
        starts, lengths = starts[longer], lengths[longer]
    return steps


def nan_scores(n: int) -> NDArray[np.float64]:
    return np.full(n, np.nan, dtype=np.float64)


def require_positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")


def require_fraction(name: str, value: float) -> None:
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{name} must be in (0, 1], got {value!r}")


class GenericDetector(Detector[P]):
    """Base of the generic detectors: pure ``step`` and owning ``step_in_place`` over ``_advance``."""

    #: a NaN/inf reading scores NaN and leaves the state as if it had never been sent
    skips_non_finite: ClassVar[bool] = True

    @abstractmethod
    def _advance(self, state: State, batch: Batch) -> NDArray[np.float64]:
        """Apply ``batch`` to ``state`` in place (never to ``sp_*`` columns); return the scores."""

    def step(self, state: State, batch: Batch) -> tuple[NDArray[np.float64], State]:
        self._check(state, batch)
        new = {k: v if k.startswith(SET_POINT_PREFIX) else v.copy() for k, v in state.items()}
        return self._advance(new, batch), new

    def step_in_place(self, state: State, batch: Batch) -> NDArray[np.float64]:
        """Like :meth:`step`, but writes the new state into ``state``; returns the scores."""
        self._check(state, batch)
        return self._advance(state, batch)

    def set_point_names(self) -> tuple[str, ...]:
        return tuple(k for k in self.init_state(1) if k.startswith(SET_POINT_PREFIX))

    def configure(self, state: State, rows: ArrayLike, **set_points: ArrayLike) -> State:
        """A new state in which ``rows`` carry the given set points (others and the input unchanged).

        Keys are set-point names with or without the ``sp_`` prefix (``tolerance=`` or
        ``sp_tolerance=``); each value broadcasts to ``(len(rows),) + column.shape[1:]``; NaN turns a
        set point off. Typical use: the registry's ``params`` JSON of each sensor, at load time.
        """
        idx = np.asarray(rows, dtype=np.int64).reshape(-1)
        cap = self.capacity(state)
        if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= cap):
            raise IndexError(f"{self.name}: rows out of range for capacity {cap}")
        new = copy_state(state)
        for key, value in set_points.items():
            col = key if key.startswith(SET_POINT_PREFIX) else SET_POINT_PREFIX + key
            if col not in new:
                raise KeyError(f"{self.name}: no set point {key!r}; known: {self.set_point_names()}")
            target = new[col]
            new[col][idx] = np.broadcast_to(
                np.asarray(value, dtype=target.dtype), (idx.size, *target.shape[1:])
            )
        return new

    def _check(self, state: Mapping[str, np.ndarray], batch: Batch) -> None:
        want = 1 + (1 if self.channels else 0)
        if batch.values.ndim != want:
            raise ValueError(f"{self.name}: values must be {want}-D, got shape {batch.values.shape}")
        if len(batch) and int(batch.rows.max()) >= self.capacity(state):
            raise IndexError(
                f"{self.name}: row {int(batch.rows.max())} beyond capacity {self.capacity(state)}; grow first"
            )
