"""The level policy of the domain rules: per-level set points, persistence and hysteresis.

Scores and decisions are separate (design.md §5): a rule computes its physical measure (gas %LEL, rain
sums, speed ratio, tangent angle, pressure-drop rate) and this policy turns it into one of the levels
``normal < blue < yellow < orange < red`` (0..4, :class:`riskstream.schemas.Level`).

For each level k = 1..4 a rule supplies, per reading, the measure compared at that level (``measure[:, k-1]``;
rainfall compares a different trailing sum per level) and, per sensor, a set point and a clear point
(NaN = the level is not used by that rule). The latch then applies, one reading per sensor at a time:

* **persistence** - a level is *raised* once ``sustain`` consecutive readings had ``measure ≥ set point``
  (and the optional ``gate``, e.g. "rising" for the gas red level);
* **hysteresis** - a level the sensor is already at (or above) is *held* while ``measure ≥ clear point``.
  When it is left, the sensor falls to the highest lower level it still holds, so an alarm steps down
  through the levels whose clear points it is still above.

``new level = max(highest raised level, highest held level ≤ current level)``.

A reading flagged invalid (non-finite input) changes nothing: same level, same run counters.
"At or above" allows a relative slack of :data:`SET_POINT_RTOL` (1e-9), so a measure that equals a
decimal set point up to floating-point rounding (a ratio 2.45 / 1.75, a sum of 0.1 mm tips) counts as
reaching it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from detectors.base import State
from detectors.rows import put_rows, take_rows

#: number of warning levels above normal: blue, yellow, orange, red
N_LEVELS = 4
_RUN_CAP = np.int32(1 << 30)
#: relative tolerance of set-point comparisons (floating-point noise, far below any sensor resolution)
SET_POINT_RTOL = 1e-9


@dataclass(frozen=True, slots=True)
class LevelThresholds:
    """Per-reading thresholds of the latch: ``(m, 4)`` set and clear points, ``(m,)`` sustain counts."""

    set_points: NDArray[np.float64]
    clear_points: NDArray[np.float64]
    sustain: NDArray[np.float64]

    def take(self, index: NDArray[np.int64]) -> LevelThresholds:
        return LevelThresholds(self.set_points[index], self.clear_points[index], self.sustain[index])


def _tolerance(points: NDArray[np.float64]) -> NDArray[np.float64]:
    """Slack for "at or above": decimal set points (1.4 × 1.75 m/s, 0.1 mm rain tips) then hit exactly."""
    return SET_POINT_RTOL * np.maximum(np.abs(points), 1.0)


#: highest set bit (1..4) of a 4-bit code, 0 for none
_HIGHEST_OF_CODE = np.array([0 if c == 0 else int(c).bit_length() for c in range(16)], dtype=np.int8)


def highest_level(hit: NDArray[np.bool_]) -> NDArray[np.int8]:
    """Highest level k (1..4) whose column is True, 0 when none (NaN thresholds never hit).

    The four booleans of a row are read as one little-endian 32-bit word (one byte per level) and
    folded into a 4-bit code, instead of a slow row-wise reduction over 4 columns.
    """
    if hit.shape[0] == 0:
        return np.zeros(0, dtype=np.int8)
    return _highest_of_words(_level_words(hit))


def _level_words(hit: NDArray[np.bool_]) -> NDArray[np.uint32]:
    """The ``(m, 4)`` booleans as ``m`` little-endian 32-bit words, byte k - 1 for level k."""
    return np.ascontiguousarray(hit, dtype=np.bool_).view("<u4").reshape(-1)


def _highest_of_words(word: NDArray[np.uint32]) -> NDArray[np.int8]:
    code = word & np.uint32(1)
    code |= (word >> np.uint32(7)) & np.uint32(2)
    code |= (word >> np.uint32(14)) & np.uint32(4)
    code |= (word >> np.uint32(21)) & np.uint32(8)
    return _HIGHEST_OF_CODE[code]


#: per current level (any int8, indexed by its byte), the level bytes at or below it as a 32-bit mask:
#: ``word & _AT_OR_BELOW[level]`` keeps level k's byte where ``level >= k``
_AT_OR_BELOW = np.array(
    [
        sum(1 << (8 * (k - 1)) for k in range(1, N_LEVELS + 1) if level >= k)
        for level in np.arange(256, dtype=np.uint8).view(np.int8).tolist()
    ],
    dtype=np.uint32,
)


class LevelLatch:
    """Persistence + hysteresis level policy; its state lives under ``lv_*`` keys in a rule's state."""

    LEVEL = "lv_level"
    RUN = "lv_run"

    @staticmethod
    def init_state(capacity: int) -> State:
        return {
            LevelLatch.LEVEL: np.zeros(capacity, dtype=np.int8),
            LevelLatch.RUN: np.zeros((capacity, N_LEVELS), dtype=np.int32),
        }

    @staticmethod
    def apply_step(
        state: State,
        rows: NDArray[np.int32],
        measure: NDArray[np.float64],
        thresholds: LevelThresholds,
        valid: NDArray[np.bool_],
        gate: NDArray[np.bool_] | None = None,
    ) -> NDArray[np.int8]:
        """Levels of one step (at most one reading per sensor); updates ``state`` (a copy the caller owns)."""
        current = state[LevelLatch.LEVEL][rows]
        run = take_rows(state[LevelLatch.RUN], rows)
        with np.errstate(invalid="ignore"):
            over = measure >= _lowered(thresholds.set_points)
            holds = measure >= _lowered(thresholds.clear_points)
        if gate is not None:
            over &= gate
        new_run = run + np.int32(1)
        np.minimum(new_run, _RUN_CAP, out=new_run)
        new_run *= over
        raised = highest_level(new_run >= thresholds.sustain[:, None])
        held = _level_words(holds) & _AT_OR_BELOW[current.view(np.uint8)]  # only levels it is at or above
        level = np.maximum(raised, _highest_of_words(held))
        if not valid.all():  # an invalid reading keeps the level and the runs
            level = np.where(valid, level, current).astype(np.int8)
            new_run = np.where(valid[:, None], new_run, run)
        state[LevelLatch.LEVEL][rows] = level
        put_rows(state[LevelLatch.RUN], rows, new_run)
        return level


def _lowered(points: NDArray[np.float64]) -> NDArray[np.float64]:
    """``points`` minus the "at or above" slack (:func:`_tolerance`), in one pass where possible."""
    points = np.asarray(points, dtype=np.float64)
    slack = np.abs(points)
    np.maximum(slack, 1.0, out=slack)
    slack *= -SET_POINT_RTOL
    slack += points
    return slack
