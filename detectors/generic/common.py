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
from dataclasses import dataclass
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


_NO_INDEX = np.empty(0, dtype=np.intp)


@dataclass(frozen=True, slots=True)
class Runs:
    """The runs of a row column sorted by row: each sensor's readings are consecutive.

    ``starts[j]`` is the index of run ``j``'s first reading, ``lengths[j]`` its number of readings and
    ``rows[j]`` its sensor row; runs are in row order, so ``rows`` is strictly increasing. The readings
    that are not the first of their run are ``later`` (ascending), each the ``k``-th (``k >= 1``) of
    run ``run_of_later``: built from the repeats alone, so cheap when most sensors report once.
    """

    starts: NDArray[np.intp]
    lengths: NDArray[np.intp]
    rows: NDArray[np.int32]
    readings: int
    later: NDArray[np.intp]
    k: NDArray[np.intp]
    run_of_later: NDArray[np.intp]

    @classmethod
    def of(cls, rows: NDArray[np.int32]) -> Runs:
        n = int(rows.size)
        if n == 0:
            return cls(_NO_INDEX, _NO_INDEX, rows[:0], 0, _NO_INDEX, _NO_INDEX, _NO_INDEX)
        same = np.equal(rows[1:], rows[:-1])
        later = np.flatnonzero(same)
        if later.size == 0:  # at most one reading per sensor
            ones = np.ones(n, dtype=np.intp)
            return cls(np.arange(n, dtype=np.intp), ones, rows, n, _NO_INDEX, _NO_INDEX, _NO_INDEX)
        later += 1
        np.logical_not(same, out=same)
        starts = np.empty(n - later.size, dtype=np.intp)
        starts[0] = 0
        starts[1:] = np.flatnonzero(same)
        starts[1:] += 1
        lengths = np.empty_like(starts)
        np.subtract(starts[1:], starts[:-1], out=lengths[:-1])
        lengths[-1] = n - starts[-1]
        run_of_later = np.repeat(np.arange(starts.size, dtype=np.intp), lengths - 1)
        return cls(starts, lengths, rows[starts], n, later, later - starts[run_of_later], run_of_later)

    def __len__(self) -> int:
        return int(self.starts.size)

    @property
    def all_single(self) -> bool:
        """True when no sensor has more than one reading."""
        return self.later.size == 0

    def occurrence(self) -> NDArray[np.intp]:
        """For each reading, how many readings of its run precede it (``Batch.occurrence``)."""
        occurrence = np.zeros(self.readings, dtype=np.intp)
        occurrence[self.later] = self.k
        return occurrence


#: ``step(k, x, columns, out)``: apply the ``k``-th reading ``x`` of the first ``x.size`` runs to the
#: compact state ``columns`` (in place) and write their scores into ``out``
StepFunction = Callable[[int, NDArray[np.float64], list[NDArray[Any]], NDArray[np.float64]], None]


@dataclass(frozen=True, slots=True)
class StepGrid:
    """A batch laid out for a per-reading recurrence, so that a step works on slices, not gathers.

    Per-sensor state is gathered once per batch into compact arrays (one entry per run, in row order)
    and scattered back once. Step 0 (every run's first reading) works on the whole compact arrays.
    The later readings (``k >= 1``) belong to the runs with several readings (``multi``), ordered
    longest first: the runs that still have a ``k``-th reading are then the first ``widths[k - 1]``
    of them, and their values and scores live in a ``(len(widths), multi.size)`` grid (flattened)
    where later reading ``later[i]`` is cell ``cells[i]``. Only the multi runs are sorted, so a batch
    in which most sensors report once (many sensors) costs little more than one vectorised step.
    """

    runs: Runs
    multi: NDArray[np.intp]
    widths: tuple[int, ...]
    later: NDArray[np.intp]
    cells: NDArray[np.intp]

    @classmethod
    def of(cls, rows: NDArray[np.int32]) -> StepGrid:
        runs = Runs.of(rows)
        if runs.all_single:
            none = np.empty(0, dtype=np.intp)
            return cls(runs, none, (), none, none)
        multi = runs.run_of_later[runs.k == 1]  # runs with several readings, row order
        multi_len = runs.lengths[multi]
        longest = int(multi_len.max())
        key = (longest - multi_len).astype(np.uint16 if longest < 2**16 else np.int64)
        order = np.argsort(key, kind="stable")  # longest first
        multi, multi_len = multi[order], multi_len[order]
        m = multi.size
        runs_by_length = np.bincount(multi_len, minlength=longest + 1)
        widths = m - np.cumsum(runs_by_length)[1:longest]  # runs longer than k, for k = 1 .. longest - 1
        slot = np.empty(runs.starts.size, dtype=np.intp)  # sorted position of each multi run
        slot[multi] = np.arange(m, dtype=np.intp)
        later = runs.later
        cells = runs.k - 1
        cells *= m
        cells += slot[runs.run_of_later]
        return cls(runs, multi, tuple(widths.tolist()), later, cells)

    @property
    def rows(self) -> NDArray[np.int32]:
        """The sensor row of each compact entry (each run), in row order."""
        return self.runs.rows

    def gather(self, state: State, keys: tuple[str, ...]) -> list[NDArray[Any]]:
        """Compact copies of the state columns ``keys`` for this batch's sensors."""
        return [np.take(state[key], self.runs.rows) for key in keys]

    def scatter(self, state: State, keys: tuple[str, ...], columns: list[NDArray[Any]]) -> None:
        """Write the compact ``columns`` back into ``state`` (in place)."""
        for key, col in zip(keys, columns, strict=True):
            state[key][self.runs.rows] = col

    def scan(
        self, values: NDArray[np.float64], columns: list[NDArray[Any]], step: StepFunction
    ) -> NDArray[np.float64]:
        """Run ``step`` over every reading in per-sensor order; scores in batch order."""
        runs = self.runs
        if runs.all_single:
            scores = np.empty(values.size)
            step(0, values, columns, scores)
            return scores
        scores = np.empty(values.size)
        first = np.empty(len(runs))
        step(0, values[runs.starts], columns, first)
        scores[runs.starts] = first
        m = self.multi.size
        sub = [col[self.multi] for col in columns]
        x = np.empty(len(self.widths) * m)
        x[self.cells] = values[self.later]
        z = np.empty_like(x)
        for k, width in enumerate(self.widths, start=1):
            cells = slice((k - 1) * m, (k - 1) * m + width)
            step(k, x[cells], [col[:width] for col in sub], z[cells])
        for col, part in zip(columns, sub, strict=True):
            col[self.multi] = part
        scores[self.later] = z[self.cells]
        return scores


def finite_part(
    batch: Batch,
) -> tuple[slice | NDArray[np.intp], NDArray[np.int32], NDArray[np.float64]] | None:
    """The finite readings of a single-channel batch as ``(index, rows, values)``; None if there are none.

    ``index`` selects them in the batch (a slice when all are finite); the sub-batch stays sorted.
    """
    values = batch.values
    if values.size == 0:
        return None
    finite = np.isfinite(values)
    if finite.all():
        return slice(None), batch.rows, values
    index = np.flatnonzero(finite)
    if index.size == 0:
        return None
    return index, batch.rows[index], values[index]


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
